// Reading a run's logs: pages by seq (REST last_seen tokens, GraphQL cursors) and a
// streaming read of the whole text.
import type { Db } from '../db/client.js';
import type { RunLogRow } from '../db/schema.js';
import { NotFoundError, ValidationError } from '../errors.js';
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
    throw new ValidationError([{ path: ['last_seen'], message: `last_seen token ${token} is not a position in the logs of run ${runId}; pass back the last_seen value of a previous response, or omit it to start at the beginning` }]);
  }
  return seq;
}

export function createLogService(deps: { db: Db }) {
  const { db } = deps;
  return {
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
