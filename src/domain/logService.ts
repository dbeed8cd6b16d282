// Reading a run's logs: pages by seq (REST last_seen tokens, GraphQL cursors) and a
// streaming read of the whole text.
import type { Db } from '../db/client.js';
import type { RunLogRow, RunRow } from '../db/schema.js';
import { createWaker } from '../engines/io.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { readLogChunks } from '../store/runLogs.js';
import { getRun } from '../store/runs.js';

/** A REST page holds at most ~1 MiB. */
export const PAGE_BYTES = 1024 * 1024;

/**
 * The opaque position token: `<run id>:<seq>`, base64url. Binding the run id makes a token
 * from another run an error instead of a silent skip.
 */
export function encodeLogToken(runId: string, seq: number): string {
  return Buffer.from(`${runId}:${seq}`).toString('base64url');
}

export function decodeLogToken(runId: string, token: string | undefined | null): number {
  if (token === undefined || token === null || token === '') return 0;
  const raw = Buffer.from(token, 'base64url').toString('utf8');
  const i = raw.lastIndexOf(':');
  const seq = Number(raw.slice(i + 1));
  if (i < 0 || raw.slice(0, i) !== runId || !Number.isSafeInteger(seq) || seq < 0 || encodeLogToken(runId, seq) !== token) {
    throw new ValidationError([
      {
        path: ['last_seen'],
        message: `last_seen token ${token} is not a position in the logs of run ${runId}; pass back the last_seen value of a previous response, or omit it to start at the beginning`,
      },
    ]);
  }
  return seq;
}

/** How long a read of a STOPPED run waits for its logs to be complete, unless configured. */
export const DEFAULT_COMPLETE_WAIT_MS = 10_000;

export function createLogService(deps: { db: Db; bus?: EventBus; completeWaitMs?: number }) {
  const { db, bus } = deps;
  const completeWaitMs = deps.completeWaitMs ?? DEFAULT_COMPLETE_WAIT_MS;
  return {
    /**
     * A run reaches STOPPED when its process ends; the collector stores the last lines a
     * moment later. A client that reads the logs right after it sees STOPPED (the classic
     * scripts do) must get all of them, so a read of a STOPPED run whose logs are not
     * complete waits for the collector: woken by its end-of-output event, re-reading the
     * run on a short backoff in case that event is lost, until `maxMs` after the run
     * finished (then it answers with what is stored). The bound counts from finishedAt,
     * not from the read: a collector that has not finished by then is not coming (no
     * collector runs, or it lost the run), and every later read of that run answers at
     * once instead of spending the wait again. Returns the run as last read.
     */
    async waitForComplete(run: RunRow, opts: { maxMs?: number; signal?: AbortSignal } = {}): Promise<RunRow> {
      const maxMs = opts.maxMs ?? completeWaitMs;
      if (run.status !== 'STOPPED' || run.logsComplete || maxMs <= 0) return run;
      // Never later than maxMs from now, should finishedAt be ahead of this clock.
      const deadline = Math.min(Date.now(), run.finishedAt?.getTime() ?? Infinity) + maxMs;
      if (deadline <= Date.now()) return run;
      const waker = createWaker();
      // Subscribed before the first read, so an end that lands in between still wakes us.
      const unsubscribe = bus?.subscribe(
        'run.log',
        (e) => {
          if (e.stream === 'eof') waker.wake();
        },
        run.runId,
      );
      try {
        let pause = 20;
        for (;;) {
          const now = await getRun(db, run.runId);
          if (!now) throw new NotFoundError(`Run with id ${run.runId} not found`);
          const left = deadline - Date.now();
          if (now.logsComplete || left <= 0 || opts.signal?.aborted) return now;
          await waker.wait(Math.min(pause, left), opts.signal);
          pause = Math.min(pause * 2, 250);
        }
      } finally {
        unsubscribe?.();
      }
    },

    async page(runId: string, afterSeq: number, maxBytes = PAGE_BYTES): Promise<{ chunks: RunLogRow[]; lastSeq: number }> {
      const run = await getRun(db, runId);
      if (!run) throw new NotFoundError(`Run with id ${runId} not found`);
      const chunks = await readLogChunks(db, runId, afterSeq, maxBytes);
      return { chunks, lastSeq: chunks.length ? chunks[chunks.length - 1]!.seq : afterSeq };
    },

    /** Every chunk after `afterSeq`, read a page at a time (for streaming responses). */
    async *stream(runId: string, afterSeq = 0): AsyncGenerator<RunLogRow> {
      let seq = afterSeq;
      for (;;) {
        const chunks = await readLogChunks(db, runId, seq, PAGE_BYTES, 200);
        if (chunks.length === 0) return;
        for (const c of chunks) yield c;
        seq = chunks[chunks.length - 1]!.seq;
      }
    },
  };
}

export type LogService = ReturnType<typeof createLogService>;
