// Every read and write of templates.
import { and, count, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { isStorableKey, storableKeys } from './keys.js';
import { keysetOf, type ColumnMap, type ListSpec, type SortKey } from './listQuery.js';
import type { DbOrTx } from '../db/client.js';
import { templates, type TemplateRow } from '../db/schema.js';

export async function getTemplate(db: DbOrTx, id: string): Promise<TemplateRow | undefined> {
  if (!isStorableKey(id)) return undefined;
  const [row] = await db.select().from(templates).where(eq(templates.templateId, id));
  return row;
}

/** One version, or the newest when `version` is undefined. */
export async function getTemplateByName(db: DbOrTx, name: string, version?: number): Promise<TemplateRow | undefined> {
  if (!isStorableKey(name)) return undefined;
  const [row] = await db
    .select()
    .from(templates)
    .where(version === undefined ? eq(templates.templateName, name) : and(eq(templates.templateName, name), eq(templates.version, version)))
    .orderBy(desc(templates.version))
    .limit(1);
  return row;
}

export async function templateIdsByName(db: DbOrTx, name: string): Promise<string[]> {
  if (!isStorableKey(name)) return [];
  const rows = await db.select({ id: templates.templateId }).from(templates).where(eq(templates.templateName, name));
  return rows.map((r) => r.id);
}

export async function getTemplatesByIds(db: DbOrTx, ids: readonly string[]): Promise<TemplateRow[]> {
  const storable = storableKeys(ids);
  if (storable.length === 0) return [];
  return db.select().from(templates).where(inArray(templates.templateId, storable));
}

/**
 * Inserts the next version of `row.templateName` under a per-name lock, unless `same(latest)`
 * says the newest version already is this template (then that one is returned).
 */
export async function insertTemplateVersion(
  db: DbOrTx,
  row: Omit<typeof templates.$inferInsert, 'version'>,
  same: (latest: TemplateRow) => boolean,
): Promise<{ template: TemplateRow; created: boolean }> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${'template:' + row.templateName}))`);
    const latest = await getTemplateByName(tx, row.templateName);
    if (latest && same(latest)) return { template: latest, created: false };
    const [created] = await tx
      .insert(templates)
      .values({ ...row, version: (latest?.version ?? 0) + 1 })
      .returning();
    return { template: created!, created: true };
  });
}

export const templateColumns: ColumnMap = {
  template_name: templates.templateName,
  version: templates.version,
  template_id: templates.templateId,
};

export type TemplateListSpec = Omit<ListSpec, 'filters' | 'env'> & { latestOnly: boolean; sortBy: 'template_name' | 'version' };

/** A page of templates in the list's order, with each row's sort key (for GraphQL cursors). */
export async function listTemplates(db: DbOrTx, spec: TemplateListSpec): Promise<{ total: number; rows: TemplateRow[]; keys: SortKey[] }> {
  // Latest only: the row whose version is the highest of its name.
  const where: SQL | undefined = spec.latestOnly
    ? sql`${templates.version} = (select max(t2.version) from ${templates} t2 where t2.template_name = ${templates.templateName})`
    : undefined;
  const keyset = keysetOf(templateColumns, templates.templateId, { ...spec, filters: [], env: [] });
  const [found, totals] = await Promise.all([
    db
      .select({ template: templates, sortKey: keyset.key })
      .from(templates)
      .where(and(where, ...keyset.seek))
      .orderBy(...keyset.order)
      .limit(spec.limit)
      .offset(spec.offset),
    db.select({ n: count() }).from(templates).where(where),
  ]);
  return {
    total: Number(totals[0]?.n ?? 0),
    rows: found.map((f) => f.template),
    keys: found.map((f) => ({ value: f.sortKey, id: f.template.templateId })),
  };
}
