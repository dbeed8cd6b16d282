// Every read and write of task_definitions.
import { and, asc, count, eq, inArray, isNull, like, ne, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { clusters, definitionHistory, runs, taskDefinitions, type ClusterRow, type NewTaskDefinitionRow, type TaskDefinitionRow } from '../db/schema.js';
import { escapeLike, keysetOf, whereOf, type ColumnMap, type ListSpec, type SortKey } from './listQuery.js';
import { isStorableKey, storableKeys } from './keys.js';
import { preparedFor } from './prepared.js';

export const definitionColumns: ColumnMap = {
  definition_id: taskDefinitions.definitionId,
  alias: taskDefinitions.alias,
  group_name: taskDefinitions.groupName,
  image: taskDefinitions.image,
  command: taskDefinitions.command,
  memory: taskDefinitions.memory,
  cpu: taskDefinitions.cpu,
  gpu: taskDefinitions.gpu,
  target_cluster: taskDefinitions.targetCluster,
  created_at: taskDefinitions.createdAt,
  updated_at: taskDefinitions.updatedAt,
};

export async function insertDefinition(db: DbOrTx, row: NewTaskDefinitionRow): Promise<TaskDefinitionRow> {
  const [created] = await db.insert(taskDefinitions).values(row).returning();
  return created!;
}

const live = isNull(taskDefinitions.archivedAt);

/** A live definition by id; archived ones only with `includeArchived` (their runs still point at them). */
export async function getDefinitionById(db: DbOrTx, id: string, opts: { includeArchived?: boolean } = {}): Promise<TaskDefinitionRow | undefined> {
  if (!isStorableKey(id)) return undefined;
  if (opts.includeArchived) {
    const [archived] = await db.select().from(taskDefinitions).where(eq(taskDefinitions.definitionId, id));
    return archived;
  }
  const query = preparedFor(db, 'definition_by_id', (d) =>
    d
      .select()
      .from(taskDefinitions)
      .where(and(eq(taskDefinitions.definitionId, sql.placeholder('id')), live))
      .prepare('flotilla_definition_by_id'),
  );
  const [row] = await query.execute({ id });
  return row;
}

/** The live definition with this alias (archived ones may share it). */
export async function getDefinitionByAlias(db: DbOrTx, alias: string): Promise<TaskDefinitionRow | undefined> {
  if (!isStorableKey(alias)) return undefined;
  const query = preparedFor(db, 'definition_by_alias', (d) =>
    d
      .select()
      .from(taskDefinitions)
      .where(and(eq(taskDefinitions.alias, sql.placeholder('alias')), live))
      .prepare('flotilla_definition_by_alias'),
  );
  const [row] = await query.execute({ alias });
  return row;
}

export interface ExecuteLookup {
  definition: TaskDefinitionRow;
  clusterName: string;
  cluster: ClusterRow | null;
  /** The cluster row's version (Postgres xmin); null when it is not registered. */
  clusterXmin: string | null;
}

/**
 * An execute's reads in one round trip: the live definition (by id or alias) and the
 * registry row of the cluster its run goes to: `cluster` when given (not ""), else the
 * definition's target_cluster, else `defaultCluster`. `clusterName` is the name looked up;
 * `cluster` is null when it is not registered.
 */
export async function getDefinitionForExecute(
  db: DbOrTx,
  target: { definitionId?: string; alias?: string },
  cluster: { requested: string | undefined; defaultName: string },
): Promise<ExecuteLookup | undefined> {
  const byAlias = target.alias !== undefined;
  const key = byAlias ? target.alias! : (target.definitionId ?? '');
  if (!isStorableKey(key)) return undefined;
  const clusterName = sql<string>`coalesce(nullif(${sql.placeholder('cluster')}::text, ''), nullif(${taskDefinitions.targetCluster}, ''), ${sql.placeholder('defaultCluster')}::text)`;
  const build = (d: DbOrTx, column: typeof taskDefinitions.alias | typeof taskDefinitions.definitionId, name: string) =>
    d
      // xmin: the version of the cluster's row, which any update changes (the insert's guard).
      .select({ definition: taskDefinitions, clusterName, cluster: clusters, clusterXmin: sql<string | null>`${clusters}.xmin::text` })
      .from(taskDefinitions)
      .leftJoin(clusters, eq(clusters.name, clusterName))
      .where(and(eq(column, sql.placeholder('key')), live))
      .prepare(name);
  const query = byAlias
    ? preparedFor(db, 'execute_by_alias', (d) => build(d, taskDefinitions.alias, 'flotilla_execute_by_alias'))
    : preparedFor(db, 'execute_by_id', (d) => build(d, taskDefinitions.definitionId, 'flotilla_execute_by_id'));
  const [found] = await query.execute({ key, cluster: cluster.requested ?? null, defaultCluster: cluster.defaultName });
  return found;
}

export async function getDefinitionsByIds(db: DbOrTx, ids: readonly string[]): Promise<TaskDefinitionRow[]> {
  const storable = storableKeys(ids);
  if (storable.length === 0) return [];
  return db.select().from(taskDefinitions).where(inArray(taskDefinitions.definitionId, storable));
}

/** Applies `changes`, bumps version; undefined when the definition does not exist. */
export async function updateDefinition(db: DbOrTx, id: string, changes: Partial<NewTaskDefinitionRow>): Promise<TaskDefinitionRow | undefined> {
  if (!isStorableKey(id)) return undefined;
  const [row] = await db
    .update(taskDefinitions)
    .set({ ...changes, version: sql`${taskDefinitions.version} + 1`, updatedAt: new Date() })
    .where(and(eq(taskDefinitions.definitionId, id), live))
    .returning();
  return row;
}

/** Archives a live definition; undefined when there is no live one with that id. */
export async function archiveDefinition(db: DbOrTx, id: string): Promise<TaskDefinitionRow | undefined> {
  const [row] = await db
    .update(taskDefinitions)
    .set({ archivedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(taskDefinitions.definitionId, id), live))
    .returning();
  return row;
}

/** Ids of the definition's runs that are not STOPPED, oldest first (at most `limit`). */
export async function unfinishedRunIds(db: DbOrTx, definitionId: string, limit = 1000): Promise<string[]> {
  const rows = await db
    .select({ runId: runs.runId })
    .from(runs)
    .where(and(eq(runs.definitionId, definitionId), ne(runs.status, 'STOPPED')))
    .orderBy(asc(runs.queuedAt), asc(runs.runId))
    .limit(limit);
  return rows.map((r) => r.runId);
}

/**
 * Deletes the definition and its runs (their events and logs go with them, ON DELETE
 * CASCADE). runs.definition_id has no foreign key (template runs put a template id there),
 * so the runs are deleted here, in the same transaction.
 */
export async function deleteDefinition(db: DbOrTx, id: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await tx.delete(taskDefinitions).where(eq(taskDefinitions.definitionId, id)).returning({ id: taskDefinitions.definitionId });
    if (rows.length === 0) return false;
    await tx.delete(runs).where(and(eq(runs.definitionId, id), eq(runs.executableType, 'task_definition')));
    return true;
  });
}

export async function listDefinitionHistory(db: DbOrTx, id: string) {
  if (!isStorableKey(id)) return [];
  return db.select().from(definitionHistory).where(eq(definitionHistory.definitionId, id)).orderBy(asc(definitionHistory.seq));
}

export async function listDefinitions(
  db: DbOrTx,
  spec: ListSpec,
  opts: { includeArchived?: boolean } = {},
): Promise<{ total: number; rows: TaskDefinitionRow[]; keys: SortKey[] }> {
  const filtered = whereOf(definitionColumns, taskDefinitions.env, spec);
  const where = opts.includeArchived ? filtered : and(filtered, live);
  const keyset = keysetOf(definitionColumns, taskDefinitions.definitionId, spec);
  const [found, totals] = await Promise.all([
    db
      .select({ definition: taskDefinitions, sortKey: keyset.key })
      .from(taskDefinitions)
      .where(and(where, ...keyset.seek))
      .orderBy(...keyset.order)
      .limit(spec.limit)
      .offset(spec.offset),
    db.select({ n: count() }).from(taskDefinitions).where(where),
  ]);
  return {
    total: Number(totals[0]?.n ?? 0),
    rows: found.map((r) => r.definition),
    keys: found.map((r) => ({ value: r.sortKey, id: r.definition.definitionId })),
  };
}

export async function listGroups(db: DbOrTx, opts: { name?: string; limit: number; offset: number }): Promise<{ total: number; groups: string[] }> {
  const where = opts.name ? and(like(taskDefinitions.groupName, `%${escapeLike(opts.name)}%`), live) : live;
  const [rows, totals] = await Promise.all([
    db
      .selectDistinct({ g: taskDefinitions.groupName })
      .from(taskDefinitions)
      .where(where)
      .orderBy(asc(taskDefinitions.groupName))
      .limit(opts.limit)
      .offset(opts.offset),
    db
      .select({ n: sql<number>`count(distinct ${taskDefinitions.groupName})` })
      .from(taskDefinitions)
      .where(where),
  ]);
  return { total: Number(totals[0]?.n ?? 0), groups: rows.map((r) => r.g) };
}

export async function listTags(db: DbOrTx): Promise<string[]> {
  const rows = await db.execute<{ tag: string }>(
    sql`select distinct jsonb_array_elements_text(${taskDefinitions.tags}) as tag from ${taskDefinitions} where ${taskDefinitions.archivedAt} is null order by 1`,
  );
  // postgres.js returns an array; PGlite returns { rows }.
  const list = Array.isArray(rows) ? rows : (rows as unknown as { rows: { tag: string }[] }).rows;
  return list.map((r) => r.tag);
}
