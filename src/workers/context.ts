import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { RunUpdates } from '../domain/runUpdates.js';
import type { EngineRegistry } from '../engines/registry.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { Activity } from '../domain/activity.js';

/** What every worker loop is given. */
export interface WorkerContext {
  workerId: string;
  db: Db;
  bus: EventBus;
  config: Config;
  logger: Logger;
  /** Every status move a worker makes goes through these verbs. */
  updates: RunUpdates;
  engines: EngineRegistry;
  /**
   * Where the loops report dispatches, engine errors and collected log lines (the metrics
   * listen there: services.activity). Absent: a fresh one nobody listens to.
   */
  activity?: Activity;
}

export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
