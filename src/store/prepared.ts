// Queries an API request runs every time (the definition and cluster lookups of an
// execute), built and prepared once per database handle instead of once per request:
// building a drizzle query costs more CPU than the lookup itself on a busy serve.
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
