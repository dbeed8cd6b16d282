// Housekeeping: runs past their deadline are stopped (the timeOut move), stop intents left
// unconfirmed are carried out again until the engine confirms, expired leases released,
// old logs deleted per LOG_RETENTION_DAYS.
import { deleteLogsBefore } from '../store/runLogs.js';
import * as store from '../store/runs.js';
import type { WorkerContext } from './context.js';

const RETENTION_EVERY_MS = 60 * 60 * 1000;
const BATCH = 100;

export function createSweeper(ctx: WorkerContext) {
  const { db, updates, config, logger, engines, workerId } = ctx;
  let lastRetention = 0;
  return async function tick(): Promise<boolean> {
    // Each overdue run is marked and terminated on its own: an engine's stop grace period
    // (Docker waits for it) must not delay the others.
    await Promise.all((await store.listOverdueRuns(db, BATCH)).map((run) => updates.timeOut(run)));
    // A stop whose API instance died after the commit, or whose terminate failed, is
    // retried here; a lease that has not expired is the backoff between tries.
    const stops = await updates.carryOutStops(workerId, engines.names(), BATCH, config.workers.leaseMs);
    if (stops) logger.info({ stops }, 'carried out stop intents');
    const released = await store.releaseExpiredClaims(db);
    if (released) logger.info({ released }, 'released expired leases');
    if (config.logRetentionDays > 0 && Date.now() - lastRetention > RETENTION_EVERY_MS) {
      lastRetention = Date.now();
      const deleted = await deleteLogsBefore(db, new Date(Date.now() - config.logRetentionDays * 86_400_000));
      if (deleted) logger.info({ deleted }, 'deleted log chunks past retention');
    }
    return false;
  };
}
