// NEEDS_RETRY runs go back to QUEUED with exponential backoff until max_attempts; then
// STOPPED with the last reason (the retry and giveUp moves of domain/lifecycle.ts).
import * as store from '../store/runs.js';
import type { WorkerContext } from './context.js';

export function createRetrier(ctx: WorkerContext) {
  const { db, updates } = ctx;
  return async function tick(): Promise<boolean> {
    const batch = await store.listRunsByStatus(db, 'NEEDS_RETRY', 100);
    for (const run of batch) {
      const reason = run.lastError ?? run.exitReason ?? 'engine asked for a retry';
      // Whatever is left of the failed attempt goes first, so the next submit starts clean.
      if (run.engineRef) await updates.terminateOnEngine(run, `retrying: ${reason}`);
      // A collector still reading the failed attempt's output owns the log cursor; wait
      // until it lets go (it does once that output ends), then start the cursor afresh.
      if (run.attempt < run.maxAttempts && run.logClaimedBy && run.logClaimExpiresAt && run.logClaimExpiresAt > new Date()) continue;
      if (run.attempt >= run.maxAttempts) await updates.giveUp(run, reason);
      else await updates.retry(run, reason);
    }
    return batch.length === 100;
  };
}
