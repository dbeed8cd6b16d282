// run_logs: dense `seq` per run. The collector that holds a run's log lease is its only
// writer; it appends chunks and moves the engine cursor in the same transaction.
import { and, asc, eq, gt, lt, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/client.js';
import { runEvents, runLogs, runs, type RunLogRow } from '../db/schema.js';
import type { NewRunEvent } from './runEvents.js';

export interface NewLogChunk {
  stream: string;
  text: string;
  at: Date;
}

export async function lastLogSeq(db: DbOrTx, runId: string): Promise<number> {
  const [row] = await db
    .select({ seq: sql<number | null>`max(${runLogs.seq})` })
    .from(runLogs)
    .where(eq(runLogs.runId, runId));
  return Number(row?.seq ?? 0);
}

/**
 * Postgres text cannot hold a NUL character, and one would fail the whole insert. Output is
 * bytes; engines decode it as UTF-8 (invalid sequences become U+FFFD), and a NUL becomes
 * U+FFFD here, the one place that writes log text. This is not input validation (that refuses
 * such text: domain/validation.ts): a job's output is kept, with the NUL replaced.
 */
export function replaceNulInLogText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/**
 * Appends chunks after `afterSeq` and stores the engine cursor, only while `workerId` holds
 * the run's log lease. Returns the inserted rows, or undefined when the lease was lost
 * (nothing is written then).
 */
export async function appendLogChunks(
  db: Db,
  runId: string,
  workerId: string,
  afterSeq: number,
  chunks: NewLogChunk[],
  cursor: string | null,
  leaseMs: number,
  events: NewRunEvent[] = [],
): Promise<RunLogRow[] | undefined> {
  return db.transaction(async (tx) => {
    const held = await tx
      .update(runs)
      .set({ logCursor: cursor, logClaimExpiresAt: new Date(Date.now() + leaseMs) })
      .where(and(eq(runs.runId, runId), eq(runs.logClaimedBy, workerId)))
      .returning({ id: runs.runId });
    if (held.length === 0) return undefined;
    if (events.length > 0) {
      await tx
        .insert(runEvents)
        .values(events.map((e) => ({ runId: e.runId, kind: e.kind, at: e.at ?? new Date(), reason: e.reason ?? null, detail: e.detail ?? {} })));
    }
    if (chunks.length === 0) return [];
    return tx
      .insert(runLogs)
      .values(chunks.map((c, i) => ({ runId, seq: afterSeq + i + 1, stream: c.stream, text: replaceNulInLogText(c.text), at: c.at })))
      .returning();
  });
}

/** Chunks after `afterSeq`, in order, up to about `maxBytes` of text (at least one chunk). */
export async function readLogChunks(db: DbOrTx, runId: string, afterSeq: number, maxBytes: number, maxRows = 1000): Promise<RunLogRow[]> {
  const rows = await db
    .select()
    .from(runLogs)
    .where(and(eq(runLogs.runId, runId), gt(runLogs.seq, afterSeq)))
    .orderBy(asc(runLogs.seq))
    .limit(maxRows);
  const out: RunLogRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(row.text);
    if (out.length > 0 && bytes + size > maxBytes) break;
    out.push(row);
    bytes += size;
  }
  return out;
}

/** Deletes log chunks older than `before`; returns how many. */
export async function deleteLogsBefore(db: DbOrTx, before: Date): Promise<number> {
  const rows = await db.delete(runLogs).where(lt(runLogs.at, before)).returning({ seq: runLogs.seq });
  return rows.length;
}
