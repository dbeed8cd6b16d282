// New runs on a real database (PGlite, or Postgres with TEST_DATABASE_URL): executes that
// arrive together share one INSERT statement (one transaction, one commit), and each still
// gets its own row, its own first event, or its own error.
import { eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEvents, runs, type NewRunRow } from '../../src/db/schema.js';
import { buildRunRow, newRunId, type Executable } from '../../src/domain/runRow.js';
import { isUniqueViolation } from '../../src/store/errors.js';
import { queueRunInsert } from '../../src/store/runInserts.js';
import { rowsOf } from '../../src/store/runs.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition, uniqueAlias } from '../helpers/factories.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const exe: Executable = {
  type: 'task_definition',
  id: 'ins-def',
  version: 2,
  alias: 'ins',
  groupName: 'g',
  image: 'alpine:3',
  command: 'echo "it\'s \\ $HOME"',
  env: [{ name: 'FROM_DEF', value: 'déjà vu ✓' }],
  cpu: null,
  memory: null,
  gpu: null,
  ephemeralStorage: null,
  targetCluster: null,
  adaptiveResourceAllocation: null,
};

function row(owner: string, over: Partial<NewRunRow> = {}): NewRunRow {
  const runId = newRunId('local');
  const built = buildRunRow(
    exe,
    { owner, runTags: { team: 't"1' }, env: [{ name: 'MINE', value: owner }], labels: { k: 'v' } },
    { runId, engine: 'local', clusterName: 'default', mode: 'test', ownerIdVar: 'FLOTILLA_RUN_OWNER_ID', maxAttempts: 3 },
  );
  return { ...built, ...over };
}

const event = (owner: string) => ({ reason: `executed by ${owner}`, detail: { engine: 'local', cluster: 'default', actor: owner } });

/** The transaction that inserted each run (rows written by one statement share it). */
async function insertingTransactions(runIds: string[]): Promise<Set<string>> {
  const result = await t.database.db.execute(sql`select xmin::text as x from ${runs} where ${inArray(runs.runId, runIds)}`);
  return new Set(rowsOf<{ x: string }>(result).map((r) => r.x));
}

describe('group commit', () => {
  it('inserts runs queued in the same turn in one statement; each caller gets its own row, as stored, with its first event', async () => {
    const owners = Array.from({ length: 10 }, (_, i) => `owner-${i}`);
    const rows = owners.map((o) => row(o));
    const stored = (await Promise.all(rows.map((r, i) => queueRunInsert(t.database.db, r, event(owners[i]!))))).map((r) => r!);

    const ids = rows.map((r) => r.runId);
    expect(stored.map((r) => r.runId)).toEqual(ids);
    expect((await insertingTransactions(ids)).size).toBe(1);
    for (const [i, run] of stored.entries()) {
      const [fromDb] = await t.database.db.select().from(runs).where(eq(runs.runId, run.runId));
      expect(run).toEqual(fromDb);
      expect(run).toMatchObject({ owner: owners[i], status: 'QUEUED', attempt: 1, logsComplete: false, command: exe.command });
      expect(run.env).toContainEqual({ name: 'MINE', value: owners[i] });
      expect(run.env).toContainEqual({ name: 'FROM_DEF', value: 'déjà vu ✓' });
      expect(run.runTags).toEqual({ team: 't"1', owner_id: owners[i] });
      const events = await t.database.db.select().from(runEvents).where(eq(runEvents.runId, run.runId));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        kind: 'status',
        fromStatus: null,
        toStatus: 'QUEUED',
        reason: `executed by ${owners[i]}`,
        detail: event(owners[i]!).detail,
      });
    }
  });

  it('a row the database refuses fails only its own request; its neighbours are stored', async () => {
    const [first] = await Promise.all([queueRunInsert(t.database.db, row('taken'), event('taken'))]);
    const rows = [row('n-0'), row('n-1'), row('dup', { runId: first!.runId }), row('n-3'), row('n-4')];
    const results = await Promise.allSettled(rows.map((r) => queueRunInsert(t.database.db, r, event(r.owner))));

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(isUniqueViolation((results[2] as PromiseRejectedResult).reason)).toBe(true);
    const [kept] = await t.database.db.select().from(runs).where(eq(runs.runId, first!.runId));
    expect(kept!.owner).toBe('taken');
    for (const r of [rows[0]!, rows[1]!, rows[3]!, rows[4]!]) {
      const [stored] = await t.database.db.select().from(runs).where(eq(runs.runId, r.runId));
      expect(stored?.owner).toBe(r.owner);
      expect(await t.database.db.select().from(runEvents).where(eq(runEvents.runId, r.runId))).toHaveLength(1);
    }
    // The refused run's neighbours were not made twice, nor its events.
    const dupEvents = await t.database.db.select().from(runEvents).where(eq(runEvents.runId, first!.runId));
    expect(dupEvents).toHaveLength(1);
  });

  it('a row that leaves a column out gets the column default, in the same statement as rows that set it', async () => {
    const set = row('sets', { nodeLifecycle: 'ondemand', maxAttempts: 7 });
    const { nodeLifecycle: _n, maxAttempts: _m, ...rest } = row('omits');
    const omits = rest as NewRunRow;
    const [a, b] = await Promise.all([queueRunInsert(t.database.db, set, event('sets')), queueRunInsert(t.database.db, omits, event('omits'))]);
    expect(a).toMatchObject({ nodeLifecycle: 'ondemand', maxAttempts: 7 });
    expect(b).toMatchObject({ nodeLifecycle: 'spot', maxAttempts: 3 });
  });
});

describe('a guarded insert (a run built from an earlier read)', () => {
  const storedRun = async (runId: string) => (await t.database.db.select().from(runs).where(eq(runs.runId, runId)))[0];
  const eventCount = async (runId: string) => (await t.database.db.select().from(runEvents).where(eq(runEvents.runId, runId))).length;
  const builtFrom = (def: { definitionId: string; version: number }, owner: string, clusterName = 'default') =>
    row(owner, { definitionId: def.definitionId, definitionVersion: def.version, clusterName });

  it('stores the run while its definition is at the version read and live, and nothing once it is not', async () => {
    const def = await createDefinition(t.services);
    const current = builtFrom(def, 'g-current');
    expect(await queueRunInsert(t.database.db, current, event('g-current'), { clusterXmin: null })).toMatchObject({ runId: current.runId });

    await t.database.db.execute(sql`update task_definitions set image = 'changed:1', version = version + 1 where definition_id = ${def.definitionId}`);
    const stale = builtFrom(def, 'g-stale');
    expect(await queueRunInsert(t.database.db, stale, event('g-stale'), { clusterXmin: null })).toBeUndefined();
    expect(await storedRun(stale.runId)).toBeUndefined();
    expect(await eventCount(stale.runId)).toBe(0);

    const fresh = builtFrom({ definitionId: def.definitionId, version: def.version + 1 }, 'g-fresh');
    expect(await queueRunInsert(t.database.db, fresh, event('g-fresh'), { clusterXmin: null })).toBeDefined();
    await t.database.db.execute(sql`update task_definitions set archived_at = now() where definition_id = ${def.definitionId}`);
    const archived = builtFrom({ definitionId: def.definitionId, version: def.version + 1 }, 'g-archived');
    expect(await queueRunInsert(t.database.db, archived, event('g-archived'), { clusterXmin: null })).toBeUndefined();
    expect(await storedRun(archived.runId)).toBeUndefined();
  });

  it("checks the cluster's registry row: unregistered stays unregistered, a registered row stays unchanged", async () => {
    const def = await createDefinition(t.services);
    const name = uniqueAlias('guard-pool');
    const xmin = async () => rowsOf<{ x: string }>(await t.database.db.execute(sql`select xmin::text as x from clusters where name = ${name}`))[0]?.x ?? null;

    const beforeRegistered = builtFrom(def, 'c-before', name);
    expect(await xmin()).toBeNull();
    await t.services.clusters.create({ name, engine: 'local' });
    // Built when the cluster was not registered; it is now, so the decision may differ.
    expect(await queueRunInsert(t.database.db, beforeRegistered, event('c-before'), { clusterXmin: null })).toBeUndefined();

    const seen = await xmin();
    const current = builtFrom(def, 'c-current', name);
    expect(await queueRunInsert(t.database.db, current, event('c-current'), { clusterXmin: seen })).toBeDefined();
    await t.services.clusters.update(name, { status: 'maintenance' });
    const stale = builtFrom(def, 'c-stale', name);
    expect(await queueRunInsert(t.database.db, stale, event('c-stale'), { clusterXmin: seen })).toBeUndefined();
    expect(await storedRun(stale.runId)).toBeUndefined();
  });

  it('a stale guarded row in a shared statement leaves its neighbours stored', async () => {
    const def = await createDefinition(t.services);
    const rows = [row('s-0'), builtFrom({ definitionId: def.definitionId, version: def.version + 5 }, 's-stale'), row('s-2')];
    const results = await Promise.all(rows.map((r, i) => queueRunInsert(t.database.db, r, event(r.owner), i === 1 ? { clusterXmin: null } : undefined)));
    expect(results.map((r) => r?.runId)).toEqual([rows[0]!.runId, undefined, rows[2]!.runId]);
    expect((await insertingTransactions([rows[0]!.runId, rows[2]!.runId])).size).toBe(1);
    expect(await storedRun(rows[1]!.runId)).toBeUndefined();
  });
});

describe('execute after a change made elsewhere (by another process, straight in the database)', () => {
  const execute = (alias: string, body: Record<string, unknown> = {}) =>
    t.fetch(`/api/v6/task/alias/${alias}/execute`, { method: 'PUT', json: { run_tags: { owner_id: 'elsewhere' }, ...body } });
  const runCount = async () => rowsOf<{ n: number }>(await t.database.db.execute(sql`select count(*)::int as n from runs`))[0]!.n;

  it('runs the definition as it is now, and answers 404 once it is archived', async () => {
    const def = await createDefinition(t.services, { image: 'before:1' });
    for (let i = 0; i < 2; i++) expect(await (await execute(def.alias)).json()).toMatchObject({ image: 'before:1' });
    await t.database.db.execute(sql`update task_definitions set image = 'after:2', version = version + 1 where definition_id = ${def.definitionId}`);
    expect(await (await execute(def.alias)).json()).toMatchObject({ image: 'after:2' });
    await t.database.db.execute(sql`update task_definitions set archived_at = now() where definition_id = ${def.definitionId}`);
    const before = await runCount();
    const res = await execute(def.alias);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: `Definition with alias ${def.alias} not found` });
    expect(await runCount()).toBe(before);
  });

  it("follows the cluster's status: refused while in maintenance, accepted when active again", async () => {
    const name = uniqueAlias('elsewhere-pool');
    await t.services.clusters.create({ name, engine: 'local' });
    const def = await createDefinition(t.services, { targetCluster: name });
    for (let i = 0; i < 2; i++) expect((await execute(def.alias)).status).toBe(200);
    await t.database.db.execute(sql`update clusters set status = 'maintenance' where name = ${name}`);
    const before = await runCount();
    const refused = await execute(def.alias);
    expect(refused.status).toBe(409);
    expect((await refused.json()).error).toMatch(new RegExp(`^cluster ${name} \\(the definition's target_cluster\\) is in maintenance`));
    expect(await runCount()).toBe(before);
    await t.database.db.execute(sql`update clusters set status = 'active' where name = ${name}`);
    expect(await (await execute(def.alias)).json()).toMatchObject({ cluster: name, status: 'QUEUED' });
  });
});

describe('through the REST API', () => {
  it('concurrent executes each answer their own run, in the very bytes a later read of that run gives', async () => {
    const def = await createDefinition(t.services);
    const owners = Array.from({ length: 16 }, (_, i) => `rest-${i}`);
    const answers = await Promise.all(
      owners.map(async (owner) => {
        const res = await t.fetch(`/api/v6/task/${def.definitionId}/execute`, {
          method: 'PUT',
          json: { run_tags: { owner_id: owner }, env: [{ name: 'WHO', value: owner }] },
        });
        expect(res.status).toBe(200);
        return res.text();
      }),
    );
    const runs = answers.map((text) => JSON.parse(text) as { run_id: string; user: string; env: { name: string; value: string }[] });
    expect(new Set(runs.map((r) => r.run_id)).size).toBe(owners.length);
    for (const [i, run] of runs.entries()) {
      expect(run.user).toBe(owners[i]);
      expect(run.env).toContainEqual({ name: 'WHO', value: owners[i] });
      // A QUEUED run has only its status event, which the classic body leaves out.
      expect(await (await t.fetch(`/api/v6/history/${run.run_id}`)).text()).toBe(answers[i]);
    }
  });
});
