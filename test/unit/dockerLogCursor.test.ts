// The Docker log stream decoder and its resume cursor, against a model of the daemon:
// a log file of timestamped entries, served as multiplexed frames, filtered by `since`
// the way the json-file driver does (entries at or after `since`, in file order).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, LogAssembler, MAX_CHUNK_BYTES, parseCursor, parseRfc3339Nano } from '../../src/engines/docker/logs.js';
import type { LogChunk } from '../../src/engines/types.js';

interface Entry {
  stream: 'stdout' | 'stderr';
  ns: bigint;
  /** A line ending in "\n", or a partial (a long line's piece, or a last line without newline). */
  text: string;
}

const BASE = 1_764_418_505_000_000_000n;

/** Go's time.RFC3339Nano: trailing zeros of the fraction are dropped. */
function rfc3339Nano(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, frac ? `.${frac}Z` : 'Z');
}

function frame(stream: 'stdout' | 'stderr', payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(stream === 'stdout' ? 1 : 2, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function serve(entries: Entry[], since?: number): Buffer {
  const min = since === undefined ? -1n : BigInt(since) * 1_000_000_000n;
  return Buffer.concat(entries.filter((e) => e.ns >= min).map((e) => frame(e.stream, Buffer.from(`${rfc3339Nano(e.ns)} ${e.text}`))));
}

/** What logStream.ts does with one finished container's read, `cuts` = network read sizes. */
function read(entries: Entry[], cursor: string | null, cuts: number[] = []): LogChunk[] {
  const assembler = new LogAssembler(parseCursor(cursor));
  const decoder = new FrameDecoder();
  const bytes = serve(entries, assembler.since);
  const out: LogChunk[] = [];
  let offset = 0;
  for (const cut of [...cuts, bytes.length]) {
    const end = Math.min(bytes.length, offset + Math.max(1, cut));
    for (const f of decoder.push(bytes.subarray(offset, end))) assembler.push(f);
    out.push(...assembler.take());
    offset = end;
    if (offset >= bytes.length) break;
  }
  out.push(...assembler.finish());
  return out;
}

const lines = (chunks: LogChunk[]) => chunks.flatMap((c) => c.text.split(/(?<=\n)/).map((l) => `${c.stream}:${l}`));

function expectExactResume(entries: Entry[], cuts: number[] = []): void {
  const full = read(entries, null, cuts);
  for (let i = 0; i < full.length; i++) {
    const rest = read(entries, full[i]!.cursor, cuts);
    expect(lines([...full.slice(0, i + 1), ...rest])).toEqual(lines(full));
  }
}

const at = (ms: number, extraNs = 0) => BASE + BigInt(ms) * 1_000_000n + BigInt(extraNs);

describe('docker log stream decoding', () => {
  it('keeps stdout and stderr apart, in order, as whole lines with the last line time', () => {
    const entries: Entry[] = [
      { stream: 'stdout', ns: at(0), text: 'one\n' },
      { stream: 'stdout', ns: at(1), text: 'two\n' },
      { stream: 'stderr', ns: at(2), text: 'oops\n' },
      { stream: 'stdout', ns: at(3, 7), text: 'three\n' },
    ];
    const chunks = read(entries, null);
    expect(chunks.map((c) => [c.stream, c.text])).toEqual([
      ['stdout', 'one\ntwo\n'],
      ['stderr', 'oops\n'],
      ['stdout', 'three\n'],
    ]);
    expect(chunks[2]!.at).toEqual(new Date(Number(at(3) / 1_000_000n)));
    expect(parseCursor(chunks[2]!.cursor)).toEqual({ t: rfc3339Nano(at(3, 7)), since: Number(BASE / 1_000_000_000n) - 1, skip: 4 });
  });

  it('joins a long line that Docker split into partial frames, and ends a last line without newline', () => {
    const entries: Entry[] = [
      { stream: 'stdout', ns: at(0), text: 'a'.repeat(16384) },
      { stream: 'stdout', ns: at(0, 1), text: 'b'.repeat(16384) },
      { stream: 'stdout', ns: at(0, 2), text: 'c\n' },
      { stream: 'stdout', ns: at(1), text: 'no newline at exit' },
    ];
    expect(
      read(entries, null)
        .map((c) => c.text)
        .join(''),
    ).toBe('a'.repeat(16384) + 'b'.repeat(16384) + 'c\n' + 'no newline at exit\n');
    expectExactResume(entries);
  });

  it('ends a partial line where the other stream writes, so streams never mix', () => {
    const entries: Entry[] = [
      { stream: 'stdout', ns: at(0), text: 'abc' },
      { stream: 'stderr', ns: at(1), text: 'err\n' },
      { stream: 'stdout', ns: at(2), text: 'def\n' },
    ];
    expect(read(entries, null).map((c) => [c.stream, c.text])).toEqual([
      ['stdout', 'abc\n'],
      ['stderr', 'err\n'],
      ['stdout', 'def\n'],
    ]);
    expectExactResume(entries);
  });

  it('reassembles frames whatever the network read sizes', () => {
    const entries: Entry[] = Array.from({ length: 20 }, (_, i) => ({ stream: i % 3 ? 'stdout' : 'stderr', ns: at(i), text: `line ${i}\n` }));
    const whole = read(entries, null)
      .map((c) => c.text)
      .join('');
    expect(
      read(entries, null, Array(400).fill(3))
        .map((c) => c.text)
        .join(''),
    ).toBe(whole);
  });

  it('keeps every chunk to one stream and at most 64 KiB', () => {
    const entries: Entry[] = Array.from({ length: 3000 }, (_, i) => ({ stream: 'stdout', ns: at(i), text: `${'x'.repeat(60)} ${i}\n` }));
    const chunks = read(entries, null);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(Buffer.byteLength(c.text)).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    expect(chunks.map((c) => c.text).join('')).toBe(entries.map((e) => e.text).join(''));
  });
});

describe('docker log resume cursor', () => {
  it('resumes after every chunk without a repeat or a loss', () => {
    const entries: Entry[] = Array.from({ length: 30 }, (_, i) => ({ stream: i % 4 === 3 ? 'stderr' : 'stdout', ns: at(i * 150), text: `line ${i}\n` }));
    expectExactResume(entries, Array(30).fill(35));
  });

  it('counts lines that share one timestamp exactly', () => {
    // A coarse clock gives many lines the same time; `since` alone would repeat them.
    const entries: Entry[] = Array.from({ length: 12 }, (_, i) => ({ stream: 'stdout', ns: at(i < 6 ? 0 : 1000), text: `same ${i}\n` }));
    expectExactResume(entries, Array(12).fill(40));
  });

  it('neither loses nor repeats a line timestamped slightly before the one written ahead of it', () => {
    // stdout and stderr are copied by separate goroutines: file order and time order can differ by microseconds.
    const entries: Entry[] = [
      { stream: 'stdout', ns: at(999, 500), text: 'first\n' },
      { stream: 'stderr', ns: at(999, 900), text: 'second\n' },
      { stream: 'stdout', ns: at(999, 700), text: 'third, earlier stamp\n' },
      { stream: 'stdout', ns: at(2000), text: 'fourth\n' },
    ];
    expectExactResume(entries, Array(10).fill(30));
  });

  it('resumes exactly for any log (property)', () => {
    const entry = fc.record({
      stream: fc.constantFrom<'stdout' | 'stderr'>('stdout', 'stderr'),
      gapNs: fc.oneof(fc.constant(0), fc.integer({ min: -5_000, max: 5_000 }), fc.integer({ min: 0, max: 2_500_000_000 })),
      text: fc.string({ maxLength: 12 }).map((s) => s.replace(/\n/g, ' ')),
      partial: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 25 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }), (specs, cuts) => {
        let ns = BASE;
        const entries: Entry[] = specs.map((s) => {
          ns += BigInt(s.gapNs);
          return { stream: s.stream, ns, text: s.partial ? s.text : s.text + '\n' };
        });
        expectExactResume(entries, cuts);
        // Nothing moves between streams: each stream's text is kept, give or take the
        // newlines that end partial lines.
        const chunks = read(entries, null, cuts);
        for (const stream of ['stdout', 'stderr'] as const) {
          const strip = (t: string[]) => t.join('').replace(/\n/g, '');
          expect(strip(chunks.filter((c) => c.stream === stream).map((c) => c.text))).toBe(
            strip(entries.filter((e) => e.stream === stream).map((e) => e.text)),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('docker log cursor format', () => {
  it('parses RFC3339Nano with trimmed fractions and offsets', () => {
    expect(parseRfc3339Nano('2025-11-29T12:15:05.754920418Z')).toBe(1_764_418_505_754_920_418n);
    expect(parseRfc3339Nano('2025-11-29T12:15:05.7549Z')).toBe(1_764_418_505_754_900_000n);
    expect(parseRfc3339Nano('2025-11-29T12:15:05Z')).toBe(1_764_418_505_000_000_000n);
    expect(parseRfc3339Nano('2025-11-29T13:15:05.5+01:00')).toBe(1_764_418_505_500_000_000n);
    expect(parseRfc3339Nano('yesterday')).toBeNull();
  });

  it('rejects what is not a cursor, and treats null as the start', () => {
    expect(parseCursor(null)).toBeNull();
    expect(() => parseCursor('42')).toThrow(/not a Docker log cursor/);
    expect(() => parseCursor('{"t":"x","since":-1,"skip":0}')).toThrow(/not a Docker log cursor/);
  });
});
