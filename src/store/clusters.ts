// Every read and write of the cluster registry (the `clusters` table).
import { and, asc, count, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { clusters, runs, type ClusterRow } from '../db/schema.js';
import { isStorableKey } from './keys.js';
import { preparedFor } from './prepared.js';

export type NewClusterRow = typeof clusters.$inferInsert;

export async function listClusters(db: DbOrTx): Promise<ClusterRow[]> {
  return db.select().from(clusters).orderBy(asc(clusters.name));
}

export async function getCluster(db: DbOrTx, name: string): Promise<ClusterRow | undefined> {
  if (!isStorableKey(name)) return undefined;
  const query = preparedFor(db, 'cluster_by_name', (d) =>
    d
      .select()
      .from(clusters)
      .where(eq(clusters.name, sql.placeholder('name')))
      .prepare('flotilla_cluster_by_name'),
  );
  const [row] = await query.execute({ name });
  return row;
}

/** Throws the driver's unique violation (23505) when the name is taken. */
export async function insertCluster(db: DbOrTx, row: NewClusterRow): Promise<ClusterRow> {
  const [created] = await db.insert(clusters).values(row).returning();
  return created!;
}

/** Applies `changes`; undefined when the cluster is not registered. */
export async function updateCluster(db: DbOrTx, name: string, changes: Partial<NewClusterRow>): Promise<ClusterRow | undefined> {
  if (!isStorableKey(name)) return undefined;
  const [row] = await db
    .update(clusters)
    .set({ ...changes, updatedAt: new Date() })
    .where(eq(clusters.name, name))
    .returning();
  return row;
}

export async function deleteCluster(db: DbOrTx, name: string): Promise<boolean> {
  if (!isStorableKey(name)) return false;
  const rows = await db.delete(clusters).where(eq(clusters.name, name)).returning({ name: clusters.name });
  return rows.length > 0;
}

/** Runs on the cluster that are not finished (uses runs_cluster_idx). */
export async function countActiveRuns(db: DbOrTx, name: string): Promise<number> {
  if (!isStorableKey(name)) return 0;
  const [row] = await db
    .select({ n: count() })
    .from(runs)
    .where(and(eq(runs.clusterName, name), inArray(runs.status, ['QUEUED', 'PENDING', 'RUNNING', 'NEEDS_RETRY'])));
  return Number(row?.n ?? 0);
}
