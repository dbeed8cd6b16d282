// The domain services every API and worker uses, built once per process.
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import { createDefinitionService } from './definitionService.js';

export interface ServiceDeps {
  db: Db;
  bus: EventBus;
  config: Config;
  logger: Logger;
}

export function createServices(deps: ServiceDeps) {
  return {
    definitions: createDefinitionService(deps),
  };
}

export type Services = ReturnType<typeof createServices>;
