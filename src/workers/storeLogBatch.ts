// Stores one batch of a run's output so that no chunk can block the chunks after it.
// Whatever happens, each row given is stored at its own seq: one row per seq, never split or
// merged, because the collector publishes the rows to live followers with those seqs once
// this returns (docs/architecture.md "Live logs"), and what a follower gets live must be
// what Postgres holds.
// A database that is away (connection cut, restart) is not the chunk's fault: the store is
// tried again a few times in place (same rows, same seqs), then the error goes up and the
// collector resumes later from the last stored cursor. An error about the data itself
// (SQLSTATE classes other than connection/resource/operator ones) is retried a bounded
// number of times; then each row is stored on its own, and in a row the database still
// refuses, each line it refuses (found in savepoints of a transaction that is rolled back)
// is replaced by a marker line, with a `warning` event on the run's timeline.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/client.js';
import type { RunLogRow } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { runLogs } from '../db/schema.js';
import { appendLogChunks, lastLogSeq, replaceNulInLogText, type NewLogChunk } from '../store/runLogs.js';

export const MAX_STORE_TRIES = 3;
const RETRY_MS = [100, 500];

export class LeaseLost extends Error {}

/** SQLSTATE classes that say "the server or the connection", not "this data". */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '57', '58', 'XX']);

function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** True when the database refused this data (it would refuse it again), not when it was unreachable. */
export function isDataError(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && !TRANSIENT_CLASSES.has(state.slice(0, 2));
}

function message(err: unknown): string {
  let e: unknown = err;
  while ((e as { cause?: unknown }).cause) e = (e as { cause?: unknown }).cause;
  return (e as Error).message ?? String(e);
}

export interface BatchTarget {
  db: Db;
  runId: string;
  workerId: string;
  leaseMs: number;
  logger: Logger;
}

/** How often, and after how long, a store the database did not answer is tried again in place. */
const TRANSIENT_RETRY_MS = [50, 200, 1000];

/**
 * Stores `rows` at seqs `afterSeq + 1 …` with `cursor`; returns what was stored: one row per
 * row given, in order (a refused line replaced by a marker).
 */
export async function storeLogBatch(
  t: BatchTarget,
  afterSeq: number,
  rows: NewLogChunk[],
  cursor: string,
  previousCursor: string | null,
): Promise<RunLogRow[]> {
  const append = appendLogChunks;
  let lastError: unknown;
  let dataTries = 0;
  for (let transientTries = 0; ;) {
    try {
      const inserted = await append(t.db, t.runId, t.workerId, afterSeq, rows, cursor, t.leaseMs);
      if (!inserted) throw new LeaseLost(`log lease on ${t.runId} lost`);
      return inserted;
    } catch (err) {
      if (err instanceof LeaseLost) throw err;
      if (!isDataError(err)) {
        // The commit may have happened with only its answer lost: then the rows are there.
        const wait = TRANSIENT_RETRY_MS[transientTries++];
        if (wait === undefined) throw err;
        await sleep(wait);
        const stored = await lastLogSeq(t.db, t.runId).catch(() => undefined);
        if (stored !== undefined && stored >= afterSeq + rows.length) return [];
        continue;
      }
      lastError = err;
      if (++dataTries >= MAX_STORE_TRIES) break;
      await sleep(RETRY_MS[dataTries - 1] ?? 500);
    }
  }
  t.logger.warn({ err: lastError, runId: t.runId, rows: rows.length }, 'a log batch could not be stored; storing it row by row');
  // Row by row: only the last row moves the cursor, so a collector that dies half-way
  // re-reads from the old one.
  const out: RunLogRow[] = [];
  for (const [i, row] of rows.entries()) {
    const seq = afterSeq + i;
    const rowCursor = i === rows.length - 1 ? cursor : previousCursor;
    let inserted: RunLogRow[] | undefined;
    try {
      inserted = await append(t.db, t.runId, t.workerId, seq, [row], rowCursor, t.leaseMs);
    } catch (err) {
      if (!isDataError(err)) throw err;
      const { text, refused } = await withoutRefusedLines(t, seq + 1, row, err);
      const events = refused.map(({ reason, bytes }) => ({ runId: t.runId, kind: 'warning', reason, detail: { stream: row.stream, bytes, seq: seq + 1 } }));
      try {
        inserted = await append(t.db, t.runId, t.workerId, seq, [{ ...row, text }], rowCursor, t.leaseMs, events);
      } catch (again) {
        if (!isDataError(again)) throw again;
        // The row is refused even without those lines: a marker takes its place.
        const reason = `${Buffer.byteLength(row.text)} bytes of ${row.stream} could not be stored after ${MAX_STORE_TRIES} tries: ${message(again)}`;
        inserted = await append(t.db, t.runId, t.workerId, seq, [{ ...row, text: `[flotilla: ${reason}]\n` }], rowCursor, t.leaseMs, [
          { runId: t.runId, kind: 'warning', reason, detail: { stream: row.stream, bytes: Buffer.byteLength(row.text), seq: seq + 1 } },
        ]);
      }
    }
    if (!inserted) throw new LeaseLost(`log lease on ${t.runId} lost`);
    out.push(...inserted);
  }
  return out;
}

class Probe extends Error {}

/**
 * The row's text with each line the database refuses replaced by a marker line, and the
 * reasons. Each line is inserted in a savepoint of a transaction that is always rolled
 * back, so probing stores nothing. A row of more than `max` lines is judged whole.
 */
async function withoutRefusedLines(
  t: BatchTarget,
  seq: number,
  row: NewLogChunk,
  rowError: unknown,
  max = 256,
): Promise<{ text: string; refused: { reason: string; bytes: number }[] }> {
  const found = row.text.match(/[^\n]*\n|[^\n]+$/g) ?? [row.text];
  const lines = found.length > max ? [row.text] : found;
  const verdicts: unknown[] = [];
  if (lines.length === 1) verdicts.push(rowError);
  else {
    await t.db
      .transaction(async (tx) => {
        for (const line of lines) {
          try {
            await tx.transaction(async (sp) => {
              await sp.insert(runLogs).values({ runId: t.runId, seq, stream: row.stream, text: replaceNulInLogText(line), at: row.at });
              throw new Probe();
            });
          } catch (err) {
            if (!(err instanceof Probe) && !isDataError(err)) throw err;
            verdicts.push(err instanceof Probe ? undefined : err);
          }
        }
        throw new Probe();
      })
      .catch((err: unknown) => {
        if (!(err instanceof Probe)) throw err;
      });
  }
  const refused: { reason: string; bytes: number }[] = [];
  const text = lines
    .map((line, i) => {
      const err = verdicts[i];
      if (err === undefined) return line;
      const bytes = Buffer.byteLength(line);
      const reason = `${bytes} bytes of ${row.stream} could not be stored after ${MAX_STORE_TRIES} tries: ${message(err)}`;
      refused.push({ reason, bytes });
      return `[flotilla: ${reason}]\n`;
    })
    .join('');
  return { text, refused };
}
