// Follows a pod's log: `GET …/pods/{pod}/log?follow=true&timestamps=true&container=main`.
// Every line the kubelet sends starts with its RFC3339Nano time, so the resume cursor is the
// time of the last line yielded plus how many lines carried that exact time. A resumed read
// asks for `sinceTime` (whole seconds, which the API accepts everywhere) and skips what the
// cursor already covers, so nothing repeats and nothing is lost.
import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { LogChunk } from '../types.js';
import { httpStatusOf } from './apiErrors.js';
import { CONTAINER_NAME } from './jobManifest.js';
import { abortableSleep } from '../io.js';

export const MAX_CHUNK_BYTES = 64 * 1024;

export type PodLocation = { kind: 'waiting' } | { kind: 'gone' } | { kind: 'ready'; podName: string; namespace: string };

export interface LogSource {
  /** Where the run's container is: not started yet, started (or finished), or never will be. */
  locate(signal: AbortSignal): Promise<PodLocation>;
  stream(path: string, query: URLSearchParams, signal: AbortSignal): Promise<IncomingMessage>;
  /** After a stream ended: is the container done (or its pod gone), i.e. is the output complete? */
  finished(podName: string, namespace: string): Promise<boolean>;
}

export interface FollowOptions {
  /** Wait between looks while the container has not started. */
  pollMs: number;
  /** Consecutive failures (other than "not started yet") before giving up to the caller. */
  maxFailures?: number;
}

export interface LogPosition {
  /** Normalised timestamp (9 fractional digits), comparable as a string. */
  ts: string;
  /** Lines at exactly `ts` already yielded. */
  n: number;
}

/** RFC3339(Nano) in UTC → `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, or undefined when it is not a time. */
export function normalizeTimestamp(raw: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(raw);
  if (m) return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`;
  if (!/^\d{4}-\d{2}-\d{2}T/.test(raw)) return undefined;
  const d = new Date(raw);
  if (Number.isNaN(d.getTime())) return undefined;
  return `${d.toISOString().slice(0, 19)}.${String(d.getUTCMilliseconds()).padStart(3, '0').padEnd(9, '0')}Z`;
}

export function formatCursor(p: LogPosition): string {
  return `${p.ts} ${p.n}`;
}

export function parseCursor(cursor: string | null): LogPosition | undefined {
  if (!cursor) return undefined;
  const [ts, n] = cursor.split(' ');
  const norm = ts ? normalizeTimestamp(ts) : undefined;
  const count = Number(n);
  if (!norm || !Number.isInteger(count) || count < 0) throw new Error(`not a Kubernetes log cursor: ${JSON.stringify(cursor)}`);
  return { ts: norm, n: count };
}

/** Splits `<timestamp> <text>`; a line without a timestamp keeps the previous line's time. */
export function splitTimestamp(line: string, previous: string): { ts: string; text: string } {
  const space = line.indexOf(' ');
  const ts = space > 0 ? normalizeTimestamp(line.slice(0, space)) : undefined;
  if (ts) return { ts, text: line.slice(space + 1) };
  return { ts: previous, text: line };
}

/**
 * Decides, line by line, what a (re)opened stream yields: lines at or before the cursor were
 * yielded by an earlier stream.
 */
export function createLineFilter(start: LogPosition | undefined) {
  const skipTs = start?.ts ?? '';
  const skipN = start?.n ?? 0;
  let seenAtSkipTs = 0;
  let position: LogPosition | undefined = start ? { ...start } : undefined;
  return {
    /** True when the line is new; the position then covers it. */
    accept(ts: string): boolean {
      if (ts < skipTs) return false;
      if (ts === skipTs && seenAtSkipTs < skipN) {
        seenAtSkipTs += 1;
        return false;
      }
      position = position && position.ts === ts ? { ts, n: position.n + 1 } : { ts, n: 1 };
      return true;
    },
    position: () => position,
  };
}

const toDate = (ts: string) => new Date(ts.slice(0, 23) + 'Z');

export async function* followPodLog(source: LogSource, cursor: string | null, signal: AbortSignal, opts: FollowOptions): AsyncGenerator<LogChunk> {
  let position = parseCursor(cursor);
  let wait = opts.pollMs;
  let failures = 0;
  const maxFailures = opts.maxFailures ?? 8;

  while (!signal.aborted) {
    const where = await source.locate(signal);
    if (where.kind === 'gone') return;
    if (where.kind === 'waiting') {
      await abortableSleep(wait, signal);
      wait = Math.min(wait * 2, 5000);
      continue;
    }

    const query = new URLSearchParams({ container: CONTAINER_NAME, follow: 'true', timestamps: 'true' });
    if (position) query.set('sinceTime', `${position.ts.slice(0, 19)}Z`);
    const path = `/api/v1/namespaces/${encodeURIComponent(where.namespace)}/pods/${encodeURIComponent(where.podName)}/log`;
    let res: IncomingMessage;
    try {
      res = await source.stream(path, query, signal);
    } catch (err) {
      if (signal.aborted) return;
      const status = httpStatusOf(err);
      if (status === 404) return; // the pod is gone: what was read is all there will be
      // 400: the container is still being created; anything else may pass too.
      if (status !== 400 && ++failures >= maxFailures) throw err;
      await abortableSleep(wait, signal);
      wait = Math.min(wait * 2, 5000);
      continue;
    }

    wait = opts.pollMs;
    const filter = createLineFilter(position);
    const decoder = new StringDecoder('utf8');
    let partial = '';
    let lastTs = position?.ts ?? '';
    let cut = false;
    try {
      for await (const data of res as AsyncIterable<Buffer>) {
        const text = partial + decoder.write(data);
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        let out = '';
        let outBytes = 0;
        let outTs = '';
        for (const line of lines) {
          const { ts, text: body } = splitTimestamp(line, lastTs);
          lastTs = ts;
          const before = filter.position();
          if (!filter.accept(ts)) continue;
          const bytes = Buffer.byteLength(body) + 1;
          if (out && outBytes + bytes > MAX_CHUNK_BYTES) {
            // The cursor of this chunk stops before the line that did not fit.
            yield { stream: 'stdout', text: out, at: toDate(outTs), cursor: formatCursor(before!) };
            out = '';
            outBytes = 0;
          }
          out += body + '\n';
          outBytes += bytes;
          outTs = ts;
        }
        if (out) yield { stream: 'stdout', text: out, at: toDate(outTs), cursor: formatCursor(filter.position()!) };
        position = filter.position();
        failures = 0;
      }
      // A connection cut mid-body can end the iteration without an error; only a response
      // that arrived whole (the final chunk of a chunked body) is a real end of the stream.
      if (!res.complete) throw new Error('log stream cut before its end');
    } catch (err) {
      if (signal.aborted) return;
      cut = true;
      if (++failures >= maxFailures) throw err;
    } finally {
      res.destroy();
    }
    position = filter.position();
    if (signal.aborted) return;

    // A stream also ends when the connection drops; only a finished container means the end.
    const done = !cut && (await source.finished(where.podName, where.namespace));
    if (done) {
      const tail = partial + decoder.end();
      if (tail) {
        // The command's last line had no newline: it is whole now that the container is done.
        const { ts, text } = splitTimestamp(tail, lastTs);
        if (filter.accept(ts)) yield { stream: 'stdout', text: text + '\n', at: toDate(ts), cursor: formatCursor(filter.position()!) };
      }
      return;
    }
    await abortableSleep(250, signal);
  }
}
