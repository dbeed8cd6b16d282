// Batch loaders for one GraphQL operation: every definition, run, run timeline and
// per-definition run page a query touches is fetched with one statement per tick instead of
// one per row. They cache for the life of the operation, so a long-lived subscription must
// forget what it cached before each payload (`forgetAll`).
//
// Run reads use store queries directly (docs/architecture.md "Layers": GraphQL reads may, batched); the
// per-definition page query lives here because only GraphQL pages runs per definition.
import DataLoader from 'dataloader';
import { and, asc, count, gt, inArray, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { runs, type RunEventRow, type RunLogRow, type RunRow } from '../../db/schema.js';
import type { TaskDefinition } from '../../domain/definitionService.js';
import type { Services } from '../../domain/services.js';
import { keysetOf, whereOf, type ListSpec, type SortKey } from '../../store/listQuery.js';
import { listRunEventsBySeq, listRunEventsFor } from '../../store/runEvents.js';
import type { ClusterView } from '../../domain/clusterService.js';
import { lastLogSeq, readLogChunks } from '../../store/runLogs.js';
import { getRunsByIds, runColumns } from '../../store/runs.js';

// Keeps the IN list, and so the statement, a bounded size.
const MAX_BATCH = 500;

export interface RunPage {
  total: number;
  rows: RunRow[];
  keys: SortKey[];
}

/**
 * One page of runs for each of `definitionIds`, ranked per definition by the spec's order:
 * two statements whatever the number of definitions (a windowed page and grouped counts).
 */
export async function pageRunsByDefinition(db: Db, definitionIds: readonly string[], spec: ListSpec): Promise<Map<string, RunPage>> {
  const where = and(inArray(runs.definitionId, [...definitionIds]), whereOf(runColumns, runs.env, spec));
  const keyset = keysetOf(runColumns, runs.runId, spec);
  const order = sql.join(keyset.order, sql`, `);
  const ranked = db
    .select({
      runId: runs.runId,
      sortKey: sql<string | null>`${keyset.key}`.as('sort_key'),
      rank: sql<number>`row_number() over (partition by ${runs.definitionId} order by ${order})`.as('rank'),
    })
    .from(runs)
    .where(and(where, ...keyset.seek))
    .as('ranked');
  const [rows, totals] = await Promise.all([
    spec.limit > 0
      ? db
          .select({ run: runs, rank: ranked.rank, sortKey: ranked.sortKey })
          .from(runs)
          .innerJoin(ranked, sql`${runs.runId} = ${ranked.runId}`)
          .where(and(gt(ranked.rank, spec.offset), lte(ranked.rank, spec.offset + spec.limit)))
          .orderBy(asc(ranked.rank))
      : Promise.resolve([]),
    db.select({ definitionId: runs.definitionId, n: count() }).from(runs).where(where).groupBy(runs.definitionId),
  ]);
  const pages = new Map<string, RunPage>(definitionIds.map((id) => [id, { total: 0, rows: [], keys: [] }]));
  for (const t of totals) pages.get(t.definitionId)!.total = Number(t.n);
  for (const { run, sortKey } of rows) {
    const page = pages.get(run.definitionId);
    page?.rows.push(run);
    page?.keys.push({ value: sortKey, id: run.runId });
  }
  return pages;
}

export function createLoaders(services: Services, database: Db | undefined) {
  const db = (): Db => {
    if (!database) throw new Error('createApp was given no database: GraphQL run fields read the store directly and need it');
    return database;
  };

  const byKey = async (column: 'definition_id' | 'alias', keys: readonly string[]) => {
    // No stored id or alias holds U+0000, and Postgres would fail comparing one.
    const storable = keys.filter((k) => !k.includes('\0'));
    if (storable.length === 0) return keys.map(() => null);
    // By id an archived definition still answers (its runs point at it); an alias names
    // only the live definition that holds it.
    const { rows } = await services.definitions.list(
      {
        filters: [{ field: column, op: 'in', values: storable }],
        env: [],
        sortBy: 'definition_id',
        order: 'asc',
        limit: storable.length,
        offset: 0,
      },
      { includeArchived: column === 'definition_id' },
    );
    for (const row of rows) {
      // Whichever key found the row, the other loader can answer it without a query.
      definitionById.prime(row.definitionId, row);
      if (!row.archivedAt) definitionByAlias.prime(row.alias, row);
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

  const runById = new DataLoader<string, RunRow | null>(
    async (ids) => {
      const storable = ids.filter((id) => !id.includes('\0'));
      const found = new Map((await getRunsByIds(db(), storable)).map((r) => [r.runId, r]));
      return ids.map((id) => found.get(id) ?? null);
    },
    { maxBatchSize: MAX_BATCH },
  );

  const eventsOfRun = new DataLoader<string, RunEventRow[]>(
    async (ids) => {
      const byRun = new Map<string, RunEventRow[]>(ids.map((id) => [id, []]));
      for (const e of await listRunEventsFor(db(), ids)) byRun.get(e.runId)?.push(e);
      return ids.map((id) => byRun.get(id)!);
    },
    { maxBatchSize: MAX_BATCH },
  );

  const eventBySeq = new DataLoader<number, RunEventRow | null>(
    async (seqs) => {
      const found = new Map((await listRunEventsBySeq(db(), seqs)).map((e) => [e.seq, e]));
      return seqs.map((s) => found.get(s) ?? null);
    },
    { maxBatchSize: MAX_BATCH },
  );

  // The cluster list is small and partly comes from engine configuration: read it once.
  const clusterByName = new DataLoader<string, ClusterView | null>(async (names) => {
    const all = new Map((await services.clusters.list()).map((c) => [c.name, c]));
    return names.map((n) => all.get(n) ?? null);
  });

  // One loader per distinct page spec: definitions listed together ask with the same
  // arguments, so their pages come from one batch.
  const runPages = new Map<string, DataLoader<string, RunPage>>();

  return {
    definitionById,
    definitionByAlias,
    runById,
    eventsOfRun,
    eventBySeq,
    clusterByName,

    /** Call after a definition is written or deleted so later reads in the operation see it. */
    forgetDefinition(row: Pick<TaskDefinition, 'definitionId' | 'alias'>): void {
      definitionById.clear(row.definitionId);
      // The alias may have moved to or from this definition; aliases are cheap to reload.
      definitionByAlias.clearAll();
    },

    /** Call when a run has changed (a mutation, a subscription event). */
    forgetRun(runId: string): void {
      runById.clear(runId);
      eventsOfRun.clear(runId);
    },

    /**
     * Drops every cached read. A subscription calls it for each payload: its operation lives
     * for hours, and a cache that only grows would hold every run a feed ever showed.
     */
    forgetAll(): void {
      for (const loader of [definitionById, definitionByAlias, runById, eventsOfRun, eventBySeq, clusterByName] as DataLoader<unknown, unknown>[])
        loader.clearAll();
      runPages.clear();
    },

    /** Remembers a run read some other way (a list page, a mutation result, an event). */
    primeRun(row: RunRow): void {
      runById.clear(row.runId).prime(row.runId, row);
    },

    runsOfDefinition(definitionId: string, spec: ListSpec): Promise<RunPage> {
      const key = JSON.stringify(spec);
      let loader = runPages.get(key);
      if (!loader) {
        loader = new DataLoader(
          async (ids) => {
            const pages = await pageRunsByDefinition(db(), ids, spec);
            return ids.map((id) => pages.get(id)!);
          },
          { maxBatchSize: MAX_BATCH },
        );
        runPages.set(key, loader);
      }
      return loader.load(definitionId);
    },

    /**
     * Up to `first` log chunks after `afterSeq` (and at most ~1 MiB), and whether more are
     * persisted beyond them right now.
     */
    async logPage(runId: string, afterSeq: number, first: number): Promise<{ chunks: RunLogRow[]; hasMore: boolean }> {
      const [chunks, last] = await Promise.all([readLogChunks(db(), runId, afterSeq, 1024 * 1024, first), lastLogSeq(db(), runId)]);
      const end = chunks.at(-1)?.seq ?? afterSeq;
      return { chunks, hasMore: last > end };
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
