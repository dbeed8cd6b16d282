// Stores one batch of a run's output so that no chunk can block the chunks after it.
// A database that is away (connection cut, restart) is not the chunk's fault: the error goes
// up and the collector resumes later from the last stored cursor, losing nothing. An error
// about the data itself (SQLSTATE classes other than connection/resource/operator ones) is
// retried a bounded number of times; then each line is tried on its own and a line that
// still fails is replaced by a marker line, with a `warning` event on the run's timeline.
import type { Db } from '../db/client.js';
import type { RunLogRow } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { appendLogChunks, type NewLogChunk } from '../store/runLogs.js';

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

/** Stores `rows` after `afterSeq` with `cursor`; returns what was inserted (markers included). */
export async function storeLogBatch(
  t: BatchTarget,
  afterSeq: number,
  rows: NewLogChunk[],
  cursor: string,
  previousCursor: string | null,
): Promise<RunLogRow[]> {
  const append = appendLogChunks;
  let lastError: unknown;
  for (let attempt = 1; attempt <= MAX_STORE_TRIES; attempt++) {
    try {
      const inserted = await append(t.db, t.runId, t.workerId, afterSeq, rows, cursor, t.leaseMs);
      if (!inserted) throw new LeaseLost(`log lease on ${t.runId} lost`);
      return inserted;
    } catch (err) {
      if (!isDataError(err)) throw err;
      lastError = err;
      const wait = RETRY_MS[attempt - 1];
      if (wait !== undefined && attempt < MAX_STORE_TRIES) await new Promise((r) => setTimeout(r, wait));
    }
  }
  t.logger.warn({ err: lastError, runId: t.runId, rows: rows.length }, 'a log batch could not be stored; storing it line by line');
  // Line by line: the lines the database takes are kept, the others become markers. Only
  // the last piece moves the cursor, so a collector that dies half-way re-reads from the
  // old one.
  const pieces = rows.flatMap((row) => splitLines(row));
  const out: RunLogRow[] = [];
  let seq = afterSeq;
  for (const [i, piece] of pieces.entries()) {
    const pieceCursor = i === pieces.length - 1 ? cursor : previousCursor;
    let inserted: RunLogRow[] | undefined;
    try {
      inserted = await append(t.db, t.runId, t.workerId, seq, [piece], pieceCursor, t.leaseMs);
    } catch (err) {
      if (!isDataError(err)) throw err;
      const bytes = Buffer.byteLength(piece.text);
      const reason = `${bytes} bytes of ${piece.stream} could not be stored after ${MAX_STORE_TRIES} tries: ${message(err)}`;
      const marker = { stream: piece.stream, at: piece.at, text: `[flotilla: ${reason}]\n` };
      inserted = await append(t.db, t.runId, t.workerId, seq, [marker], pieceCursor, t.leaseMs, [
        { runId: t.runId, kind: 'warning', reason, detail: { stream: piece.stream, bytes, seq: seq + 1 } },
      ]);
    }
    if (!inserted) throw new LeaseLost(`log lease on ${t.runId} lost`);
    out.push(...inserted);
    seq += inserted.length;
  }
  return out;
}

/** A row's lines as separate rows, so one bad line costs only itself (a bounded number per row). */
function splitLines(row: NewLogChunk, max = 256): NewLogChunk[] {
  const lines = row.text.match(/[^\n]*\n|[^\n]+$/g) ?? [row.text];
  if (lines.length === 1 || lines.length > max) return [row];
  return lines.map((text) => ({ stream: row.stream, at: row.at, text }));
}
