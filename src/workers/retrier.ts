// NEEDS_RETRY runs go back to QUEUED with exponential backoff until max_attempts; then
// STOPPED with the last reason.
import * as store from '../store/runs.js';
import type { WorkerContext } from './context.js';

export function retryBackoffMs(attempt: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, attempt - 1));
}

export function createRetrier(ctx: WorkerContext) {
  const { db, runs, bus } = ctx;
  return async function tick(): Promise<boolean> {
    const batch = await store.listRunsByStatus(db, 'NEEDS_RETRY', 100);
    for (const run of batch) {
      const reason = run.lastError ?? run.exitReason ?? 'engine asked for a retry';
      // Whatever is left of the failed attempt goes first, so the next submit starts clean.
      if (run.engineRef) await runs.terminateOnEngine(run, `retrying: ${reason}`);
      // A collector still reading the failed attempt's output owns the log cursor; wait
      // until it lets go (it does once that output ends), then start the cursor afresh.
      if (run.attempt < run.maxAttempts && run.logClaimedBy && run.logClaimExpiresAt && run.logClaimExpiresAt > new Date()) continue;
      if (run.attempt >= run.maxAttempts) {
        await runs.transition(run.runId, 'STOPPED', { exitReason: reason, finishedAt: new Date() }, `gave up after ${run.attempt} attempts: ${reason}`, {
          from: ['NEEDS_RETRY'],
        });
        continue;
      }
      const moved = await runs.transition(
        run.runId,
        'QUEUED',
        {
          attempt: run.attempt + 1,
          nextAttemptAt: new Date(Date.now() + retryBackoffMs(run.attempt)),
          engineRef: null,
          podName: null,
          startedAt: null,
          exitReason: null,
          exitCode: null,
          claimedBy: null,
          claimExpiresAt: null,
          // The next attempt is a new backend object whose output starts from its beginning;
          // its chunks follow the earlier attempts' in run_logs.
          logCursor: null,
        },
        `retry ${run.attempt + 1} of ${run.maxAttempts}: ${reason}`,
        { from: ['NEEDS_RETRY'] },
      );
      if (moved) await bus.publish('runs.queued', { runId: run.runId });
    }
    return batch.length === 100;
  };
}
