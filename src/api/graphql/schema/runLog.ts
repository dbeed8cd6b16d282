// A run's output: chunks of whole lines with dense per-run `seq`, and pages of them. The
// cursor is logService's opaque token (`<run id>:<seq>`), the one REST's `last_seen` uses,
// so a position can be carried from one API to the other.
import type { RunLogRow } from '../../../db/schema.js';
import { decodeLogToken, encodeLogToken } from '../../../domain/logService.js';
import { ValidationError } from '../../../errors.js';
import { builder } from '../builder.js';
import { badInput } from './connection.js';
import { LogStreamEnum } from './enums.js';

export const RunLogChunkRef = builder.objectRef<RunLogRow>('RunLogChunk').implement({
  description: 'Whole lines written by the run, in one stream.',
  fields: (t) => ({
    seq: t.exposeInt('seq', { description: 'Position in the run output: 1, 2, 3, … with no gaps.' }),
    stream: t.field({ type: LogStreamEnum, description: 'The stream it was written to.', resolve: (c) => c.stream as 'stdout' | 'stderr' }),
    at: t.expose('at', { type: 'DateTime', description: 'When the chunk was collected.' }),
    text: t.exposeString('text', {
      description: 'One or more lines, each ending in a newline, except the last line of the output when the program wrote it without one.',
    }),
    cursor: t.string({
      description: 'Pass as `after` to continue after this chunk (Run.logs, runLogs).',
      resolve: (c) => encodeLogToken(c.runId, c.seq),
    }),
  }),
});

export interface RunLogPage {
  runId: string;
  chunks: RunLogRow[];
  /** seq of the last chunk of the page, or the `after` position when the page is empty. */
  endSeq: number;
  hasMore: boolean;
  complete: boolean;
}

export const RunLogPageRef = builder.objectRef<RunLogPage>('RunLogPage').implement({
  description: 'Consecutive log chunks and where to continue.',
  fields: (t) => ({
    chunks: t.field({ type: [RunLogChunkRef], resolve: (p) => p.chunks }),
    cursor: t.string({
      description: 'Position after this page: pass it as `after` for the next page (also when the page is empty).',
      resolve: (p) => encodeLogToken(p.runId, p.endSeq),
    }),
    hasMore: t.exposeBoolean('hasMore', { description: 'More chunks are stored after this page now.' }),
    complete: t.exposeBoolean('complete', {
      description: 'The run is STOPPED, its output is fully collected and this page reaches the end: nothing more will come.',
    }),
    text: t.string({ description: 'The text of every chunk, concatenated.', resolve: (p) => p.chunks.map((c) => c.text).join('') }),
  }),
});

/** A cursor from `after` as a seq; a cursor of another run or a made-up one is bad input. */
export function logCursorToSeq(runId: string, after: string | null | undefined, arg = 'after'): number {
  try {
    return decodeLogToken(runId, after);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw badInput(`${arg} is not a position in the logs of run ${runId}; pass a cursor from a previous chunk or page, or omit it to start at the beginning`);
  }
}
