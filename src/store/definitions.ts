// Every read and write of task_definitions.
import { count, eq, inArray, like, sql, asc } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { taskDefinitions, type NewTaskDefinitionRow, type TaskDefinitionRow } from '../db/schema.js';
import { escapeLike, orderOf, whereOf, type ColumnMap, type ListSpec } from './listQuery.js';
import { isStorableKey } from './keys.js';

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

export async function getDefinitionById(db: DbOrTx, id: string): Promise<TaskDefinitionRow | undefined> {
  if (!isStorableKey(id)) return undefined;
  const [row] = await db.select().from(taskDefinitions).where(eq(taskDefinitions.definitionId, id));
  return row;
}

export async function getDefinitionByAlias(db: DbOrTx, alias: string): Promise<TaskDefinitionRow | undefined> {
  if (!isStorableKey(alias)) return undefined;
  const [row] = await db.select().from(taskDefinitions).where(eq(taskDefinitions.alias, alias));
  return row;
}

export async function getDefinitionsByIds(db: DbOrTx, ids: readonly string[]): Promise<TaskDefinitionRow[]> {
  const storable = ids.filter(isStorableKey);
  if (storable.length === 0) return [];
  return db.select().from(taskDefinitions).where(inArray(taskDefinitions.definitionId, storable));
}

/** Applies `changes`, bumps version; undefined when the definition does not exist. */
export async function updateDefinition(
  db: DbOrTx,
  id: string,
  changes: Partial<NewTaskDefinitionRow>,
): Promise<TaskDefinitionRow | undefined> {
  const [row] = await db
    .update(taskDefinitions)
    .set({ ...changes, version: sql`${taskDefinitions.version} + 1`, updatedAt: new Date() })
    .where(eq(taskDefinitions.definitionId, id))
    .returning();
  return row;
}

/** Deletes the definition; its runs, their events and logs go with it (ON DELETE CASCADE). */
export async function deleteDefinition(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db
    .delete(taskDefinitions)
    .where(eq(taskDefinitions.definitionId, id))
    .returning({ id: taskDefinitions.definitionId });
  return rows.length > 0;
}

export async function listDefinitions(db: DbOrTx, spec: ListSpec): Promise<{ total: number; rows: TaskDefinitionRow[] }> {
  const where = whereOf(definitionColumns, taskDefinitions.env, spec);
  const [rows, totals] = await Promise.all([
    db
      .select()
      .from(taskDefinitions)
      .where(where)
      .orderBy(...orderOf(definitionColumns, spec.sortBy, spec.order, taskDefinitions.definitionId))
      .limit(spec.limit)
      .offset(spec.offset),
    db.select({ n: count() }).from(taskDefinitions).where(where),
  ]);
  return { total: Number(totals[0]?.n ?? 0), rows };
}

export async function listGroups(
  db: DbOrTx,
  opts: { name?: string; limit: number; offset: number },
): Promise<{ total: number; groups: string[] }> {
  const where = opts.name ? like(taskDefinitions.groupName, `%${escapeLike(opts.name)}%`) : undefined;
  const [rows, totals] = await Promise.all([
    db
      .selectDistinct({ g: taskDefinitions.groupName })
      .from(taskDefinitions)
      .where(where)
      .orderBy(asc(taskDefinitions.groupName))
      .limit(opts.limit)
      .offset(opts.offset),
    db.select({ n: sql<number>`count(distinct ${taskDefinitions.groupName})` }).from(taskDefinitions).where(where),
  ]);
  return { total: Number(totals[0]?.n ?? 0), groups: rows.map((r) => r.g) };
}

export async function listTags(db: DbOrTx): Promise<string[]> {
  const rows = await db.execute<{ tag: string }>(
    sql`select distinct jsonb_array_elements_text(${taskDefinitions.tags}) as tag from ${taskDefinitions} order by 1`,
  );
  // postgres.js returns an array; PGlite returns { rows }.
  const list = Array.isArray(rows) ? rows : (rows as unknown as { rows: { tag: string }[] }).rows;
  return list.map((r) => r.tag);
}
