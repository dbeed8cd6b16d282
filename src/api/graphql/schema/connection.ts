// Relay connections over the store's `{total, rows}` list queries, and the pieces every
// list field shares (sort direction, filter building). Cursors encode an offset: the lists
// are sorted by a column the client picks, so a keyset cursor would need one encoding per
// sort; an offset cursor is simple and correct as long as the list does not change between
// pages, which is the trade-off the classic REST `offset` already made.
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { cursorToOffset, offsetForArgs, offsetToCursor } from '@pothos/plugin-relay';
import { unstorableText } from '../../../domain/validation.js';
import type { ColumnFilter, FilterOp } from '../../../store/listQuery.js';
import { builder } from '../builder.js';

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

export const PAGE_SIZE = { default: 50, max: 500 } as const;

export const OrderDirection = builder.enumType('OrderDirection', {
  values: {
    ASC: { value: 'asc' },
    DESC: { value: 'desc' },
  } as const,
});

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

function decodeCursor(cursor: string | null | undefined, arg: string): void {
  if (cursor == null) return;
  let offset: number;
  try {
    offset = cursorToOffset(cursor);
  } catch {
    offset = Number.NaN;
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw badInput(`${arg} is not a cursor of this list; pass a cursor from a previous page's pageInfo or edges`);
  }
}

function checkSize(value: number | null | undefined, arg: string): void {
  if (value != null && (value < 0 || value > PAGE_SIZE.max)) {
    throw badInput(`${arg} must be between 0 and ${PAGE_SIZE.max}; page through longer lists with after/before`);
  }
}

/**
 * Resolves a connection from a page fetcher that returns the matching total and one page of
 * rows. Without `first`/`last` a page holds PAGE_SIZE.default rows.
 */
export async function resolveListConnection<T>(
  args: PageArgs,
  fetchPage: (page: { limit: number; offset: number }) => Promise<{ total: number; rows: T[] }>,
): Promise<Connection<T>> {
  checkSize(args.first, 'first');
  checkSize(args.last, 'last');
  decodeCursor(args.after, 'after');
  decodeCursor(args.before, 'before');

  // `last` without `before` counts back from the end, so the end must be known first.
  const totalCount = args.last != null && args.before == null ? (await fetchPage({ limit: 0, offset: 0 })).total : undefined;
  const page = offsetForArgs({ args, totalCount, defaultSize: PAGE_SIZE.default, maxSize: PAGE_SIZE.max });
  const { total, rows } = await fetchPage({ limit: page.limit, offset: page.offset });
  const edges = rows.slice(0, page.expectedSize).map((node, i) => ({ cursor: offsetToCursor(page.offset + i), node }));
  return {
    totalCount: total,
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage(rows.length),
      hasPreviousPage: page.hasPreviousPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/** Options for `t.connection`'s connection type: a name and the `totalCount` field. */
export function connectionTypeOptions(name: string) {
  return {
    name,
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
  if (typeof value === 'string') {
    const reason = unstorableText(value);
    if (reason) throw badInput(`${where} must not contain ${reason}`);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => assertNoNul(item, `${where}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) assertNoNul(item, `${where}.${key}`);
  }
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
