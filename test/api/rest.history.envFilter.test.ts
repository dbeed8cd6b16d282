// The run-list env filter (REST `env=NAME|VALUE`, GraphQL `filter.env`): a run matches when
// its env holds every pair exactly (case, bytes and all). A list filtered by env pairs alone
// is answered from run_env_pairs, which triggers on runs keep; every answer here is checked
// against `runs.env @> '[{"name": …, "value": …}]'` asked of the runs table directly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { runs, type EnvVar, type RunRow } from '../../src/db/schema.js';
import { rowsOf } from '../../src/store/runs.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition, createRun } from '../helpers/factories.js';

let t: TestApp;
const r: Record<string, RunRow> = {};

// Values the query string and the SQL could each get wrong: the separator, LIKE's
// wildcards, JSON's quote and backslash, non-ASCII, an empty value, case.
const ODD = ['a|b', '100%', 'x_y', 'say "hi"', 'back\\slash', 'café ☕ 日本', '', 'Prod'];

beforeAll(async () => {
  t = await createTestApp();
  const s = t.services;
  const def = await createDefinition(s, { alias: 'env-filter' });
  const env = (...pairs: [string, string][]): EnvVar[] => pairs.map(([name, value]) => ({ name, value }));
  r.prodEu = await createRun(s, { definition: def, status: 'STOPPED', input: { env: env(['STAGE', 'prod'], ['REGION', 'eu']) } });
  r.prodUs = await createRun(s, { definition: def, status: 'RUNNING', input: { env: env(['STAGE', 'prod'], ['REGION', 'us']) } });
  r.prodQueued = await createRun(s, { definition: def, input: { env: env(['STAGE', 'prod']) } });
  r.prodPending = await createRun(s, { definition: def, status: 'PENDING', input: { env: env(['STAGE', 'prod'], ['REGION', 'eu']) } });
  r.upper = await createRun(s, { definition: def, status: 'STOPPED', input: { env: env(['STAGE', 'Prod'], ['stage', 'prod']) } });
  for (const [i, value] of ODD.entries()) {
    r[`odd${i}`] = await createRun(s, { definition: def, status: i % 2 ? 'STOPPED' : 'RUNNING', input: { env: env(['ODD', value]) } });
  }
  // A second run for each odd value in another status, so each list has an order to keep.
  for (const [i, value] of ODD.entries()) {
    r[`odd${i}b`] = await createRun(s, { definition: def, status: i % 2 ? 'QUEUED' : 'STOPPED', input: { env: env(['ODD', value], ['STAGE', 'prod']) } });
  }
});
afterAll(async () => {
  await t?.close();
});

/** Run ids matching `pairs` by jsonb containment on runs, newest started first. */
async function containing(pairs: EnvVar[], extra = sql`true`): Promise<string[]> {
  const rows = rowsOf<{ run_id: string }>(
    await t.database.db.execute(
      sql`select run_id from runs where env @> ${JSON.stringify(pairs)}::jsonb and ${extra} order by started_at desc nulls last, run_id desc`,
    ),
  );
  return rows.map((x) => x.run_id);
}

async function history(query: string) {
  const res = await t.fetch(`/api/v6/history?${query}`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { total: number; history: { run_id: string }[] };
  return { total: body.total, ids: body.history.map((h) => h.run_id) };
}

const envQuery = (pairs: EnvVar[]) => pairs.map((p) => `env=${encodeURIComponent(`${p.name}|${p.value}`)}`).join('&');

describe('env=NAME|VALUE on /api/v6/history', () => {
  it('matches exactly: name and value compared whole and case-sensitively', async () => {
    const cases: EnvVar[][] = [
      [{ name: 'STAGE', value: 'prod' }],
      [{ name: 'STAGE', value: 'Prod' }],
      [{ name: 'stage', value: 'prod' }],
      [{ name: 'STAGE', value: 'pro' }],
      [{ name: 'STAG', value: 'prod' }],
      [{ name: 'REGION', value: 'eu' }],
    ];
    for (const pairs of cases) {
      const want = await containing(pairs);
      expect(await history(`${envQuery(pairs)}&sort_by=started_at&order=desc`)).toEqual({ total: want.length, ids: want });
    }
    // The oracle itself: STAGE|prod is these runs, not the "Prod" or "stage" ones.
    const prod = [r.prodEu, r.prodUs, r.prodQueued, r.prodPending, ...ODD.map((_, i) => r[`odd${i}b`])].map((x) => x!.runId);
    expect((await history('env=STAGE|prod')).ids.sort()).toEqual(prod.sort());
    expect((await history('env=STAGE|Prod')).ids).toEqual([r.upper!.runId]);
  });

  it('matches values with |, %, _, quotes, backslashes, non-ASCII and the empty value', async () => {
    for (const [i, value] of ODD.entries()) {
      const pairs = [{ name: 'ODD', value }];
      const want = await containing(pairs);
      expect(want.sort()).toEqual([r[`odd${i}`]!.runId, r[`odd${i}b`]!.runId].sort());
      const got = await history(`${envQuery(pairs)}&sort_by=started_at&order=desc`);
      expect(got).toEqual({ total: 2, ids: await containing(pairs) });
    }
    // `|` splits at the first one only: ODD|a|b is the value "a|b", not "a".
    expect((await history('env=ODD|a|b')).total).toBe(2);
    // LIKE wildcards are plain characters here.
    expect((await history(`env=${encodeURIComponent('ODD|100_')}`)).total).toBe(0);
  });

  it('needs every pair when several are given; a repeated pair is one condition', async () => {
    const cases: EnvVar[][] = [
      [
        { name: 'STAGE', value: 'prod' },
        { name: 'REGION', value: 'eu' },
      ],
      [
        { name: 'REGION', value: 'eu' },
        { name: 'STAGE', value: 'prod' },
      ],
      [
        { name: 'STAGE', value: 'prod' },
        { name: 'STAGE', value: 'prod' },
      ],
      [
        { name: 'STAGE', value: 'prod' },
        { name: 'ODD', value: 'a|b' },
      ],
      [
        { name: 'REGION', value: 'eu' },
        { name: 'REGION', value: 'us' },
      ],
    ];
    for (const pairs of cases) {
      const want = await containing(pairs);
      expect(await history(`${envQuery(pairs)}&sort_by=started_at&order=desc`)).toEqual({ total: want.length, ids: want });
    }
    expect((await history('env=STAGE|prod&env=REGION|eu')).total).toBe(2);
    expect((await history('env=REGION|eu&env=REGION|us')).total).toBe(0);
  });

  it('gives the same pages, totals and orders for every sort, page and added filter', async () => {
    const pairs = [{ name: 'STAGE', value: 'prod' }];
    const all = await containing(pairs);
    // Newest first, page by page.
    const pages: string[] = [];
    for (let offset = 0; offset < all.length + 3; offset += 3) {
      const page = await history(`${envQuery(pairs)}&sort_by=started_at&order=desc&limit=3&offset=${offset}`);
      expect(page.total).toBe(all.length);
      pages.push(...page.ids);
    }
    expect(pages).toEqual(all);
    // Oldest first puts the never-started runs last too.
    const asc = rowsOf<{ run_id: string }>(
      await t.database.db.execute(sql`select run_id from runs where env @> ${JSON.stringify(pairs)}::jsonb order by started_at asc nulls last, run_id asc`),
    ).map((x) => x.run_id);
    expect((await history(`${envQuery(pairs)}&sort_by=started_at&order=asc`)).ids).toEqual(asc);
    // Other sorts and other filters go through runs itself; the same runs come back.
    expect((await history(`${envQuery(pairs)}&sort_by=queued_at&order=desc`)).ids.sort()).toEqual([...all].sort());
    const stopped = await containing(pairs, sql`status = 'STOPPED'`);
    expect(await history(`${envQuery(pairs)}&status=STOPPED&sort_by=started_at&order=desc`)).toEqual({ total: stopped.length, ids: stopped });
  });

  it('follows runs as they start, change env and are deleted', async () => {
    const s = t.services;
    const def = await createDefinition(s, { alias: 'env-filter-moves' });
    const pairs = [{ name: 'MOVES', value: 'yes' }];
    const queued = await createRun(s, { definition: def, input: { env: pairs } });
    const running = await createRun(s, { definition: def, status: 'RUNNING', input: { env: pairs } });
    const check = async () => {
      const want = await containing(pairs);
      expect(await history(`${envQuery(pairs)}&sort_by=started_at&order=desc`)).toEqual({ total: want.length, ids: want });
      return want;
    };
    expect(await check()).toEqual([running.runId, queued.runId]);
    // Started later than the running one: now first.
    await t.database.db
      .update(runs)
      .set({ startedAt: new Date(running.startedAt!.getTime() + 60_000) })
      .where(eq(runs.runId, queued.runId));
    expect(await check()).toEqual([queued.runId, running.runId]);
    // Back to never started, then its env no longer has the pair.
    await t.database.db.update(runs).set({ startedAt: null }).where(eq(runs.runId, queued.runId));
    expect(await check()).toEqual([running.runId, queued.runId]);
    await t.database.db
      .update(runs)
      .set({ env: [{ name: 'MOVES', value: 'no' }] })
      .where(eq(runs.runId, queued.runId));
    expect(await check()).toEqual([running.runId]);
    expect((await history('env=MOVES|no')).ids).toEqual([queued.runId]);
    await t.database.db.delete(runs).where(eq(runs.runId, running.runId));
    expect(await check()).toEqual([]);
  });

  it('takes only string name/value objects as pairs, as containment does', async () => {
    const s = t.services;
    const def = await createDefinition(s, { alias: 'env-filter-shapes' });
    const run = await createRun(s, { definition: def, status: 'RUNNING', input: { env: [{ name: 'SHAPE', value: 'plain' }] } });
    // Written past the API's validation: what a hand-edited or imported row could hold.
    await t.database.db.execute(
      sql`update runs set env = ${JSON.stringify([
        { name: 'SHAPE', value: 'plain', note: 'extra keys do not matter' },
        { name: 'NUM', value: 1 },
        [{ name: 'NESTED', value: 'x' }],
        { name: 'NULL', value: null },
      ])}::jsonb where run_id = ${run.runId}`,
    );
    for (const [query, pairs] of [
      ['env=SHAPE|plain', [{ name: 'SHAPE', value: 'plain' }]],
      ['env=NUM|1', [{ name: 'NUM', value: '1' }]],
      ['env=NESTED|x', [{ name: 'NESTED', value: 'x' }]],
      ['env=NULL|null', [{ name: 'NULL', value: 'null' }]],
    ] as const) {
      const want = await containing([...pairs]);
      expect(await history(`${query}&sort_by=started_at&order=desc`)).toEqual({ total: want.length, ids: want });
    }
    expect((await history('env=SHAPE|plain')).ids).toEqual([run.runId]);
    expect((await history('env=NUM|1')).total).toBe(0);
  });
});

describe('filter.env on GraphQL runs', () => {
  it('pages newest started first with cursors over the same runs as containment', async () => {
    const pairs = [{ name: 'STAGE', value: 'prod' }];
    const want = await containing(pairs);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const res: { data?: any; errors?: unknown } = await t.gql(
        `query($after: String) { runs(first: 4, after: $after, filter: { env: [{ name: "STAGE", value: "prod" }] }, orderBy: { field: STARTED_AT, direction: DESC }) {
          totalCount edges { node { runId } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data.runs.totalCount).toBe(want.length);
      seen.push(...res.data.runs.edges.map((e: { node: { runId: string } }) => e.node.runId));
      if (!res.data.runs.pageInfo.hasNextPage) break;
      after = res.data.runs.pageInfo.endCursor;
    }
    expect(seen).toEqual(want);
  });
});
