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
import { createDefinition } from '../helpers/factories.js';

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
    const stored = await Promise.all(rows.map((r, i) => queueRunInsert(t.database.db, r, event(owners[i]!))));

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
