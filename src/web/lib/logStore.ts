// The lines of one run's log, as they arrive from `runLogs` (stored chunks, then live ones).
// Chunks carry seq 1, 2, 3, … with no gaps: a chunk at or below the last seq is a repeat
// (a subscription replayed after a reconnect) and is dropped, so every line is kept once.
// Lines are kept as plain strings in one array: a million of them fit, and the view
// renders only the visible ones.
import { stripAnsi } from './ansi.js';

export interface LogChunk {
  seq: number;
  cursor: string;
  stream: string;
  at: string;
  text: string;
}

export type AddResult = 'added' | 'repeat' | 'gap';

export class LogStore {
  readonly lines: string[] = [];
  /** First line index of each chunk, with its time and stream (for the timestamp column). */
  private readonly chunkStart: number[] = [];
  private readonly chunkAt: string[] = [];
  private readonly chunkStream: string[] = [];
  lastSeq = 0;
  /** Where to resume: the cursor of the last chunk kept. */
  cursor: string | undefined;

  add(chunk: LogChunk): AddResult {
    if (chunk.seq <= this.lastSeq) return 'repeat';
    if (chunk.seq !== this.lastSeq + 1) return 'gap';
    this.chunkStart.push(this.lines.length);
    this.chunkAt.push(chunk.at);
    this.chunkStream.push(chunk.stream);
    const text = chunk.text.endsWith('\n') ? chunk.text.slice(0, -1) : chunk.text;
    for (const line of text.split('\n')) this.lines.push(line);
    this.lastSeq = chunk.seq;
    this.cursor = chunk.cursor;
    return 'added';
  }

  get length(): number {
    return this.lines.length;
  }

  /** Time and stream of the chunk that holds line `index` (0-based). */
  meta(index: number): { at: string; stream: string } | undefined {
    let lo = 0;
    let hi = this.chunkStart.length - 1;
    if (hi < 0 || index < 0 || index >= this.lines.length) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.chunkStart[mid] ?? 0) <= index) lo = mid;
      else hi = mid - 1;
    }
    return { at: this.chunkAt[lo] ?? '', stream: this.chunkStream[lo] ?? '' };
  }

  /**
   * The next line (0-based) containing `query`, case-insensitive, after `from` going forward
   * or before it going backward, wrapping around; -1 when no line matches.
   */
  search(query: string, from: number, direction: 1 | -1): number {
    const scan = this.startSearch(query, from, direction);
    let found: number | undefined;
    while ((found = scan(Number.POSITIVE_INFINITY)) === undefined);
    return found;
  }

  /**
   * The same search in slices, so a million lines never block the page: each call looks at
   * up to `budget` lines and answers the match, -1 (the whole log holds none) or undefined
   * (not done: call again).
   */
  startSearch(query: string, from: number, direction: 1 | -1): (budget: number) => number | undefined {
    const needle = query.toLowerCase();
    const n = this.lines.length;
    let step = 1;
    return (budget) => {
      if (!needle || n === 0) return -1;
      const stop = Math.min(n, step + budget - 1);
      for (; step <= stop; step++) {
        const i = (((from + direction * step) % n) + n) % n;
        const line = this.lines[i] ?? '';
        if (line.toLowerCase().includes(needle) && stripAnsi(line).toLowerCase().includes(needle)) return i;
      }
      return step > n ? -1 : undefined;
    };
  }

  /** Every matching line index (for the "3 of 12" count), up to `limit`. */
  countMatches(query: string, limit = 10_000): number {
    const needle = query.toLowerCase();
    if (!needle) return 0;
    let count = 0;
    for (const line of this.lines) {
      if (stripAnsi(line).toLowerCase().includes(needle) && ++count >= limit) break;
    }
    return count;
  }

  text(): string {
    return this.lines.map(stripAnsi).join('\n');
  }
}
