// The domain services every API and worker uses, built once per process.
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { EngineRegistry } from '../engines/registry.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { createClusterService } from './clusterService.js';
import { createDefinitionService } from './definitionService.js';
import { createRunService } from './runService.js';
import { createRunUpdates } from './runUpdates.js';
import { createTemplateService } from './templateService.js';
import { createLogService } from './logService.js';
import { createLiveService } from './liveService.js';
import { createActivity } from './activity.js';

export interface ServiceDeps {
  db: Db;
  bus: EventBus;
  config: Config;
  logger: Logger;
  /** Needed to stop runs on their engine; absent only in tests that never stop a run. */
  engines?: EngineRegistry;
  /** Observes runs reaching STOPPED; absent in tests that do not look at metrics. */
  metrics?: Metrics;
}

export function createServices(deps: ServiceDeps) {
  const clusters = createClusterService(deps);
  const activity = createActivity();
  deps.metrics?.observe(activity);
  const runUpdates = createRunUpdates({ ...deps, activity });
  const runs = createRunService({ ...deps, clusters, updates: runUpdates });
  return {
    // A forced delete stops the definition's runs through the one stop path.
    definitions: createDefinitionService({ ...deps, stopRun: (runId, by) => runs.stop(runId, { by }) }),
    clusters,
    runs,
    runUpdates,
    /** What happens to runs and engine calls; the metrics listen. Worker loops report here too. */
    activity,
    templates: createTemplateService({ db: deps.db, runs }),
    logs: createLogService({ ...deps, completeWaitMs: deps.config.logCompleteWaitMs }),
    live: createLiveService(deps),
  };
}

export type Services = ReturnType<typeof createServices>;
