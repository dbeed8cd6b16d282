// The one way lists are filtered, sorted and paged (REST /task and /history, GraphQL
// connections). Column names are checked by the domain before they reach here; values
// are always bound parameters.
import { and, asc, desc, gt, inArray, like, lt, eq, or, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { EnvVar } from '../db/schema.js';
import { isStorableKey } from './keys.js';

export type FilterOp = 'like' | 'eq' | 'in' | 'gt' | 'lt';

export interface ColumnFilter {
  /** A key of the table's column map. */
  field: string;
  op: FilterOp;
  values: unknown[];
}

export interface ListSpec {
  filters: ColumnFilter[];
  /** Every pair must be present in the row's env array. */
  env: EnvVar[];
  sortBy: string;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
  /** Keyset bounds (GraphQL cursors): only rows strictly after / before these positions. */
  after?: SortKey;
  before?: SortKey;
  /** Read from the end of the order (`last`): rows come back in reverse order. */
  fromEnd?: boolean;
}

/** A row's position in a sorted list: its sort column as Postgres text, and its id. */
export interface SortKey {
  value: string | null;
  id: string;
}

export type ColumnMap = Record<string, PgColumn>;

export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => '\\' + c);
}

export function whereOf(columns: ColumnMap, envColumn: PgColumn | undefined, spec: Pick<ListSpec, 'filters' | 'env'>): SQL | undefined {
  const parts: SQL[] = [];
  for (const f of spec.filters) {
    const col = columns[f.field];
    if (!col) throw new Error(`no column for filter ${f.field}`);
    if (f.values.length === 0) continue;
    switch (f.op) {
      case 'like':
        parts.push(like(col, `%${escapeLike(String(f.values[0]))}%`));
        break;
      case 'eq':
      case 'in': {
        // A key no row can hold matches nothing (keys.ts), and is not sent.
        const values = f.values.filter((v) => typeof v !== 'string' || isStorableKey(v));
        parts.push(values.length === 0 ? sql`false` : f.op === 'eq' ? eq(col, values[0]) : inArray(col, values));
        break;
      }
      case 'gt':
        parts.push(gt(col, f.values[0]));
        break;
      case 'lt':
        parts.push(lt(col, f.values[0]));
        break;
    }
  }
  if (envColumn && spec.env.length > 0) {
    // jsonb containment uses the GIN index on env.
    parts.push(sql`${envColumn} @> ${JSON.stringify(spec.env.map((e) => ({ name: e.name, value: e.value })))}::jsonb`);
  }
  return parts.length ? and(...parts) : undefined;
}

export function orderOf(columns: ColumnMap, sortBy: string, order: 'asc' | 'desc', tieBreaker: PgColumn): SQL[] {
  const col = columns[sortBy];
  if (!col) throw new Error(`no column for sort ${sortBy}`);
  // Nulls last either way (the classic UI sorts by finished_at with running runs mixed in).
  const primary = order === 'asc' ? sql`${col} asc nulls last` : sql`${col} desc nulls last`;
  return [primary, order === 'asc' ? asc(tieBreaker) : desc(tieBreaker)];
}

/**
 * Rows strictly after (or before) `key` in the order `orderOf` gives: sort column with nulls
 * last in both directions, then the id. The key's value is the column's own text form, cast
 * back to the column's type, so timestamps keep their microseconds (a JS Date would drop
 * them and the boundary row would repeat).
 */
export function seekOf(columns: ColumnMap, sortBy: string, order: 'asc' | 'desc', tieBreaker: PgColumn, key: SortKey, side: 'after' | 'before'): SQL {
  const col = columns[sortBy];
  if (!col) throw new Error(`no column for sort ${sortBy}`);
  const forward = (order === 'asc') === (side === 'after');
  const beyond = (a: PgColumn, b: unknown) => (forward ? gt(a, b) : lt(a, b));
  const tie = beyond(tieBreaker, key.id);
  if (key.value === null) {
    // Null values come last: after a null only later nulls; before it every non-null.
    return side === 'after' ? and(sql`${col} is null`, tie)! : or(sql`${col} is not null`, tie)!;
  }
  const value = sql`cast(${key.value} as ${sql.raw(col.getSQLType())})`;
  const strictly = forward ? sql`${col} > ${value}` : sql`${col} < ${value}`;
  const sameThenTie = and(sql`${col} = ${value}`, tie)!;
  return side === 'after' ? or(strictly, sameThenTie, sql`${col} is null`)! : or(strictly, sameThenTie)!;
}

/** The where, order and key column of a keyset page (`after`/`before`/`fromEnd` in spec). */
export function keysetOf(columns: ColumnMap, tieBreaker: PgColumn, spec: ListSpec): { seek: SQL[]; order: SQL[]; key: SQL<string | null> } {
  const seek: SQL[] = [];
  if (spec.after) seek.push(seekOf(columns, spec.sortBy, spec.order, tieBreaker, spec.after, 'after'));
  if (spec.before) seek.push(seekOf(columns, spec.sortBy, spec.order, tieBreaker, spec.before, 'before'));
  const col = columns[spec.sortBy];
  if (!col) throw new Error(`no column for sort ${spec.sortBy}`);
  let order = orderOf(columns, spec.sortBy, spec.order, tieBreaker);
  if (spec.fromEnd) {
    // The exact reverse of orderOf: nulls first, both keys flipped.
    order = spec.order === 'asc' ? [sql`${col} desc nulls first`, desc(tieBreaker)] : [sql`${col} asc nulls first`, asc(tieBreaker)];
  }
  return { seek, order, key: sql<string | null>`${col}::text` };
}
