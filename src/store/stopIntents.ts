// Stop intents (runs.stop_requested_at / stop_confirmed_at): the stop and timeOut moves set
// one in the same transaction as the status; the sweep loop leases the unconfirmed ones and
// confirms each once the engine says the job is gone (domain/runUpdates.ts).
import { and, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/client.js';
import { runEvents, runs, type RunRow } from '../db/schema.js';
import { leaseRuns } from './runs.js';

/**
 * Leases up to `limit` runs whose stop intent is not yet confirmed (the API instance that
 * stopped them may have died before terminating). A failed attempt keeps the lease until it
 * expires, which is the backoff before the next try.
 */
export async function claimStopIntents(db: DbOrTx, workerId: string, engines: readonly RunRow['engine'][], limit: number, leaseMs: number): Promise<RunRow[]> {
  return leaseRuns(db, {
    lease: 'claim',
    workerId,
    leaseMs,
    engines,
    limit,
    where: sql`stop_requested_at is not null and stop_confirmed_at is null and (claim_expires_at is null or claim_expires_at < now())`,
    orderBy: sql`stop_requested_at`,
  });
}

/** Records that a stop intent is done; with `event`, the run's timeline says so. */
export async function confirmStop(db: Db, runId: string, event: { reason: string; detail: Record<string, unknown> } | null): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(runs)
      .set({ stopConfirmedAt: new Date(), claimedBy: null, claimExpiresAt: null })
      .where(and(eq(runs.runId, runId), isNotNull(runs.stopRequestedAt), isNull(runs.stopConfirmedAt)))
      .returning({ id: runs.runId });
    if (!row) return false;
    if (event) await tx.insert(runEvents).values({ runId, kind: 'stop', reason: event.reason, detail: event.detail });
    return true;
  });
}
