// The definitions store and service on a real database (PGlite, or Postgres with
// TEST_DATABASE_URL): what is stored, uniqueness, merges, cascades and list queries.
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEvents, runLogs, runs } from '../../src/db/schema.js';
import { createDefinitionService, type TaskDefinition } from '../../src/domain/definitionService.js';
import { ConflictError, NotFoundError } from '../../src/errors.js';
import * as store from '../../src/store/definitions.js';
import type { ColumnFilter, ListSpec } from '../../src/store/listQuery.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let database: TestDatabase;
let service: ReturnType<typeof createDefinitionService>;

beforeAll(async () => {
  database = await createTestDatabase();
  service = createDefinitionService({ db: database.db });
});
afterAll(async () => {
  await database?.close();
});

const spec = (over: Partial<ListSpec> = {}): ListSpec => ({
  filters: [],
  env: [],
  sortBy: 'alias',
  order: 'asc',
  limit: 100,
  offset: 0,
  ...over,
});

describe('create and get', () => {
  it('stores defaults and returns the row, version 1', async () => {
    const def = await service.create({ alias: 'st-create', image: 'alpine:3.20' });
    expect(def).toMatchObject({
      alias: 'st-create',
      groupName: 'default',
      image: 'alpine:3.20',
      command: null,
      memory: null,
      cpu: null,
      gpu: null,
      ephemeralStorage: null,
      env: [],
      tags: [],
      ports: [],
      adaptiveResourceAllocation: null,
      requiresDocker: false,
      targetCluster: null,
      version: 1,
    });
    expect(def.definitionId).toMatch(/^default-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(def.createdAt).toBeInstanceOf(Date);
    expect(def.updatedAt.getTime()).toBe(def.createdAt.getTime());
    expect(await store.getDefinitionById(database.db, def.definitionId)).toEqual(def);
  });

  it('stores every field given, trimmed alias and image, id prefixed by the group', async () => {
    const input = {
      alias: '  st-full ',
      image: ' repo/img:1 ',
      groupName: 'team-a',
      command: 'echo "$A"',
      memory: 2048,
      cpu: 1024,
      gpu: 1,
      ephemeralStorage: 20_000,
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: '' },
      ],
      tags: ['nightly', 'etl'],
      ports: [8080],
      adaptiveResourceAllocation: true,
      requiresDocker: true,
      targetCluster: 'east',
    };
    const def = await service.create(input);
    expect(def).toMatchObject({ ...input, alias: 'st-full', image: 'repo/img:1' });
    expect(def.definitionId.startsWith('team-a-')).toBe(true);
    expect(await service.get(def.definitionId)).toEqual(def);
    expect(await service.getByAlias('st-full')).toEqual(def);
  });

  it('answers NotFoundError with the classic messages', async () => {
    await expect(service.get('default-nope')).rejects.toThrow(new NotFoundError('Definition with ID default-nope not found'));
    await expect(service.getByAlias('nope')).rejects.toThrow(new NotFoundError('Definition with alias nope not found'));
    expect(await store.getDefinitionById(database.db, 'default-nope')).toBeUndefined();
  });

  it('loads many by id in one call, ignoring unknown ids', async () => {
    const a = await service.create({ alias: 'st-many-a', image: 'x' });
    const b = await service.create({ alias: 'st-many-b', image: 'x' });
    const rows = await store.getDefinitionsByIds(database.db, [a.definitionId, 'default-unknown', b.definitionId]);
    expect(rows.map((r) => r.alias).sort()).toEqual(['st-many-a', 'st-many-b']);
    expect(await store.getDefinitionsByIds(database.db, [])).toEqual([]);
  });
});

describe('alias uniqueness', () => {
  it('refuses a second definition with the same alias (classic message)', async () => {
    await service.create({ alias: 'st-unique', image: 'x' });
    const err = await service.create({ alias: 'st-unique', image: 'y', groupName: 'other' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).message).toBe('definition with alias [st-unique] aleady exists');
    const { total } = await service.list(spec({ filters: [{ field: 'alias', op: 'eq', values: ['st-unique'] }] }));
    expect(total).toBe(1);
  });

  it('lets exactly one of several concurrent creates win', async () => {
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => service.create({ alias: 'st-race', image: `img-${i}` })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
  });

  it('refuses renaming onto a taken alias, and leaves the definition as it was', async () => {
    await service.create({ alias: 'st-taken', image: 'x' });
    const mover = await service.create({ alias: 'st-mover', image: 'x' });
    await expect(service.update(mover.definitionId, { alias: 'st-taken' })).rejects.toThrow(
      new ConflictError('definition with alias [st-taken] aleady exists'),
    );
    expect(await service.get(mover.definitionId)).toEqual(mover);
  });
});

describe('update', () => {
  it('changes given fields, keeps the rest, replaces env whole, bumps version and updated_at', async () => {
    const def = await service.create({
      alias: 'st-upd',
      image: 'a',
      command: 'true',
      memory: 1024,
      tags: ['t'],
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
      ],
    });
    const v2 = await service.update(def.definitionId, { image: 'b', env: [{ name: 'C', value: '3' }] });
    expect(v2).toEqual({
      ...def,
      image: 'b',
      env: [{ name: 'C', value: '3' }],
      version: 2,
      updatedAt: v2.updatedAt,
    });
    expect(v2.updatedAt.getTime()).toBeGreaterThanOrEqual(def.updatedAt.getTime());
    expect(v2.createdAt).toEqual(def.createdAt);
    const v3 = await service.update(def.definitionId, { groupName: 'moved', memory: null });
    expect(v3).toMatchObject({ groupName: 'moved', memory: null, image: 'b', command: 'true', version: 3 });
    // The id is fixed at creation, even when the group changes.
    expect(v3.definitionId).toBe(def.definitionId);
    expect(await service.get(def.definitionId)).toEqual(v3);
  });

  it('bumps the version even for an update that changes nothing', async () => {
    const def = await service.create({ alias: 'st-upd-empty', image: 'a' });
    expect((await service.update(def.definitionId, {})).version).toBe(2);
  });

  it('answers NotFoundError for a missing definition', async () => {
    await expect(service.update('default-missing', { image: 'x' })).rejects.toThrow(new NotFoundError('Definition with ID default-missing not found'));
  });
});

describe('delete', () => {
  const runRow = (runId: string, definition: TaskDefinition) => ({
    runId,
    definitionId: definition.definitionId,
    definitionVersion: definition.version,
    alias: definition.alias,
    groupName: definition.groupName,
    image: definition.image,
    cpu: 256,
    memory: 512,
    cpuLimit: 256,
    memoryLimit: 512,
    engine: 'local' as const,
    clusterName: 'local',
    status: 'STOPPED' as const,
    owner: 'tester',
  });

  it('archives, then a purge removes the definition with its runs, their events and logs, and nothing else', async () => {
    const doomed = await service.create({ alias: 'st-del', image: 'x' });
    const kept = await service.create({ alias: 'st-del-kept', image: 'x' });
    const db = database.db;
    await db.insert(runs).values([runRow('local-del-1', doomed), runRow('local-del-2', doomed), runRow('local-kept-1', kept)]);
    await db.insert(runEvents).values([
      { runId: 'local-del-1', kind: 'status', toStatus: 'STOPPED' },
      { runId: 'local-kept-1', kind: 'status', toStatus: 'STOPPED' },
    ]);
    await db.insert(runLogs).values([
      { runId: 'local-del-1', seq: 1, stream: 'stdout', text: 'hello\n' },
      { runId: 'local-kept-1', seq: 1, stream: 'stdout', text: 'kept\n' },
    ]);

    await service.delete(doomed.definitionId);
    await expect(service.get(doomed.definitionId)).rejects.toBeInstanceOf(NotFoundError);
    expect((await service.get(doomed.definitionId, { includeArchived: true })).archivedAt).toBeInstanceOf(Date);
    expect(await db.select({ id: runs.runId }).from(runs).where(eq(runs.definitionId, doomed.definitionId))).toHaveLength(2);

    await service.delete(doomed.definitionId, { purge: true });
    await expect(service.get(doomed.definitionId, { includeArchived: true })).rejects.toBeInstanceOf(NotFoundError);
    const ids = ['local-del-1', 'local-del-2', 'local-kept-1'];
    expect((await db.select({ id: runs.runId }).from(runs).where(inArray(runs.runId, ids))).map((r) => r.id)).toEqual(['local-kept-1']);
    expect((await db.select().from(runEvents).where(inArray(runEvents.runId, ids))).map((r) => r.runId)).toEqual(['local-kept-1']);
    expect((await db.select().from(runLogs).where(inArray(runLogs.runId, ids))).map((r) => r.runId)).toEqual(['local-kept-1']);
    expect(await service.get(kept.definitionId)).toEqual(kept);
    expect(await db.select().from(runs).where(eq(runs.definitionId, doomed.definitionId))).toEqual([]);
  });

  it('answers NotFoundError for a missing definition, and a freed alias can be reused', async () => {
    const def = await service.create({ alias: 'st-del-again', image: 'x' });
    await service.delete(def.definitionId);
    await expect(service.delete(def.definitionId)).rejects.toThrow(new NotFoundError(`Definition with ID ${def.definitionId} not found`));
    expect((await service.create({ alias: 'st-del-again', image: 'y' })).image).toBe('y');
  });
});

describe('list', () => {
  // A group of their own keeps these assertions independent of the other tests' rows.
  const group = 'st_list';
  const inGroup: ColumnFilter = { field: 'group_name', op: 'eq', values: [group] };
  const aliases = (rows: TaskDefinition[]) => rows.map((r) => r.alias);
  const listed = (over: Partial<ListSpec> = {}) => service.list(spec({ ...over, filters: [inGroup, ...(over.filters ?? [])] }));

  // Aliases differ first at a digit so their order is the same under any collation.
  beforeAll(async () => {
    const rows = [
      { alias: 'lst1_under', image: 'python:3.12', memory: 4096, cpu: 512, env: [{ name: 'STAGE', value: 'prod' }], tags: ['etl', 'nightly'] },
      { alias: 'lst2Xunder', image: 'python:3.11', memory: 1024, cpu: 2048, env: [{ name: 'STAGE', value: 'dev' }], tags: ['adhoc'] },
      {
        alias: 'lst3-100%',
        image: 'node:20',
        memory: null,
        cpu: 1024,
        env: [
          { name: 'STAGE', value: 'prod' },
          { name: 'REGION', value: 'eu' },
        ],
      },
      { alias: 'lst4a', image: 'alpine', memory: 1024, cpu: null, command: 'python -m job', tags: ['etl'] },
      { alias: 'lst5b', image: 'alpine', memory: 512, cpu: 256, env: [{ name: 'REGION', value: 'eu' }] },
    ];
    for (const r of rows) await service.create({ groupName: group, ...r });
    await service.create({ alias: 'lst-other', image: 'python:3.12', groupName: 'st_list_other', memory: 64 });
  });

  it('counts every match and pages with limit/offset in a stable order', async () => {
    const all = await listed();
    expect(all.total).toBe(5);
    expect(aliases(all.rows)).toEqual(['lst1_under', 'lst2Xunder', 'lst3-100%', 'lst4a', 'lst5b']);
    const pages = [];
    for (let offset = 0; offset < 6; offset += 2) {
      const page = await listed({ limit: 2, offset });
      expect(page.total).toBe(5);
      pages.push(...aliases(page.rows));
    }
    expect(pages).toEqual(aliases(all.rows));
    // Past the end: no rows, the total still counts every match. (The result's keys are the
    // rows' keyset cursors, one per row; what matters here is total and rows.)
    const past = await listed({ offset: 10 });
    expect({ total: past.total, rows: past.rows }).toEqual({ total: 5, rows: [] });
    expect(past.keys).toHaveLength(past.rows.length);
  });

  it('matches substrings literally: % and _ are not wildcards', async () => {
    expect(aliases((await listed({ filters: [{ field: 'alias', op: 'like', values: ['_under'] }] })).rows)).toEqual(['lst1_under']);
    expect(aliases((await listed({ filters: [{ field: 'alias', op: 'like', values: ['100%'] }] })).rows)).toEqual(['lst3-100%']);
    expect(aliases((await listed({ filters: [{ field: 'image', op: 'like', values: ['python'] }] })).rows)).toEqual(['lst1_under', 'lst2Xunder']);
    expect(aliases((await listed({ filters: [{ field: 'command', op: 'like', values: ['-m job'] }] })).rows)).toEqual(['lst4a']);
  });

  it('filters exact, one-of, greater and less than, and ANDs filters', async () => {
    const by = async (filters: ListSpec['filters']) => aliases((await listed({ filters })).rows);
    expect(await by([{ field: 'memory', op: 'eq', values: [1024] }])).toEqual(['lst2Xunder', 'lst4a']);
    expect(await by([{ field: 'memory', op: 'gt', values: [1024] }])).toEqual(['lst1_under']);
    expect(await by([{ field: 'memory', op: 'lt', values: [1024] }])).toEqual(['lst5b']);
    expect(await by([{ field: 'cpu', op: 'in', values: [256, 2048] }])).toEqual(['lst2Xunder', 'lst5b']);
    expect(
      await by([
        { field: 'memory', op: 'eq', values: [1024] },
        { field: 'image', op: 'like', values: ['alp'] },
      ]),
    ).toEqual(['lst4a']);
    // An empty value list puts no restriction on the column.
    expect((await listed({ filters: [{ field: 'cpu', op: 'in', values: [] }] })).total).toBe(5);
    const groups = await service.list(spec({ filters: [{ field: 'group_name', op: 'in', values: [group, 'st_list_other'] }] }));
    expect(groups.total).toBe(6);
  });

  it('filters by env pairs, all of which must be present', async () => {
    const env = async (pairs: ListSpec['env']) => aliases((await listed({ env: pairs })).rows);
    expect(await env([{ name: 'STAGE', value: 'prod' }])).toEqual(['lst1_under', 'lst3-100%']);
    expect(await env([{ name: 'REGION', value: 'eu' }])).toEqual(['lst3-100%', 'lst5b']);
    expect(
      await env([
        { name: 'STAGE', value: 'prod' },
        { name: 'REGION', value: 'eu' },
      ]),
    ).toEqual(['lst3-100%']);
    expect(await env([{ name: 'STAGE', value: 'PROD' }])).toEqual([]);
    expect(await env([{ name: 'STAGE', value: 'pro' }])).toEqual([]);
  });

  it('sorts by any listed column, nulls last in both directions, ties by id in the same direction', async () => {
    const asc = (await listed({ sortBy: 'memory', order: 'asc' })).rows;
    expect(asc.map((r) => r.memory)).toEqual([512, 1024, 1024, 4096, null]);
    const desc = (await listed({ sortBy: 'memory', order: 'desc' })).rows;
    expect(desc.map((r) => r.memory)).toEqual([4096, 1024, 1024, 512, null]);
    const tiedAsc = asc.filter((r) => r.memory === 1024).map((r) => r.definitionId);
    const tiedDesc = desc.filter((r) => r.memory === 1024).map((r) => r.definitionId);
    expect(tiedAsc).toEqual([...tiedAsc].sort());
    expect(tiedDesc).toEqual([...tiedAsc].reverse());

    expect((await listed({ sortBy: 'cpu', order: 'desc' })).rows.map((r) => r.cpu)).toEqual([2048, 1024, 512, 256, null]);
    expect(aliases((await listed({ sortBy: 'created_at', order: 'desc', limit: 1 })).rows)).toEqual(['lst5b']);
    expect(aliases((await listed({ sortBy: 'image', order: 'desc' })).rows).slice(0, 2)).toEqual(['lst1_under', 'lst2Xunder']);
  });

  it('refuses a column that is not in the column map', async () => {
    await expect(listed({ sortBy: 'env' })).rejects.toThrow('no column for sort env');
    await expect(listed({ filters: [{ field: 'owner', op: 'eq', values: ['x'] }] })).rejects.toThrow('no column for filter owner');
  });
});

describe('groups and tags', () => {
  beforeAll(async () => {
    for (const [alias, groupName] of [
      ['gt-1', 'grp_alpha'],
      ['gt-2', 'grp_alpha'],
      ['gt-3', 'grp_beta'],
      ['gt-4', 'grp_gamma'],
    ]) {
      await service.create({ alias, image: 'x', groupName, tags: [`tag-${groupName}`, 'shared-tag'] });
    }
  });

  it('lists distinct group names, sorted, filtered by substring, with the distinct total', async () => {
    expect(await service.groups({ name: 'grp_', limit: 10, offset: 0 })).toEqual({ total: 3, groups: ['grp_alpha', 'grp_beta', 'grp_gamma'] });
    expect(await service.groups({ name: 'grp_', limit: 1, offset: 1 })).toEqual({ total: 3, groups: ['grp_beta'] });
    expect(await service.groups({ name: 'mm', limit: 10, offset: 0 })).toEqual({ total: 1, groups: ['grp_gamma'] });
    const all = await service.groups({ limit: 1000, offset: 0 });
    expect(new Set(all.groups).size).toBe(all.groups.length);
    expect(all.total).toBe(all.groups.length);
    expect(all.groups).toEqual(expect.arrayContaining(['default', 'grp_alpha']));
  });

  it('lists every distinct tag once', async () => {
    const { rows } = await service.list(spec({ limit: 10_000 }));
    const expected = [...new Set(rows.flatMap((r) => r.tags))].sort();
    const tags = await service.tags();
    // Sorted by the database collation; compared as a set so the test holds under any.
    expect([...tags].sort()).toEqual(expected);
    expect(tags).toEqual(expect.arrayContaining(['shared-tag', 'tag-grp_alpha', 'tag-grp_beta']));
    expect(tags.filter((t) => t === 'shared-tag')).toHaveLength(1);
  });
});
