// Query string → ListSpec for the classic list endpoints (GET /task, GET /history,
// GET /task/{id}/history). Each list describes its columns once in a ListParamsConfig;
// the rules (paging, sort, env pairs, substring vs IN, _since/_until) live here so every
// list answers the same way. Anything the classic service turned into a 500 or silently
// into 0 is a 400 naming the parameter.
import { ValidationError } from '../../errors.js';
import { assertStorable } from '../../domain/validation.js';
import type { EnvVar } from '../../db/schema.js';
import type { ColumnFilter, ListSpec } from '../../store/listQuery.js';

/**
 * - `substring`: one value matches as a substring (LIKE), several values as an exact IN.
 * - `exact`: one value is `=`, several are IN.
 * - `time`: the bare key is not a filter; `<key>_since` is `>` and `<key>_until` is `<`,
 *   with RFC 3339 values.
 */
export type FilterKind = 'substring' | 'exact' | 'time';

export interface FilterConfig {
  kind: FilterKind;
  /**
   * Turns one query value into the bound parameter, throwing ValidationError when it is
   * not acceptable (e.g. a run `status` that is not a status). Not used for `time`
   * filters, which always parse RFC 3339.
   */
  parse?: (value: string, key: string) => unknown;
  /** Key of the store's column map when it differs from the query key (e.g. `user` → `owner`). */
  column?: string;
}

export interface ListParamsConfig {
  /** Values `sort_by` accepts, in the order the error message lists them; column-map keys. */
  sortFields: readonly string[];
  defaultSort: string;
  /** Query keys that filter, by their public name. */
  filters: Readonly<Record<string, FilterConfig>>;
  /** Whether `env=NAME|VALUE` is accepted (the table has an env array). Default true. */
  envFilter?: boolean;
  /** Default 1024, as the classic service. */
  defaultLimit?: number;
}

/** What the classic envelope echoes back besides `total` and the rows. */
export interface ListEcho {
  limit: number;
  offset: number;
  sort_by: string;
  order: 'asc' | 'desc';
  env_filters: Record<string, string>;
  /** Each column filter as given, always an array of the raw query values. */
  [filterKey: string]: unknown;
}

export interface ParsedList {
  spec: ListSpec;
  echo: ListEcho;
}

export type ListParser = (params: URLSearchParams) => ParsedList;

const PAGING_KEYS = ['limit', 'offset', 'sort_by', 'order'] as const;
/** Envelope keys a filter's echo would overwrite. */
const RESERVED_KEYS = [...PAGING_KEYS, 'env', 'env_filters', 'total'];
const TIME_SUFFIXES = { _since: 'gt', _until: 'lt' } as const;

function invalid(key: string, message: string): ValidationError {
  return new ValidationError([{ path: [key], message }]);
}

/** A non-negative integer query parameter (`limit`, `offset`); absent → `fallback`. */
export function parseNonNegativeInt(params: URLSearchParams, key: string, fallback: number): number {
  const raw = params.get(key);
  if (raw === null) return fallback;
  const value = raw.trim();
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw invalid(key, `${key} must be a non-negative integer, got [${raw}]`);
  }
  return n;
}

/** A `true`/`false` query parameter (any case); absent → false. */
export function parseBooleanParam(params: URLSearchParams, key: string): boolean {
  const raw = params.get(key);
  if (raw === null) return false;
  const value = raw.trim().toLowerCase();
  if (value !== 'true' && value !== 'false') throw invalid(key, `${key} must be true or false, got [${raw}]`);
  return value === 'true';
}

/** A `parse` for integer columns: rejects what Postgres would reject later as a 500. */
export function integerValue(value: string, key: string): number {
  const v = value.trim();
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || n < -2147483648 || n > 2147483647) {
    throw invalid(key, `${key} must be an integer, got [${value}]`);
  }
  return n;
}

/** A `parse` that accepts only the listed values; `message` words the error for one bad value. */
export function oneOfValue(allowed: readonly string[], message: (value: string, key: string) => string) {
  return (value: string, key: string): string => {
    if (!allowed.includes(value)) throw invalid(key, message(value, key));
    return value;
  };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** RFC 3339 with a zone → Date; anything else (including impossible dates) → 400. */
export function parseRfc3339(value: string, key: string): Date {
  // An unencoded "+02:00" in a query string arrives as " 02:00".
  const v = value.trim().replace(/ (\d{2}:\d{2})$/, '+$1');
  const m = RFC3339.exec(v);
  const bad = () => invalid(key, `${key} must be an RFC 3339 time with a zone (e.g. 2024-05-01T12:00:00Z), got [${value}]`);
  if (!m) throw bad();
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // Date.parse rolls 02-30 over to 03-01; insist the calendar fields are real.
  const probe = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw bad();
  }
  const date = new Date(v.replace(' ', 'T'));
  if (Number.isNaN(date.getTime())) throw bad();
  return date;
}

function parseEnvPair(raw: string): EnvVar {
  const at = raw.indexOf('|');
  if (at <= 0) throw invalid('env', `env filter must be NAME|VALUE, got [${raw}]`);
  return { name: raw.slice(0, at), value: raw.slice(at + 1) };
}

/** Every query key the list accepts, for the unknown-key message. */
function allowedKeys(config: ListParamsConfig): string[] {
  const keys: string[] = [];
  for (const [key, f] of Object.entries(config.filters)) {
    if (f.kind === 'time') keys.push(...Object.keys(TIME_SUFFIXES).map((s) => key + s));
    else keys.push(key);
  }
  if (config.envFilter !== false) keys.push('env');
  keys.push(...PAGING_KEYS);
  return keys;
}

/** Resolves `status_since` to its time filter, or undefined when it is not one. */
function timeFilter(config: ListParamsConfig, key: string): { base: string; op: 'gt' | 'lt'; filter: FilterConfig } | undefined {
  for (const [suffix, op] of Object.entries(TIME_SUFFIXES) as [keyof typeof TIME_SUFFIXES, 'gt' | 'lt'][]) {
    if (!key.endsWith(suffix)) continue;
    const base = key.slice(0, -suffix.length);
    const filter = config.filters[base];
    if (filter?.kind === 'time') return { base, op, filter };
  }
  return undefined;
}

/**
 * Builds the parser for one list. The config is checked here, once, so a typo in a list's
 * config fails at start-up rather than on the first request.
 */
export function createListParser(config: ListParamsConfig): ListParser {
  if (!config.sortFields.includes(config.defaultSort)) {
    throw new Error(`list config: default sort ${config.defaultSort} is not one of its sort fields`);
  }
  for (const key of Object.keys(config.filters)) {
    if (RESERVED_KEYS.includes(key)) {
      throw new Error(`list config: ${key} is reserved and cannot be a filter`);
    }
  }
  const allowed = allowedKeys(config);
  const defaultLimit = config.defaultLimit ?? 1024;

  return (params) => {
    const limit = parseNonNegativeInt(params, 'limit', defaultLimit);
    const offset = parseNonNegativeInt(params, 'offset', 0);

    const sortBy = params.get('sort_by') ?? config.defaultSort;
    if (!config.sortFields.includes(sortBy)) {
      throw invalid('sort_by', `Invalid field to order by [${sortBy}], must be one of [${config.sortFields.join(', ')}]`);
    }

    const rawOrder = params.get('order') ?? 'asc';
    const order = rawOrder.toLowerCase();
    if (order !== 'asc' && order !== 'desc') {
      throw invalid('order', `Invalid order string, must be one of ('asc', 'desc'), was ${rawOrder}`);
    }

    const env: EnvVar[] = [];
    const envEcho: Record<string, string> = {};
    const filters: ColumnFilter[] = [];
    const filterEcho: Record<string, string[]> = {};

    // keys() repeats a key once per value; each key is handled once with all its values.
    for (const key of new Set(params.keys())) {
      if ((PAGING_KEYS as readonly string[]).includes(key)) continue;
      const values = params.getAll(key);
      // Postgres cannot compare against U+0000; the driver would fail with a 500.
      for (const value of values) assertStorable(value, [key]);

      if (key === 'env' && config.envFilter !== false) {
        for (const raw of values) {
          const pair = parseEnvPair(raw);
          env.push(pair);
          envEcho[pair.name] = pair.value;
        }
        continue;
      }

      const filter = config.filters[key];
      if (filter && filter.kind !== 'time') {
        const column = filter.column ?? key;
        const parsed = values.map((v) => (filter.parse ? filter.parse(v, key) : v));
        const op = parsed.length > 1 ? 'in' : filter.kind === 'substring' ? 'like' : 'eq';
        filters.push({ field: column, op, values: parsed });
        filterEcho[key] = values;
        continue;
      }

      const time = timeFilter(config, key);
      if (time) {
        const column = time.filter.column ?? time.base;
        // Several bounds on one key are all applied (ANDed), which is what repeating means.
        for (const v of values) filters.push({ field: column, op: time.op, values: [parseRfc3339(v, key)] });
        filterEcho[key] = values;
        continue;
      }

      throw invalid(key, `Invalid field to filter by [${key}], must be one of [${allowed.join(', ')}]`);
    }

    return {
      spec: { filters, env, sortBy, order, limit, offset },
      echo: { limit, offset, sort_by: sortBy, order, env_filters: envEcho, ...filterEcho },
    };
  };
}

/** The classic list envelope, keys in the classic order; `rowsKey` is `definitions` or `history`. */
export function listEnvelope(rowsKey: string, total: number, rows: unknown[], echo: ListEcho): Record<string, unknown> {
  const { limit, offset, sort_by, order, env_filters, ...filters } = echo;
  return { total, [rowsKey]: rows, limit, offset, sort_by, order, env_filters, ...filters };
}
