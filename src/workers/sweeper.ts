// Housekeeping: runs past their deadline are terminated, expired leases released, old
// logs deleted per LOG_RETENTION_DAYS.
import { deleteLogsBefore } from '../store/runLogs.js';
import * as store from '../store/runs.js';
import type { WorkerContext } from './context.js';

const RETENTION_EVERY_MS = 60 * 60 * 1000;

export function timeoutReason(seconds: number): string {
  return `JobRun exceeded specified timeout of ${seconds} seconds`;
}

export function createSweeper(ctx: WorkerContext) {
  const { db, runs, config, logger } = ctx;
  let lastRetention = 0;
  return async function tick(): Promise<boolean> {
    // Each overdue run is marked and terminated on its own: an engine's stop grace period
    // (Docker waits for it) must not delay the others.
    await Promise.all(
      (await store.listOverdueRuns(db, 100)).map(async (run) => {
        const reason = timeoutReason(run.activeDeadlineSeconds ?? 0);
        const stopped = await runs.transition(run.runId, 'STOPPED', { exitCode: 1, exitReason: reason, finishedAt: new Date() }, reason, {
          from: ['RUNNING'],
          detail: { action: 'timeout' },
        });
        if (stopped) await runs.terminateOnEngine(stopped, reason);
      }),
    );
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
