// Relay connections over the store's list queries, and the pieces every list field shares
// (sort direction, filter building). Cursors are keyset positions: the sort column's value
// and the row id, so a row inserted or deleted between two page fetches neither repeats a
// row nor skips one (an offset cursor did both). Both directions work: first/after and
// last/before.
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { unstorableIssues, unstorableText } from '../../../domain/validation.js';
import type { ColumnFilter, FilterOp, SortKey } from '../../../store/listQuery.js';
import { builder } from '../builder.js';

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

export const PAGE_SIZE = { default: 50, max: 500 } as const;

export const OrderDirection = builder.enumType('OrderDirection', {
  description: 'Sort direction. Missing values sort last either way.',
  values: {
    ASC: { value: 'asc', description: 'Smallest, earliest or A first.' },
    DESC: { value: 'desc', description: 'Largest, newest or Z first.' },
  } as const,
});

/** The one default every list shares: times newest first, everything else ascending. */
export function defaultDirection(field: string, timeFields: readonly string[]): 'asc' | 'desc' {
  return timeFields.includes(field) ? 'desc' : 'asc';
}

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface Connection<T> {
  totalCount: number;
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/**
 * A GraphQL error the client caused; Yoga shows its message instead of masking it. Built with
 * Yoga's helper, not `new GraphQLError`, so it is an instance of the `graphql` copy Yoga
 * checks against: under vitest, our sources load graphql's ESM build while Yoga loads the
 * CommonJS one, and Yoga would mask an error from the other copy as unexpected.
 */
export function badInput(message: string): GraphQLError {
  return createGraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** The kind of a sort column's values, to check a cursor's value before Postgres casts it. */
export type KeyKind = 'time' | 'int' | 'text';

const TIME_TEXT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;

function validKeyValue(value: unknown, kind: KeyKind): boolean {
  if (value === null) return true;
  if (typeof value !== 'string' || value.length > 10_000 || unstorableText(value)) return false;
  // Date.parse also rejects what the pattern lets through (month 13), which Postgres would fail to cast.
  if (kind === 'time') return TIME_TEXT.test(value) && !Number.isNaN(Date.parse(value.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00')));
  if (kind === 'int') return /^-?\d{1,10}$/.test(value) && Math.abs(Number(value)) <= 2 ** 31 - 1;
  return true;
}

/** A cursor: the list's sort field, the row's sort value (Postgres text) and its id. */
export function encodeCursor(sortBy: string, key: SortKey): string {
  return Buffer.from(JSON.stringify([sortBy, key.value, key.id]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string | null | undefined, arg: string, sortBy: string, kind: KeyKind): SortKey | undefined {
  if (cursor == null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const fix = "pass a cursor from this list's pageInfo or edges";
  if (!Array.isArray(parsed) || parsed.length !== 3 || typeof parsed[0] !== 'string' || typeof parsed[2] !== 'string') {
    throw badInput(`${arg} is not a cursor of this list; ${fix}`);
  }
  const [field, value, id] = parsed as [string, unknown, string];
  if (field !== sortBy) throw badInput(`${arg} is a cursor of this list in another order (${field}); ${fix} with the same orderBy`);
  if (!validKeyValue(value, kind) || id === '' || id.length > 1000 || unstorableText(id)) {
    throw badInput(`${arg} is not a cursor of this list; ${fix}`);
  }
  return { value: value as string | null, id };
}

function checkSize(value: number | null | undefined, arg: string): void {
  if (value != null && (value < 0 || value > PAGE_SIZE.max)) {
    throw badInput(`${arg} must be between 0 and ${PAGE_SIZE.max}; page through longer lists with after/before`);
  }
}

/** One page request to the store: keyset bounds, direction and how many rows to read. */
export interface KeysetPage {
  after?: SortKey;
  before?: SortKey;
  fromEnd: boolean;
  limit: number;
  offset: 0;
}

/**
 * Resolves a connection from a page fetcher that returns the matching total, one page of
 * rows and their sort keys. Without `first`/`last` a page holds PAGE_SIZE.default rows.
 * `sortBy` and `kind` describe the list's order, which each cursor records and is checked
 * against. One row more than asked is read to know whether another page follows.
 */
export async function resolveListConnection<T>(
  args: PageArgs,
  order: { sortBy: string; kind: KeyKind },
  fetchPage: (page: KeysetPage) => Promise<{ total: number; rows: T[]; keys: SortKey[] }>,
): Promise<Connection<T>> {
  checkSize(args.first, 'first');
  checkSize(args.last, 'last');
  const after = decodeCursor(args.after, 'after', order.sortBy, order.kind);
  const before = decodeCursor(args.before, 'before', order.sortBy, order.kind);

  // Relay's algorithm: `first` counts from the start of the window, `last` from its end;
  // given both, the last `last` of the first `first`.
  const fromEnd = args.last != null && args.first == null;
  const size = fromEnd ? args.last! : (args.first ?? PAGE_SIZE.default);
  const { total, rows, keys } = await fetchPage({ after, before, fromEnd, limit: size + 1, offset: 0 });
  const more = rows.length > size;
  let items = rows.slice(0, size).map((node, i) => ({ node, key: keys[i]! }));
  if (fromEnd) items.reverse();
  if (args.first != null && args.last != null) items = items.slice(Math.max(0, items.length - args.last));
  const edges = items.map(({ node, key }) => ({ cursor: encodeCursor(order.sortBy, key), node }));
  return {
    totalCount: total,
    edges,
    pageInfo: {
      // Forward, the cursor says rows precede the page; backward, `before` says rows follow.
      hasNextPage: fromEnd ? before != null : more,
      hasPreviousPage: fromEnd ? more : after != null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/** Options for `t.connection`'s connection type: a name and the `totalCount` field. */
export function connectionTypeOptions(name: string, items: string) {
  return {
    name,
    description: `A page of ${items}, with cursors to the pages around it and the total count.`,
    fields: (t: PothosSchemaTypes.ObjectFieldBuilder<Types, { totalCount: number }>) => ({
      totalCount: t.exposeInt('totalCount', { description: 'How many items match the filter, across all pages.' }),
    }),
  };
}

/**
 * Postgres cannot compare text with U+0000 (nor read jsonb holding an unpaired surrogate, as
 * the env filter is) and fails with an unexpected (masked) error, so a filter holding one is
 * refused as bad input, naming where it is (e.g. `filter.env[0].value`).
 */
export function assertNoNul(value: unknown, where: string): void {
  const [first] = unstorableIssues(value, [where]);
  if (first) throw badInput(first.message);
}

/** How one filter input field maps to a list column: substring (`like`), exact, or one-of. */
export type FilterRules<F> = { [K in keyof F]?: { column: string; op: FilterOp } };

/**
 * Turns a filter input into store column filters. Absent, null, empty-string and empty-list
 * values mean "no restriction on this field", as an unset search box would.
 */
export function columnFilters<F extends object>(filter: F | null | undefined, rules: FilterRules<F>): ColumnFilter[] {
  if (!filter) return [];
  const out: ColumnFilter[] = [];
  for (const [key, rule] of Object.entries(rules) as [string, { column: string; op: FilterOp }][]) {
    const value = (filter as Record<string, unknown>)[key];
    if (value == null || value === '') continue;
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) continue;
    out.push({ field: rule.column, op: rule.op, values });
  }
  return out;
}
