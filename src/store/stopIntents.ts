// Stop intents (runs.stop_requested_at / stop_confirmed_at): the stop and timeOut moves set
// one in the same transaction as the status; the sweep loop leases the unconfirmed ones and
// confirms each once the engine says the job is gone (domain/runUpdates.ts).
import { and, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/client.js';
import { runEvents, runs, type RunRow } from '../db/schema.js';
import { getRunsByIds, rowsOf } from './runs.js';

/**
 * Leases up to `limit` runs whose stop intent is not yet confirmed (the API instance that
 * stopped them may have died before terminating). A failed attempt keeps the lease until it
 * expires, which is the backoff before the next try.
 */
export async function claimStopIntents(db: DbOrTx, workerId: string, engines: readonly RunRow['engine'][], limit: number, leaseMs: number): Promise<RunRow[]> {
  if (engines.length === 0) return [];
  const rows = await db.execute<{ run_id: string }>(sql`
    update ${runs} set claimed_by = ${workerId}, claim_expires_at = now() + ${leaseMs} * interval '1 millisecond'
    where run_id in (
      select run_id from ${runs}
      where stop_requested_at is not null and stop_confirmed_at is null
        and (claim_expires_at is null or claim_expires_at < now())
        and ${inArray(runs.engine, [...engines])}
      order by stop_requested_at
      limit ${limit}
      for update skip locked
    )
    returning run_id`);
  return getRunsByIds(
    db,
    rowsOf<{ run_id: string }>(rows).map((r) => r.run_id),
  );
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
