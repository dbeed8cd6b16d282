// Turning Docker's multiplexed, timestamped log stream into LogChunks with exact resume
// cursors. Pure (no I/O): the engine feeds it the bytes of `GET /containers/{id}/logs`.
//
// The stream is a sequence of frames (8-byte header: stream type, 3 zero bytes, big-endian
// length) and, with `timestamps=true`, each frame's payload starts with the RFC3339Nano time
// the daemon received it. The json-file driver stores one frame per line; a line longer
// than 16 KiB is stored as several frames, all but the last without a newline.
//
// Resuming: Docker can only restart a log read by time (`since`, whole or fractional unix
// seconds; entries at or after it, in file order). A cursor therefore holds a `since` and
// how many frames at or after it were already read (`skip`), and `t`, the timestamp of the
// last line. The frames read at or after `since` are exactly the first `skip` frames of the
// resumed read, whatever their order, because both are the file's frames filtered by the
// same time. `since` trails the newest frame by at least a second, so a frame that Docker
// timestamped slightly earlier than one it wrote before it (stdout and stderr are copied by
// two goroutines) is still inside the window and neither lost nor repeated.
import type { LogChunk } from '../types.js';

export const MAX_CHUNK_BYTES = 64 * 1024;
const NS_PER_SECOND = 1_000_000_000n;

export interface Frame {
  stream: 'stdout' | 'stderr';
  payload: Buffer;
}

/** Splits the multiplexed byte stream into frames, whatever the network's packet sizes. */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  push(data: Buffer): Frame[] {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    const frames: Frame[] = [];
    while (this.buffer.length >= 8) {
      const type = this.buffer.readUInt8(0);
      const length = this.buffer.readUInt32BE(4);
      if (type > 2) throw new Error(`not a multiplexed Docker log stream (frame type ${type}); was the container created with a TTY?`);
      if (this.buffer.length < 8 + length) break;
      frames.push({ stream: type === 2 ? 'stderr' : 'stdout', payload: this.buffer.subarray(8, 8 + length) });
      this.buffer = this.buffer.subarray(8 + length);
    }
    return frames;
  }
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the epoch, or null when `text` is not an RFC3339(Nano) time. */
export function parseRfc3339Nano(text: string): bigint | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  let seconds = BigInt(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000);
  if (zone !== 'Z') {
    const sign = zone!.startsWith('-') ? -1n : 1n;
    seconds -= sign * BigInt(Number(zone!.slice(1, 3)) * 3600 + Number(zone!.slice(4, 6)) * 60);
  }
  return seconds * NS_PER_SECOND + BigInt(frac.padEnd(9, '0') || '0');
}

export interface LogCursor {
  /** RFC3339Nano time of the last line read (for people reading the cursor). */
  t: string;
  /** Unix seconds to pass as the log read's `since`. */
  since: number;
  /** Frames at or after `since` already read. */
  skip: number;
}

export function formatCursor(c: LogCursor): string {
  return JSON.stringify({ t: c.t, since: c.since, skip: c.skip });
}

export function parseCursor(text: string | null): LogCursor | null {
  if (text === null || text === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const c = value as Partial<LogCursor> | undefined;
  if (!c || typeof c.t !== 'string' || !Number.isSafeInteger(c.since) || !Number.isSafeInteger(c.skip) || c.since! < 0 || c.skip! < 0) {
    throw new Error(`not a Docker log cursor: ${text}`);
  }
  return { t: c.t, since: c.since!, skip: c.skip! };
}

/** The frames read so far that a resume at `since` would see again. */
class ReadWindow {
  private sinceNs: bigint;
  private seen: bigint[] = [];

  constructor(since: number) {
    this.sinceNs = BigInt(since) * NS_PER_SECOND;
  }

  add(ts: bigint): void {
    // Keep `since` a whole second at least one second behind the newest frame; it only
    // moves forward, and moving it drops what the new `since` will not return.
    const floor = (ts / NS_PER_SECOND - 1n) * NS_PER_SECOND;
    if (floor > this.sinceNs) {
      this.sinceNs = floor;
      this.seen = this.seen.filter((t) => t >= floor);
    }
    if (ts >= this.sinceNs) this.seen.push(ts);
  }

  cursor(t: string): LogCursor {
    return { t, since: Number(this.sinceNs / NS_PER_SECOND), skip: this.seen.length };
  }
}

interface OpenChunk {
  stream: 'stdout' | 'stderr';
  parts: string[];
  bytes: number;
  at: Date;
  cursor: string;
}

/**
 * Frames in, chunks of whole lines out, each with the cursor that resumes right after it.
 * A cursor is only ever placed where no line is half read, so a partial line (a long line's
 * first frames) is held until its end arrives; if the other stream writes meanwhile, or the
 * partial grows past MAX_CHUNK_BYTES, the partial is ended with a newline there — the same
 * decision on every read of the same frames, so resumed reads agree with the first one.
 */
export class LogAssembler {
  private readonly window: ReadWindow;
  private skip: number;
  private lastText: string;
  private lastNs: bigint;
  private partial: { stream: 'stdout' | 'stderr'; parts: Buffer[]; bytes: number; ns: bigint } | null = null;
  private open: OpenChunk | null = null;
  private done: LogChunk[] = [];
  /** `since` for the read that this assembler consumes; undefined = from the start. */
  readonly since: number | undefined;

  constructor(cursor: LogCursor | null) {
    this.window = new ReadWindow(cursor?.since ?? 0);
    this.skip = cursor?.skip ?? 0;
    this.lastText = cursor?.t ?? '';
    this.lastNs = cursor ? (parseRfc3339Nano(cursor.t) ?? 0n) : 0n;
    this.since = cursor ? cursor.since : undefined;
  }

  push(frame: Frame): void {
    const { text: tsText, ns, body } = splitTimestamp(frame.payload, this.lastText, this.lastNs);
    if (this.skip > 0) {
      this.skip--;
      this.consume(tsText, ns);
      return;
    }
    if (this.partial && this.partial.stream !== frame.stream) this.endPartial();
    this.consume(tsText, ns);
    const parts = this.partial ? [...this.partial.parts, body] : [body];
    const bytes = (this.partial?.bytes ?? 0) + body.length;
    this.partial = null;
    if (body.length > 0 && body[body.length - 1] === 0x0a) {
      this.emit(frame.stream, Buffer.concat(parts).toString('utf8'), ns);
      return;
    }
    this.partial = { stream: frame.stream, parts, bytes, ns };
    if (bytes >= MAX_CHUNK_BYTES) this.endPartial();
  }

  /** Chunks completed so far (taken once). Call after each network read. */
  take(): LogChunk[] {
    this.closeOpen();
    const out = this.done;
    this.done = [];
    return out;
  }

  /** The stream ended for good (the container finished): a last line without newline counts. */
  finish(): LogChunk[] {
    if (this.partial) this.endPartial();
    return this.take();
  }

  private consume(text: string, ns: bigint): void {
    this.window.add(ns);
    this.lastText = text;
    this.lastNs = ns;
  }

  private endPartial(): void {
    const p = this.partial!;
    this.partial = null;
    this.emit(p.stream, Buffer.concat(p.parts).toString('utf8') + '\n', p.ns);
  }

  private emit(stream: 'stdout' | 'stderr', text: string, ns: bigint): void {
    const bytes = Buffer.byteLength(text);
    if (this.open && (this.open.stream !== stream || this.open.bytes + bytes > MAX_CHUNK_BYTES)) this.closeOpen();
    const cursor = formatCursor(this.window.cursor(this.lastText));
    const at = new Date(Number(ns / 1_000_000n));
    if (!this.open) this.open = { stream, parts: [], bytes: 0, at, cursor };
    this.open.parts.push(text);
    this.open.bytes += bytes;
    this.open.at = at;
    this.open.cursor = cursor;
  }

  private closeOpen(): void {
    if (!this.open) return;
    const { stream, parts, at, cursor } = this.open;
    this.done.push({ stream, text: parts.join(''), at, cursor });
    this.open = null;
  }
}

function splitTimestamp(payload: Buffer, lastText: string, lastNs: bigint): { text: string; ns: bigint; body: Buffer } {
  const space = payload.indexOf(0x20);
  // RFC3339Nano is at most 35 characters; look no further for the separator.
  if (space > 0 && space <= 40) {
    const text = payload.subarray(0, space).toString('latin1');
    const ns = parseRfc3339Nano(text);
    if (ns !== null) return { text, ns, body: payload.subarray(space + 1) };
  }
  // No timestamp (the daemon always sends one when asked): keep the previous time.
  return { text: lastText, ns: lastNs, body: payload };
}
