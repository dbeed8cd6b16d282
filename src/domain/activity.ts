// What happens to runs and engine calls, as typed events: the run service and the worker
// loops say what happened, and whoever cares (metrics.ts) listens, instead of each place
// calling the metrics itself.
import { EventEmitter } from 'node:events';
import type { RunRow } from '../db/schema.js';

/** Where an engine call failed. */
export type EngineOperation = 'submit' | 'reconcile' | 'logs' | 'terminate';

export interface ActivityEvents {
  /** A run left QUEUED for its engine (the submit loop). */
  dispatched: [run: RunRow];
  /** A run reached STOPPED. */
  stopped: [run: RunRow];
  engineError: [engine: string, operation: EngineOperation, err: unknown];
  logsCollected: [engine: string, chunks: readonly { text: string }[]];
}

export type Activity = EventEmitter<ActivityEvents>;

export function createActivity(): Activity {
  return new EventEmitter<ActivityEvents>();
}
