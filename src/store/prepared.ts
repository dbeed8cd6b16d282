// Queries an API request runs every time (the definition and cluster lookups of an
// execute), built and prepared once per database handle instead of once per request:
// building a drizzle query costs more CPU than the lookup itself on a busy serve.
import { sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';

const cache = new WeakMap<object, Map<string, unknown>>();

/** The prepared query `name` for `db`, built by `build` the first time. */
export function preparedFor<T>(db: DbOrTx, name: string, build: (db: DbOrTx) => T): T {
  let byName = cache.get(db);
  if (!byName) cache.set(db, (byName = new Map()));
  let query = byName.get(name) as T | undefined;
  if (query === undefined) byName.set(name, (query = build(db)));
  return query;
}

type PostgresJsClient = { unsafe(text: string, params: unknown[], opts: { prepare: boolean }): Promise<Record<string, unknown>[]> };

/** The postgres.js client under a root database handle; undefined for PGlite and for transactions. */
function postgresJsClient(db: DbOrTx): PostgresJsClient | undefined {
  const client = (db as { $client?: Partial<PostgresJsClient> }).$client;
  return typeof client?.unsafe === 'function' ? (client as PostgresJsClient) : undefined;
}

/**
 * Runs a statement of fixed text with parameters `$1`, `$2`, … and returns its rows (column
 * names as keys, driver values). Against a Postgres server it is a named prepared statement,
 * one round trip: drizzle's `execute()` sends a query unprepared, and postgres.js then asks
 * the server for the parameter types before it can bind them (two round trips per query).
 * PGlite, in-process, and transactions go through drizzle.
 */
export async function queryFixed(db: DbOrTx, text: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  const client = postgresJsClient(db);
  if (client) return client.unsafe(text, params, { prepare: true });
  const chunks: SQL[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$(\d+)/g)) {
    chunks.push(sql.raw(text.slice(last, m.index)), sql`${params[Number(m[1]) - 1]}`);
    last = m.index + m[0].length;
  }
  chunks.push(sql.raw(text.slice(last)));
  const result = await db.execute(sql.join(chunks));
  return Array.isArray(result) ? (result as Record<string, unknown>[]) : ((result as { rows?: Record<string, unknown>[] }).rows ?? []);
}
