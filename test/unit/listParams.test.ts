import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import {
  createListParser,
  integerValue,
  listEnvelope,
  oneOfValue,
  parseNonNegativeInt,
  parseRfc3339,
  type ListParamsConfig,
} from '../../src/api/rest/listParams.js';

// A run-like list, to show the parser carries no run rules of its own: the status rule
// and the user → owner column come from the config.
const config: ListParamsConfig = {
  sortFields: ['alias', 'status', 'queued_at'],
  defaultSort: 'alias',
  filters: {
    alias: { kind: 'substring' },
    exit_reason: { kind: 'substring' },
    status: { kind: 'exact', parse: oneOfValue(['QUEUED', 'RUNNING', 'STOPPED'], (v) => `invalid status [${v}]`) },
    exit_code: { kind: 'exact', parse: integerValue },
    user: { kind: 'exact', column: 'owner' },
    queued_at: { kind: 'time' },
  },
};
const parse = createListParser(config);
const q = (s: string) => new URLSearchParams(s);

function errorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('list params: paging, sort, order', () => {
  it('defaults to limit 1024, offset 0, the default sort, asc, no filters', () => {
    expect(parse(q(''))).toEqual({
      spec: { filters: [], env: [], sortBy: 'alias', order: 'asc', limit: 1024, offset: 0 },
      echo: { limit: 1024, offset: 0, sort_by: 'alias', order: 'asc', env_filters: {} },
    });
  });

  it('honours a configured default limit', () => {
    const p = createListParser({ ...config, defaultLimit: 50 });
    expect(p(q('')).spec.limit).toBe(50);
  });

  it('reads limit, offset, sort_by and order', () => {
    const { spec, echo } = parse(q('limit=10&offset=20&sort_by=status&order=desc'));
    expect(spec).toMatchObject({ limit: 10, offset: 20, sortBy: 'status', order: 'desc' });
    expect(echo).toMatchObject({ limit: 10, offset: 20, sort_by: 'status', order: 'desc' });
  });

  it('accepts limit 0', () => {
    expect(parse(q('limit=0')).spec.limit).toBe(0);
  });

  it.each(['-1', 'abc', '1.5', '', '1e3', '0x10', '99999999999999999999'])('rejects limit=%j naming the param', (v) => {
    const err = errorOf(() => parse(q(`limit=${encodeURIComponent(v)}`)));
    expect(err.message).toBe(`limit must be a non-negative integer, got [${v}]`);
    expect(err.issues[0]!.path).toEqual(['limit']);
  });

  it('rejects a bad offset naming offset', () => {
    expect(errorOf(() => parse(q('offset=-5'))).message).toBe('offset must be a non-negative integer, got [-5]');
  });

  it('rejects an unknown sort_by with the classic message', () => {
    expect(errorOf(() => parse(q('sort_by=nope'))).message).toBe('Invalid field to order by [nope], must be one of [alias, status, queued_at]');
  });

  it('rejects a bad order with the classic message; accepts upper case', () => {
    expect(errorOf(() => parse(q('order=sideways'))).message).toBe("Invalid order string, must be one of ('asc', 'desc'), was sideways");
    expect(parse(q('order=DESC')).echo.order).toBe('desc');
  });

  it('round-trips every non-negative safe integer and rejects every other string', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(parseNonNegativeInt(q(`limit=${n}`), 'limit', 7)).toBe(n);
      }),
    );
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/^\s*\d+\s*$/.test(s)),
        (s) => {
          expect(() => parseNonNegativeInt(new URLSearchParams([['limit', s]]), 'limit', 7)).toThrow(ValidationError);
        },
      ),
    );
  });
});

describe('list params: column filters', () => {
  it('a substring key given once is LIKE, given several times is an exact IN', () => {
    expect(parse(q('alias=etl')).spec.filters).toEqual([{ field: 'alias', op: 'like', values: ['etl'] }]);
    expect(parse(q('alias=a&alias=b')).spec.filters).toEqual([{ field: 'alias', op: 'in', values: ['a', 'b'] }]);
  });

  it('an exact key given once is =, several times IN', () => {
    expect(parse(q('status=QUEUED')).spec.filters).toEqual([{ field: 'status', op: 'eq', values: ['QUEUED'] }]);
    expect(parse(q('status=QUEUED&status=RUNNING')).spec.filters).toEqual([{ field: 'status', op: 'in', values: ['QUEUED', 'RUNNING'] }]);
  });

  it('runs each value through the configured validator', () => {
    expect(errorOf(() => parse(q('status=QUEUED&status=BOGUS'))).message).toBe('invalid status [BOGUS]');
    expect(parse(q('exit_code=-1')).spec.filters).toEqual([{ field: 'exit_code', op: 'eq', values: [-1] }]);
    expect(errorOf(() => parse(q('exit_code=one'))).message).toBe('exit_code must be an integer, got [one]');
    expect(() => parse(q('exit_code=99999999999'))).toThrow(ValidationError);
  });

  it('maps a public key to its column but echoes the public key', () => {
    const { spec, echo } = parse(q('user=ada'));
    expect(spec.filters).toEqual([{ field: 'owner', op: 'eq', values: ['ada'] }]);
    expect(echo.user).toEqual(['ada']);
  });

  it('time columns take _since (>) and _until (<) with RFC 3339 values', () => {
    const { spec, echo } = parse(q('queued_at_since=2024-05-01T12:00:00Z&queued_at_until=2024-05-02T00:00:00.5%2B02:00'));
    expect(spec.filters).toEqual([
      { field: 'queued_at', op: 'gt', values: [new Date('2024-05-01T12:00:00Z')] },
      { field: 'queued_at', op: 'lt', values: [new Date('2024-05-01T22:00:00.500Z')] },
    ]);
    expect(echo).toMatchObject({
      queued_at_since: ['2024-05-01T12:00:00Z'],
      queued_at_until: ['2024-05-02T00:00:00.5+02:00'],
    });
  });

  it('reads an unencoded + offset (decoded to a space) as +', () => {
    expect(parse(q('queued_at_since=2024-05-01T12:00:00+02:00')).spec.filters[0]!.values).toEqual([new Date('2024-05-01T10:00:00Z')]);
  });

  it('applies every value of a repeated time bound', () => {
    expect(parse(q('queued_at_since=2024-01-01T00:00:00Z&queued_at_since=2024-02-01T00:00:00Z')).spec.filters).toHaveLength(2);
  });

  it.each(['yesterday', '2024-05-01', '2024-05-01T12:00:00', '2024-02-30T00:00:00Z', '2024-05-01T25:00:00Z', ''])('rejects the time %j', (v) => {
    const err = errorOf(() => parse(q(`queued_at_since=${encodeURIComponent(v)}`)));
    expect(err.message).toBe(`queued_at_since must be an RFC 3339 time with a zone (e.g. 2024-05-01T12:00:00Z), got [${v}]`);
  });

  it('the bare time column, an unknown key, and a suffix on a non-time column are unknown keys listing the allowed ones', () => {
    const allowed = 'alias, exit_reason, status, exit_code, user, queued_at_since, queued_at_until, env, limit, offset, sort_by, order';
    for (const key of ['queued_at', 'colour', 'alias_since']) {
      expect(errorOf(() => parse(q(`${key}=x`))).message).toBe(`Invalid field to filter by [${key}], must be one of [${allowed}]`);
    }
  });

  it('rejects a NUL character in a value (Postgres cannot compare against it)', () => {
    expect(errorOf(() => parse(q('alias=a%00b'))).message).toBe('alias must not contain NUL characters');
    expect(errorOf(() => parse(q('env=A|%00'))).message).toBe('env must not contain NUL characters');
  });

  it('echoes each filter as an array of the raw values', () => {
    const { echo } = parse(q('exit_code=1&alias=x&alias=y'));
    expect(echo).toEqual({
      limit: 1024,
      offset: 0,
      sort_by: 'alias',
      order: 'asc',
      env_filters: {},
      exit_code: ['1'],
      alias: ['x', 'y'],
    });
  });
});

describe('list params: env', () => {
  it('repeated env=NAME|VALUE pairs are all required and echoed as a map', () => {
    const { spec, echo } = parse(q('env=A|1&env=B|x|y'));
    expect(spec.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'x|y' },
    ]);
    expect(echo.env_filters).toEqual({ A: '1', B: 'x|y' });
  });

  it('an empty value is a real pair', () => {
    expect(parse(q('env=A|')).spec.env).toEqual([{ name: 'A', value: '' }]);
  });

  it.each(['A', '|1', ''])('rejects env=%j', (v) => {
    expect(errorOf(() => parse(q(`env=${encodeURIComponent(v)}`))).message).toBe(`env filter must be NAME|VALUE, got [${v}]`);
  });

  it('is an unknown key on a list without env', () => {
    const p = createListParser({ ...config, envFilter: false });
    expect(errorOf(() => p(q('env=A|1'))).message).toMatch(/^Invalid field to filter by \[env\]/);
  });
});

describe('list params: config and envelope', () => {
  it('refuses a default sort that is not a sort field', () => {
    expect(() => createListParser({ ...config, defaultSort: 'colour' })).toThrow(/default sort colour/);
  });

  it('refuses a filter named like an envelope key', () => {
    expect(() => createListParser({ ...config, filters: { limit: { kind: 'exact' } } })).toThrow(/reserved/);
    expect(() => createListParser({ ...config, filters: { total: { kind: 'exact' } } })).toThrow(/reserved/);
  });

  it('puts the envelope keys in the classic order', () => {
    const { echo } = parse(q('status=QUEUED&env=A|1'));
    const body = listEnvelope('history', 3, [], echo);
    expect(Object.keys(body)).toEqual(['total', 'history', 'limit', 'offset', 'sort_by', 'order', 'env_filters', 'status']);
    expect(body).toEqual({
      total: 3,
      history: [],
      limit: 1024,
      offset: 0,
      sort_by: 'alias',
      order: 'asc',
      env_filters: { A: '1' },
      status: ['QUEUED'],
    });
  });

  it('parseRfc3339 accepts a space for T and lower-case z', () => {
    expect(parseRfc3339('2024-05-01 12:00:00z', 'x')).toEqual(new Date('2024-05-01T12:00:00Z'));
  });
});
