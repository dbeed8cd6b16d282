// The console's browser-side logic: ANSI segments, line links, filters ⇄ URL, the log
// store (each line once across a resumed stream), exit codes in words, env text.
import { describe, expect, it } from 'vitest';
import { ansiSegments, stripAnsi } from '../../src/web/lib/ansi.js';
import { clickLine, formatLineHash, inRange, parseLineHash } from '../../src/web/lib/lineLinks.js';
import { parseSort, readFilters, toggleSort, writeFilters } from '../../src/web/lib/urlFilters.js';
import { LogStore, type LogChunk } from '../../src/web/lib/logStore.js';
import { describeExit, outcomeOf } from '../../src/web/lib/exitReason.js';
import { envToText, errorsByField, splitList, textToEnv } from '../../src/web/lib/env.js';

describe('ansiSegments', () => {
  it('leaves a plain line as one unstyled segment', () => {
    expect(ansiSegments('hello world')).toEqual([{ text: 'hello world', className: '' }]);
  });

  it('turns colour and bold codes into classes and drops the codes from the text', () => {
    const segs = ansiSegments('\u001b[32mok\u001b[0m and \u001b[1;31mfail\u001b[0m');
    expect(segs.map((s) => s.text).join('')).toBe('ok and fail');
    expect(segs.find((s) => s.text === 'ok')?.className).toBe('ansi-green-fg');
    const fail = segs.find((s) => s.text === 'fail')?.className ?? '';
    expect(fail).toContain('ansi-red-fg');
    expect(fail).toContain('ansi-bold');
  });

  it('strips codes for search and copy', () => {
    expect(stripAnsi('\u001b[33mwarn\u001b[0m: x')).toBe('warn: x');
  });
});

describe('line links', () => {
  it('parses one line and a range, either way round', () => {
    expect(parseLineHash('#L120')).toEqual({ start: 120, end: 120 });
    expect(parseLineHash('#L130-L120')).toEqual({ start: 120, end: 130 });
    expect(parseLineHash('#L5-9')).toEqual({ start: 5, end: 9 });
    expect(parseLineHash('#L0')).toBeUndefined();
    expect(parseLineHash('#section')).toBeUndefined();
    expect(parseLineHash('')).toBeUndefined();
  });

  it('formats what it parses', () => {
    expect(formatLineHash(7)).toBe('#L7');
    expect(formatLineHash({ start: 3, end: 5 })).toBe('#L3-L5');
    expect(parseLineHash(formatLineHash({ start: 3, end: 5 }))).toEqual({ start: 3, end: 5 });
  });

  it('extends a selection with shift-click from its first line', () => {
    expect(clickLine(undefined, 4, true)).toEqual({ start: 4, end: 4 });
    expect(clickLine({ start: 10, end: 10 }, 4, true)).toEqual({ start: 4, end: 10 });
    expect(clickLine({ start: 10, end: 12 }, 4, false)).toEqual({ start: 4, end: 4 });
    expect(inRange({ start: 4, end: 10 }, 10)).toBe(true);
    expect(inRange({ start: 4, end: 10 }, 11)).toBe(false);
  });
});

describe('filters in the URL', () => {
  const specs = {
    status: { kind: 'list', default: ['QUEUED', 'RUNNING'] },
    owner: { kind: 'string' },
    sort: { kind: 'string', default: '-QUEUED_AT' },
    size: { kind: 'int', default: 25 },
  } as const;

  it('reads defaults from an empty query', () => {
    expect(readFilters(specs, new URLSearchParams(''))).toEqual({ status: ['QUEUED', 'RUNNING'], owner: '', sort: '-QUEUED_AT', size: 25 });
  });

  it('writes only what differs from the defaults, and reads it back the same', () => {
    const values = { status: ['STOPPED'], owner: 'ana', sort: '-QUEUED_AT', size: 50 };
    const params = writeFilters(specs, values);
    expect(params.toString()).toBe('status=STOPPED&owner=ana&size=50');
    expect(readFilters(specs, params)).toEqual(values);
    expect(writeFilters(specs, { status: ['RUNNING', 'QUEUED'], owner: '', sort: '-QUEUED_AT', size: 25 }).toString()).toBe('');
  });

  it('keeps an emptied list distinct from the default, and accepts repeated keys', () => {
    const none = writeFilters(specs, { status: [] });
    expect(none.toString()).toBe('status=');
    expect(readFilters(specs, none).status).toEqual([]);
    expect(readFilters(specs, new URLSearchParams('status=A&status=B,C')).status).toEqual(['A', 'B', 'C']);
  });

  it('ignores a junk page size', () => {
    expect(readFilters(specs, new URLSearchParams('size=-3')).size).toBe(25);
    expect(readFilters(specs, new URLSearchParams('size=abc')).size).toBe(25);
  });

  it('sorts ascending on the first click and descending on the second', () => {
    expect(toggleSort('-QUEUED_AT', 'ALIAS')).toBe('ALIAS');
    expect(toggleSort('ALIAS', 'ALIAS')).toBe('-ALIAS');
    expect(toggleSort('-ALIAS', 'ALIAS')).toBe('ALIAS');
    expect(parseSort('-ALIAS')).toEqual({ field: 'ALIAS', direction: 'DESC' });
    expect(parseSort('')).toBeUndefined();
  });
});

describe('LogStore', () => {
  const chunk = (seq: number, text: string, stream = 'stdout'): LogChunk => ({ seq, cursor: `c${seq}`, stream, at: `2026-01-01T00:00:0${seq}.000Z`, text });

  it('splits chunks into lines and remembers where to resume', () => {
    const s = new LogStore();
    expect(s.add(chunk(1, 'a\nb\n'))).toBe('added');
    expect(s.add(chunk(2, 'c\n', 'stderr'))).toBe('added');
    expect(s.lines).toEqual(['a', 'b', 'c']);
    expect(s.cursor).toBe('c2');
    expect(s.meta(1)).toEqual({ at: '2026-01-01T00:00:01.000Z', stream: 'stdout' });
    expect(s.meta(2)?.stream).toBe('stderr');
    expect(s.meta(3)).toBeUndefined();
  });

  it('drops chunks seen before (a replay after reconnecting) and refuses a gap', () => {
    const s = new LogStore();
    s.add(chunk(1, 'a\n'));
    s.add(chunk(2, 'b\n'));
    expect(s.add(chunk(1, 'a\n'))).toBe('repeat');
    expect(s.add(chunk(2, 'b\n'))).toBe('repeat');
    expect(s.add(chunk(4, 'd\n'))).toBe('gap');
    expect(s.add(chunk(3, 'c\n'))).toBe('added');
    expect(s.lines).toEqual(['a', 'b', 'c']);
  });

  it('searches forward and backward with wrap-around, ignoring case and colour codes', () => {
    const s = new LogStore();
    s.add(chunk(1, 'alpha\nBeta\n\u001b[31mgamma\u001b[0m\nbeta again\n'));
    expect(s.search('beta', -1, 1)).toBe(1);
    expect(s.search('beta', 1, 1)).toBe(3);
    expect(s.search('beta', 3, 1)).toBe(1);
    expect(s.search('beta', 1, -1)).toBe(3);
    expect(s.search('gamma', 0, 1)).toBe(2);
    expect(s.search('[31m', 0, 1)).toBe(-1);
    expect(s.search('zeta', 0, 1)).toBe(-1);
  });

  it('searches in slices that add up to the same answer', () => {
    const s = new LogStore();
    s.add(chunk(1, `${Array.from({ length: 1000 }, (_, i) => `line ${i + 1}`).join('\n')}\n`));
    const scan = s.startSearch('line 777', -1, 1);
    let calls = 0;
    let found: number | undefined;
    while ((found = scan(100)) === undefined) calls++;
    expect(found).toBe(776);
    expect(calls).toBe(7);
    expect(s.startSearch('nope', 0, 1)(Number.POSITIVE_INFINITY)).toBe(-1);
    expect(s.text().split('\n')).toHaveLength(1000);
  });
});

describe('exit codes in words', () => {
  it('names common codes and adds the server reason', () => {
    expect(describeExit(0, null)).toBe('Succeeded (0)');
    expect(describeExit(137, 'OOMKilled')).toBe('Out of memory (137): OOMKilled');
    expect(describeExit(137, null)).toBe('Out of memory or killed (137)');
    expect(describeExit(143, 'Stopped by ana')).toBe('Terminated (143): Stopped by ana');
    expect(describeExit(3, null)).toBe('Failed (3)');
    expect(describeExit(null, 'Lost the container')).toBe('Lost the container');
    expect(outcomeOf('STOPPED', 0)).toBe('success');
    expect(outcomeOf('STOPPED', 1)).toBe('failure');
    expect(outcomeOf('RUNNING', null)).toBe('active');
  });
});

describe('env and form errors', () => {
  it('round-trips NAME=value lines', () => {
    const env = textToEnv('A=1\n\n# note\nB = two=2\nC');
    expect(env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: ' two=2' },
      { name: 'C', value: '' },
    ]);
    expect(envToText([{ name: 'A', value: '1' }])).toBe('A=1');
    expect(splitList('a, b,,c\nd')).toEqual(['a', 'b', 'c', 'd']);
  });

  it('puts each server message on the field its path names', () => {
    expect(
      errorsByField([
        { path: ['groupName'], message: 'bad group' },
        { path: ['input', 'env', '0', 'name'], message: 'bad env name' },
        { path: ['env', '1', 'value'], message: 'bad value' },
      ]),
    ).toEqual({ groupName: ['bad group'], env: ['bad env name', 'bad value'] });
  });
});
