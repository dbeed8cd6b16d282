// Links to log lines, GitHub style: #L120 one line, #L120-L130 a range.

export interface LineRange {
  start: number;
  end: number;
}

export function parseLineHash(hash: string): LineRange | undefined {
  const m = /^#?L(\d+)(?:-L?(\d+))?$/.exec(hash.trim());
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 1 || b < 1) return undefined;
  return { start: Math.min(a, b), end: Math.max(a, b) };
}

export function formatLineHash(range: LineRange | number): string {
  const r = typeof range === 'number' ? { start: range, end: range } : range;
  return r.start === r.end ? `#L${r.start}` : `#L${r.start}-L${r.end}`;
}

/** A click on a line number; with shift held it extends the range from the current one. */
export function clickLine(current: LineRange | undefined, line: number, extend: boolean): LineRange {
  if (!extend || !current) return { start: line, end: line };
  return { start: Math.min(current.start, line), end: Math.max(current.start, line) };
}

export function inRange(range: LineRange | undefined, line: number): boolean {
  return range !== undefined && line >= range.start && line <= range.end;
}
