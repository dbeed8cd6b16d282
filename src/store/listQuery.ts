// The one way lists are filtered, sorted and paged (REST /task and /history, GraphQL
// connections). Column names are checked by the domain before they reach here; values
// are always bound parameters.
import { and, asc, desc, gt, inArray, like, lt, eq, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { EnvVar } from '../db/schema.js';

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
        parts.push(eq(col, f.values[0]));
        break;
      case 'in':
        parts.push(inArray(col, f.values));
        break;
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
