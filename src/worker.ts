// `flotilla worker`: the background loops against Postgres + Redis and the engines.
import { ConfigError, WORKER_NAMES, loadConfig, type WorkerName } from './config.js';
import { createLogger } from './logger.js';
import { openRuntime, type Runtime } from './runtime.js';
import { installShutdown } from './signals.js';
import { newWorkerId } from './workers/context.js';
import { startWorkers, type Workers } from './workers/index.js';
import { listenHealth } from './api/health.js';

export function parseWorkerList(list: string | undefined, fallback: WorkerName[]): WorkerName[] {
  if (!list) return fallback;
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!(WORKER_NAMES as readonly string[]).includes(n)) throw new ConfigError(`--workers: unknown worker "${n}"; use ${WORKER_NAMES.join(', ')}`);
  }
  return names as WorkerName[];
}

/** Starts the loops on an open runtime (shared by `worker` and `dev`). */
export function runWorkers(runtime: Runtime, enabled: readonly WorkerName[]): Workers {
  const workers = startWorkers(
    {
      workerId: newWorkerId(),
      db: runtime.database.db,
      bus: runtime.bus,
      config: runtime.config,
      logger: runtime.logger.child({ component: 'workers' }),
      updates: runtime.services.runUpdates,
      engines: runtime.engines,
      activity: runtime.services.activity,
    },
    enabled,
  );
  // /metrics exports what each loop reports about itself.
  runtime.metrics.trackLoops(() => workers.status());
  return workers;
}

export async function worker(opts: { workers?: string } = {}, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env, 'worker');
  if (config.embedded) {
    throw new ConfigError(
      'flotilla worker needs a shared database: the embedded PGlite database can only be used by one process.\n' +
        'Set DATABASE_URL=postgres://… (and REDIS_URL) for separate workers, or run `flotilla dev`, which runs the workers inside the API process.',
    );
  }
  const logger = createLogger(config.logLevel, { role: 'worker' });
  const enabled = parseWorkerList(opts.workers, config.workers.enabled);
  const shutdown = installShutdown(logger, config.shutdownTimeoutMs);
  const runtime = await openRuntime(config, logger);
  shutdown.add(() => runtime.close());
  // Listen before claiming anything, so a port already in use fails with no run held.
  const port = config.workers.metricsPort;
  let workers: Workers | undefined;
  const loops = () => workers?.status() ?? [];
  const health =
    port === undefined
      ? undefined
      : await listenHealth(
          { db: runtime.database.db, bus: runtime.bus, checkRedis: Boolean(config.redisUrl), metrics: runtime.metrics, loops },
          config.host,
          port,
        ).catch(async (err: unknown) => {
          await runtime.close();
          throw new ConfigError(
            `WORKER_METRICS_PORT=${port}: cannot listen on ${config.host}:${port} (${(err as Error).message}); pick a free port or unset it`,
          );
        });
  if (health) logger.info({ url: health.url }, 'worker metrics and health listening');
  if (health) shutdown.add(() => health.close());
  const started = (workers = runWorkers(runtime, enabled));
  shutdown.add(() => started.stop());
}
