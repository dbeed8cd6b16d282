// Batch loaders for one GraphQL operation: every definition a query touches (a run's
// definition, `taskDefinition(id)`) is fetched in one IN query per tick instead of one
// query per row. They cache for the life of the operation, so a long-lived subscription
// that reads definitions should clear the entry it needs fresh.
import DataLoader from 'dataloader';
import type { TaskDefinition } from '../../domain/definitionService.js';
import type { Services } from '../../domain/services.js';

// Keeps the IN list, and so the statement, a bounded size.
const MAX_BATCH = 500;

export function createLoaders(services: Services) {
  const byKey = async (column: 'definition_id' | 'alias', keys: readonly string[]) => {
    // No stored id or alias holds U+0000, and Postgres would fail comparing one.
    const storable = keys.filter((k) => !k.includes('\0'));
    if (storable.length === 0) return keys.map(() => null);
    const { rows } = await services.definitions.list({
      filters: [{ field: column, op: 'in', values: storable }],
      env: [],
      sortBy: 'definition_id',
      order: 'asc',
      limit: storable.length,
      offset: 0,
    });
    for (const row of rows) {
      // Whichever key found the row, the other loader can answer it without a query.
      definitionById.prime(row.definitionId, row);
      definitionByAlias.prime(row.alias, row);
    }
    const found = new Map(rows.map((r) => [column === 'alias' ? r.alias : r.definitionId, r]));
    return keys.map((k) => found.get(k) ?? null);
  };

  const definitionById: DataLoader<string, TaskDefinition | null> = new DataLoader((ids) => byKey('definition_id', ids), {
    maxBatchSize: MAX_BATCH,
  });
  const definitionByAlias: DataLoader<string, TaskDefinition | null> = new DataLoader((aliases) => byKey('alias', aliases), {
    maxBatchSize: MAX_BATCH,
  });

  return {
    definitionById,
    definitionByAlias,
    /** Call after a definition is written or deleted so later reads in the operation see it. */
    forgetDefinition(row: Pick<TaskDefinition, 'definitionId' | 'alias'>): void {
      definitionById.clear(row.definitionId);
      // The alias may have moved to or from this definition; aliases are cheap to reload.
      definitionByAlias.clearAll();
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
