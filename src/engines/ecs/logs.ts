// Follows a task's CloudWatch stream (`flotilla/main/<task id>`) with GetLogEvents.
//
// Cursor: the forward token the page was fetched with plus how many events of that page were
// already yielded. A page split over several chunks (64 KiB each) thus resumes exactly in the
// middle; the last chunk of a page carries the page's own forward token and skip 0. CloudWatch
// (and moto) pages start at the token's position, so re-reading a token yields the same first
// events, and new events only ever come after them. (moto's tokens are `f/<index of the last
// event returned>`: exact positions, the same token back when drained, and an empty stream's
// token stays valid once events arrive; the tests resume from them.)
//
// The end: after the task is known STOPPED, the stream counts as drained when two calls in a row
// return the token they were given, and at least `logDrainGraceMs` passed since STOPPED was seen
// (the awslogs driver's last batch can land a moment after the task stops).
import { GetLogEventsCommand, type CloudWatchLogsClient, type OutputLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { RetryableEngineError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { EngineRun, LogChunk } from '../types.js';
import { classifyAwsError, isNotFound, isThrottling } from './aws.js';
import { CONTAINER_NAME, LOG_STREAM_PREFIX } from './taskDefinition.js';
import { taskId } from './status.js';
import { abortableSleep } from '../io.js';

const CHUNK_BYTES = 64 * 1024;
const MAX_BACKOFF_MS = 30_000;

interface Position {
  /** Forward token the page was requested with; null = the head of the stream. */
  token: string | null;
  /** Events of that page already yielded. */
  skip: number;
}

export function encodeLogCursor(position: Position): string {
  return JSON.stringify({ t: position.token, s: position.skip });
}

export function decodeLogCursor(cursor: string | null): Position {
  if (!cursor) return { token: null, skip: 0 };
  try {
    const parsed = JSON.parse(cursor) as { t?: unknown; s?: unknown };
    return {
      token: typeof parsed.t === 'string' ? parsed.t : null,
      skip: typeof parsed.s === 'number' && parsed.s >= 0 ? Math.floor(parsed.s) : 0,
    };
  } catch {
    // A bare forward token is a valid cursor too (what an older cursor or an operator would hold).
    return { token: cursor, skip: 0 };
  }
}

export function logStreamName(taskArn: string): string {
  return `${LOG_STREAM_PREFIX}/${CONTAINER_NAME}/${taskId(taskArn)}`;
}

/**
 * One GetLogEvents budget for the whole process: readers take turns at `perSecond`, and a
 * ThrottlingException seen by any reader pauses all of them with a doubling back-off.
 */
export class LogRequestGate {
  private nextSlot = 0;
  private pausedUntil = 0;
  private backoffMs = 0;

  constructor(
    private readonly perSecond: number,
    private readonly baseBackoffMs: number,
    private readonly logger?: Logger,
  ) {}

  async call<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    for (;;) {
      const now = Date.now();
      const start = Math.max(now, this.nextSlot, this.pausedUntil);
      this.nextSlot = start + 1000 / this.perSecond;
      await abortableSleep(start - now, signal);
      if (signal.aborted) throw signal.reason ?? new Error('aborted');
      try {
        const result = await fn();
        this.backoffMs = 0;
        return result;
      } catch (err) {
        if (!isThrottling(err)) throw err;
        this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs ? this.backoffMs * 2 : this.baseBackoffMs);
        // Jitter keeps readers that were throttled together from coming back together.
        const wait = this.backoffMs * (0.8 + Math.random() * 0.4);
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + wait);
        this.logger?.warn({ backoffMs: Math.round(wait) }, 'CloudWatch Logs throttled GetLogEvents; backing off');
      }
    }
  }
}

export interface LogReaderOptions {
  client: CloudWatchLogsClient;
  logGroup: string;
  gate: LogRequestGate;
  pollMs: number;
  drainGraceMs: number;
  /** True once the run's task is STOPPED (the engine caches and rate-limits this). */
  isStopped(run: EngineRun, signal: AbortSignal): Promise<boolean>;
}

function eventsToChunks(events: OutputLogEvent[]): { text: string; at: Date; count: number }[] {
  const chunks: { text: string; at: Date; count: number }[] = [];
  let text = '';
  let bytes = 0;
  let count = 0;
  let at = new Date(0);
  for (const event of events) {
    const message = event.message ?? '';
    const line = message.endsWith('\n') ? message : `${message}\n`;
    const size = Buffer.byteLength(line);
    if (count > 0 && bytes + size > CHUNK_BYTES) {
      chunks.push({ text, at, count });
      text = '';
      bytes = 0;
      count = 0;
    }
    text += line;
    bytes += size;
    count += 1;
    at = new Date(event.timestamp ?? event.ingestionTime ?? Date.now());
  }
  if (count > 0) chunks.push({ text, at, count });
  return chunks;
}

export async function* followTaskLogs(run: EngineRun, cursor: string | null, signal: AbortSignal, options: LogReaderOptions): AsyncGenerator<LogChunk> {
  if (!run.engineRef) throw new RetryableEngineError(`run ${run.runId} has no ECS task yet; logs start after submit`);
  const stream = logStreamName(run.engineRef);
  let { token, skip } = decodeLogCursor(cursor);
  let stoppedSince: number | undefined;
  let drainedCalls = 0;

  while (!signal.aborted) {
    let events: OutputLogEvent[] = [];
    let next: string | null = token;
    try {
      const page = await options.gate.call(
        () =>
          options.client.send(
            new GetLogEventsCommand({
              logGroupName: options.logGroup,
              logStreamName: stream,
              startFromHead: true,
              ...(token ? { nextToken: token } : {}),
            }),
            { abortSignal: signal },
          ),
        signal,
      );
      events = page.events ?? [];
      next = page.nextForwardToken ?? token;
    } catch (err) {
      if (signal.aborted) return;
      // The stream appears when the container starts; until then there is nothing to read.
      if (!isNotFound(err)) throw classifyAwsError(err, 'GetLogEvents');
    }

    const fresh = events.slice(skip);
    if (fresh.length > 0) {
      drainedCalls = 0;
      const chunks = eventsToChunks(fresh);
      let yielded = skip;
      for (const [i, chunk] of chunks.entries()) {
        yielded += chunk.count;
        const last = i === chunks.length - 1;
        const position: Position = last ? { token: next, skip: 0 } : { token, skip: yielded };
        if (last) {
          token = next;
          skip = 0;
        }
        yield { stream: 'stdout', text: chunk.text, at: chunk.at, cursor: encodeLogCursor(position) };
      }
      continue;
    }
    if (next !== token) {
      // An empty page with a new token: CloudWatch may still have events further on.
      token = next;
      skip = 0;
      continue;
    }

    if (stoppedSince === undefined) {
      if (await options.isStopped(run, signal)) stoppedSince = Date.now();
      // Seen stopped only now: the drained answer above may predate the final log batch.
      drainedCalls = 0;
    } else {
      drainedCalls += 1;
      if (drainedCalls >= 2 && Date.now() - stoppedSince >= options.drainGraceMs) return;
    }
    await abortableSleep(options.pollMs, signal);
  }
}
