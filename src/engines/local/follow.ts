// Follows a run's stdout and stderr files from byte offsets and yields whole lines.
// The cursor is the pair of offsets up to which lines have been yielded, so a reader that
// restarts from a chunk's cursor repeats nothing and skips nothing.
import { open, type FileHandle } from 'node:fs/promises';
import type { LogChunk } from '../types.js';
import { abortableSleep } from '../io.js';

const MAX_CHUNK = 64 * 1024;
const IDLE_MIN_MS = 10;
const IDLE_MAX_MS = 200;

export interface Offsets {
  stdout: number;
  stderr: number;
}

export function parseCursor(cursor: string | null): Offsets {
  if (!cursor) return { stdout: 0, stderr: 0 };
  const m = /^(\d+):(\d+)$/.exec(cursor);
  if (!m) throw new Error(`invalid local log cursor ${cursor}`);
  return { stdout: Number(m[1]), stderr: Number(m[2]) };
}

export function formatCursor(o: Offsets): string {
  return `${o.stdout}:${o.stderr}`;
}

/** Reads up to MAX_CHUNK bytes at `offset`; returns the whole lines in it (and a final partial line when `final`). */
async function readLines(fh: FileHandle, offset: number, final: boolean): Promise<{ text: string; bytes: number } | undefined> {
  const buf = Buffer.allocUnsafe(MAX_CHUNK);
  const { bytesRead } = await fh.read(buf, 0, MAX_CHUNK, offset);
  if (bytesRead === 0) return undefined;
  const data = buf.subarray(0, bytesRead);
  const lastNewline = data.lastIndexOf(0x0a);
  if (lastNewline >= 0) {
    return { text: data.subarray(0, lastNewline + 1).toString('utf8'), bytes: lastNewline + 1 };
  }
  // A single line longer than a chunk is split rather than held forever.
  if (bytesRead === MAX_CHUNK || final) return { text: data.toString('utf8') + '\n', bytes: bytesRead };
  return undefined;
}

export async function* followFiles(
  paths: { stdout: string; stderr: string },
  start: Offsets,
  isDone: () => Promise<boolean>,
  signal: AbortSignal,
): AsyncGenerator<LogChunk> {
  const offsets = { ...start };
  const handles: Partial<Record<keyof Offsets, FileHandle>> = {};
  let idle = IDLE_MIN_MS;
  try {
    for (;;) {
      if (signal.aborted) return;
      // Decide "done" before reading, so output written just before exit is still read.
      const done = await isDone();
      let progressed = false;
      for (const stream of ['stdout', 'stderr'] as const) {
        if (!handles[stream]) {
          try {
            handles[stream] = await open(paths[stream], 'r');
          } catch {
            continue;
          }
        }
        for (;;) {
          const got = await readLines(handles[stream]!, offsets[stream], done);
          if (!got) break;
          offsets[stream] += got.bytes;
          progressed = true;
          yield { stream, text: got.text, at: new Date(), cursor: formatCursor(offsets) };
          if (signal.aborted) return;
        }
      }
      if (done && !progressed) return;
      if (progressed) idle = IDLE_MIN_MS;
      else {
        await abortableSleep(idle, signal);
        idle = Math.min(IDLE_MAX_MS, idle * 2);
      }
    }
  } finally {
    await Promise.all(Object.values(handles).map((h) => h?.close()));
  }
}

// ---- the merged output file (tagger.ts): records "<O|E><n|p><text>\n" in write order ----

const RECORD_READ = 256 * 1024; // a record is at most 64 KiB + 3 bytes

/** The merged file's cursor: the byte offset after the last record yielded. */
function parseMergedCursor(cursor: string | null): number {
  if (!cursor) return 0;
  const m = /^m(\d+)$/.exec(cursor);
  if (!m) throw new Error(`invalid local log cursor ${cursor}`);
  return Number(m[1]);
}

/**
 * Chunks of consecutive records of one stream, from the complete records at `offset`: a
 * chunk ends where the stream changes, so stdout and stderr keep their interleaving.
 */
function parseRecords(data: Buffer): { stream: 'stdout' | 'stderr'; text: string; bytes: number }[] {
  const out: { stream: 'stdout' | 'stderr'; text: string; bytes: number }[] = [];
  let pos = 0;
  for (;;) {
    const end = data.indexOf(0x0a, pos);
    if (end < 0 || end - pos < 2) break;
    const stream = data[pos] === 0x45 /* E */ ? 'stderr' : 'stdout';
    const text = data.subarray(pos + 2, end).toString('utf8') + (data[pos + 1] === 0x6e /* n */ ? '\n' : '');
    const last = out.at(-1);
    if (last && last.stream === stream && last.bytes < MAX_CHUNK) {
      last.text += text;
      last.bytes += end + 1 - pos;
    } else {
      out.push({ stream, text, bytes: end + 1 - pos });
    }
    pos = end + 1;
  }
  return out;
}

export async function* followMerged(path: string, cursor: string | null, isDone: () => Promise<boolean>, signal: AbortSignal): AsyncGenerator<LogChunk> {
  let offset = parseMergedCursor(cursor);
  let fh: FileHandle | undefined;
  let idle = IDLE_MIN_MS;
  const buf = Buffer.allocUnsafe(RECORD_READ);
  try {
    for (;;) {
      if (signal.aborted) return;
      const done = await isDone();
      let progressed = false;
      if (!fh) {
        try {
          fh = await open(path, 'r');
        } catch {
          fh = undefined;
        }
      }
      while (fh) {
        const { bytesRead } = await fh.read(buf, 0, RECORD_READ, offset);
        const chunks = parseRecords(buf.subarray(0, bytesRead));
        if (chunks.length === 0) break;
        for (const c of chunks) {
          offset += c.bytes;
          progressed = true;
          yield { stream: c.stream, text: c.text, at: new Date(), cursor: `m${offset}` };
          if (signal.aborted) return;
        }
      }
      if (done && !progressed) return;
      if (progressed) idle = IDLE_MIN_MS;
      else {
        await abortableSleep(idle, signal);
        idle = Math.min(IDLE_MAX_MS, idle * 2);
      }
    }
  } finally {
    await fh?.close();
  }
}
