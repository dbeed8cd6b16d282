// One collector per running run: follows the engine's output, batches lines (every 50 ms or
// 64 KiB) into rows with the next seqs, appends them to run_logs with the engine cursor in
// one transaction while it reads on, and publishes each row to live followers as soon as its
// transaction commits (docs/architecture.md "Live logs"). A collector that dies resumes from
// the stored cursor, so nothing stored is lost or repeated, and nothing a follower was sent
// is renumbered. When the run is STOPPED and its output ended, the run's
// logs are marked complete and the engine may release the backend object.
import type { RunRow } from '../db/schema.js';
import { toEngineRun } from '../domain/runUpdates.js';
import type { LogChunk } from '../engines/types.js';
import { lastLogSeq, replaceNulInLogText, type NewLogChunk } from '../store/runLogs.js';
import * as store from '../store/runs.js';
import type { WorkerContext } from './context.js';
import { LeaseLost, storeLogBatch } from './storeLogBatch.js';

export const FLUSH_MS = 50;
export const FLUSH_BYTES = 64 * 1024;
/** Read-ahead bound per collector while a flush is in flight. */
export const MAX_PENDING_BYTES = 8 * 1024 * 1024;
const MAX_COLLECTORS = 2000;

/** Merges consecutive chunks of the same stream into rows of at most FLUSH_BYTES. */
export function coalesce(chunks: LogChunk[]): NewLogChunk[] {
  const out: NewLogChunk[] = [];
  for (const c of chunks) {
    const last = out[out.length - 1];
    if (last && last.stream === c.stream && Buffer.byteLength(last.text) + Buffer.byteLength(c.text) <= FLUSH_BYTES) {
      last.text += c.text;
      last.at = c.at;
    } else {
      out.push({ stream: c.stream, text: c.text, at: c.at });
    }
  }
  return out;
}

export function createLogCollector(ctx: WorkerContext) {
  const { db, bus, logger, engines, workerId, config } = ctx;
  const active = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const leaseMs = config.workers.leaseMs;

  async function collect(run: RunRow, signal: AbortSignal): Promise<void> {
    const engine = engines.get(run.engine);
    if (!engine) return;
    const log = logger.child({ runId: run.runId });
    /** seq of the last row stored (and published); the next store numbers its rows on from it. */
    let storedSeq = await lastLogSeq(db, run.runId);
    let storedCursor = run.logCursor;
    const target = { db, runId: run.runId, workerId, leaseMs, logger: log };
    let pending: LogChunk[] = [];
    let pendingBytes = 0;
    let timer: NodeJS.Timeout | undefined;
    /** Published, not yet stored: the next store takes all of them in one transaction. */
    let unstored: NewLogChunk[] = [];
    let unstoredBytes = 0;
    let unstoredCursor: string | null = null;
    let storing: Promise<void> = Promise.resolve();
    let failure: unknown;

    let scheduled = false;
    const persist = () => {
      if (scheduled) return storing;
      scheduled = true;
      // Stores run one after another so seq stays dense and ordered. The rows are taken when
      // the store starts, not when it is asked for: while one transaction runs, the reader
      // keeps reading and the next store carries everything that piled up,
      // so a fast writer costs fewer, larger transactions instead of falling behind.
      storing = storing.then(async () => {
        scheduled = false;
        const rows = unstored;
        const cursor = unstoredCursor!;
        unstored = [];
        unstoredBytes = 0;
        if (failure || rows.length === 0) return;
        try {
          await storeLogBatch(target, storedSeq, rows, cursor, storedCursor);
          // Published once stored: a row sent before its commit could be lost with a crashed
          // collector, and its successor would number that output differently, so a follower
          // holding the old seq would skip lines. Not awaited: delivery must not hold up the
          // next store; the bus sends in call order, so followers see seqs in order.
          for (const [i, row] of rows.entries()) {
            void bus.publish('run.log', { runId: run.runId, seq: storedSeq + i + 1, stream: row.stream, at: row.at.toISOString(), text: row.text }, run.runId);
          }
          storedSeq += rows.length;
          storedCursor = cursor;
          ctx.activity?.emit('logsCollected', run.engine, rows);
        } catch (err) {
          failure = err;
        }
      });
      return storing;
    };
    /** Turns what was read into rows and has them stored (numbered on from `storedSeq`, then published). */
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (pending.length > 0 && !failure) {
        const rows = coalesce(pending);
        unstoredCursor = pending[pending.length - 1]!.cursor;
        pending = [];
        pendingBytes = 0;
        for (const row of rows) {
          // The text as it will be stored, so live and stored agree.
          row.text = replaceNulInLogText(row.text);
          unstored.push(row);
          unstoredBytes += row.text.length;
        }
      }
      return unstored.length > 0 ? persist() : storing;
    };

    // Keeps the lease while a run is silent for a long time.
    const heartbeat = setInterval(
      () => {
        store.renewLogClaim(db, run.runId, workerId, leaseMs).catch(() => {});
      },
      Math.max(1000, leaseMs / 3),
    );

    try {
      for await (const chunk of engine.logs(toEngineRun(run), run.logCursor, signal)) {
        pending.push(chunk);
        pendingBytes += chunk.text.length;
        if (pendingBytes >= FLUSH_BYTES) {
          void flush();
          // Bounded read-ahead: wait for the database when this much is not yet stored.
          if (unstoredBytes >= MAX_PENDING_BYTES) await storing;
        } else timer ??= setTimeout(() => void flush(), FLUSH_MS);
        if (failure) throw failure;
      }
      await flush();
      await storing;
      if (failure) throw failure;
      if (signal.aborted) {
        await store.finishLogCollection(db, run.runId, workerId, false);
        return;
      }
      // The output ended. Complete only once the run is STOPPED; otherwise look again later.
      const now = await store.getRun(db, run.runId);
      const complete = now?.status === 'STOPPED';
      await store.finishLogCollection(db, run.runId, workerId, complete);
      if (complete) {
        await bus.publish('run.log', { runId: run.runId, seq: storedSeq, stream: 'eof', at: new Date().toISOString(), text: '' }, run.runId);
        await engine.release?.(toEngineRun(now!)).catch((err: unknown) => log.warn({ err }, 'release failed'));
      }
    } catch (err) {
      await flush().catch(() => {});
      await storing.catch(() => {});
      if (!(err instanceof LeaseLost)) {
        if (err !== failure) ctx.activity?.emit('engineError', run.engine, 'logs', err);
        log.warn({ err }, 'log collection interrupted; will resume from the last stored position');
        await store.finishLogCollection(db, run.runId, workerId, false).catch(() => {});
      }
    } finally {
      clearInterval(heartbeat);
      if (timer) clearTimeout(timer);
    }
  }

  async function tick(): Promise<boolean> {
    const room = MAX_COLLECTORS - active.size;
    const claimed = await store.claimRunsForLogs(db, workerId, engines.names(), Math.min(room, 200), leaseMs);
    for (const run of claimed) {
      if (active.has(run.runId)) continue;
      const abort = new AbortController();
      const done = collect(run, abort.signal)
        .catch((err) => logger.error({ err, runId: run.runId }, 'log collector failed'))
        .finally(() => active.delete(run.runId));
      active.set(run.runId, { abort, done });
    }
    return claimed.length === 200;
  }

  return {
    tick,
    activeCount: () => active.size,
    /** Stops following, flushes what was read, gives the leases back. */
    async stop() {
      for (const c of active.values()) c.abort.abort();
      await Promise.allSettled([...active.values()].map((c) => c.done));
    },
  };
}
