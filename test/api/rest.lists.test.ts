import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

const JSON_TYPE = 'application/json; charset=utf-8';

let t: TestApp;

// Seeded once; every assertion below is about this fixed set.
const SEED = [
  {
    alias: 'etl-daily',
    group_name: 'data',
    image: 'python:3.12',
    command: 'python etl.py',
    memory: 1024,
    env: [
      { name: 'STAGE', value: 'prod' },
      { name: 'REGION', value: 'eu' },
    ],
    tags: ['etl', 'daily'],
  },
  {
    alias: 'nightly-etl',
    group_name: 'data',
    image: 'python:3.11',
    command: 'python etl.py --nightly',
    memory: 256,
    env: [
      { name: 'STAGE', value: 'prod' },
      { name: 'REGION', value: 'us' },
    ],
    tags: ['etl'],
  },
  { alias: 'report', group_name: 'analytics', image: 'r-base:4', memory: 512, env: [{ name: 'STAGE', value: 'dev' }] },
  { alias: 'cleanup', group_name: 'ops', image: 'alpine:3', command: 'rm -rf /tmp/x' },
  { alias: '100%_done', group_name: 'ops', image: 'alpine:3', cpu: 128 },
];
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestApp();
  for (const d of SEED) {
    const res = await t.fetch('/api/v6/task', { method: 'POST', json: d });
    expect(res.status).toBe(200);
    ids[d.alias] = ((await res.json()) as { definition_id: string }).definition_id;
  }
});
afterAll(async () => {
  await t?.close();
});

async function get(path: string) {
  const res = await t.fetch(path);
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  return { status: res.status, body: (await res.json()) as any };
}

const aliases = (body: { definitions: { alias: string }[] }) => body.definitions.map((d) => d.alias);

describe('GET /api/v6/task', () => {
  it('lists with the classic envelope and defaults (group_name asc, limit 1024)', async () => {
    const { status, body } = await get('/api/v6/task');
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['total', 'definitions', 'limit', 'offset', 'sort_by', 'order', 'env_filters']);
    expect(body).toMatchObject({ total: 5, limit: 1024, offset: 0, sort_by: 'group_name', order: 'asc', env_filters: {} });
    expect(body.definitions.map((d: { group_name: string }) => d.group_name)).toEqual(['analytics', 'data', 'data', 'ops', 'ops']);
    const report = body.definitions[0];
    expect(report).toEqual({
      definition_id: ids.report,
      alias: 'report',
      group_name: 'analytics',
      image: 'r-base:4',
      memory: 512,
      env: [{ name: 'STAGE', value: 'dev' }],
      tags: [],
      ports: [],
    });
  });

  it('pages: limit and offset cut the rows, total counts all matches', async () => {
    const all = aliases((await get('/api/v6/task?sort_by=alias')).body);
    expect(all).toEqual(['100%_done', 'cleanup', 'etl-daily', 'nightly-etl', 'report']);
    const { body } = await get('/api/v6/task?sort_by=alias&limit=2&offset=1');
    expect(body).toMatchObject({ total: 5, limit: 2, offset: 1 });
    expect(aliases(body)).toEqual(all.slice(1, 3));
    const past = await get('/api/v6/task?offset=10');
    expect(past.body).toMatchObject({ total: 5, definitions: [] });
    expect((await get('/api/v6/task?limit=0')).body).toMatchObject({ total: 5, definitions: [] });
  });

  it('sorts by memory with nulls last in both directions', async () => {
    const asc = await get('/api/v6/task?sort_by=memory&order=asc');
    expect(asc.body.definitions.map((d: { memory?: number }) => d.memory ?? null)).toEqual([256, 512, 1024, null, null]);
    const desc = await get('/api/v6/task?sort_by=memory&order=desc');
    expect(desc.body.definitions.map((d: { memory?: number }) => d.memory ?? null)).toEqual([1024, 512, 256, null, null]);
    expect(desc.body).toMatchObject({ sort_by: 'memory', order: 'desc' });
  });

  it('sorts by image and alias descending', async () => {
    expect(aliases((await get('/api/v6/task?sort_by=alias&order=desc')).body)).toEqual(['report', 'nightly-etl', 'etl-daily', 'cleanup', '100%_done']);
    expect((await get('/api/v6/task?sort_by=image')).body.definitions[0].image).toBe('alpine:3');
  });

  it('400 on an unknown sort_by, a bad order, a negative or junk limit/offset', async () => {
    expect(await get('/api/v6/task?sort_by=cpu')).toEqual({
      status: 400,
      body: { error: 'Invalid field to order by [cpu], must be one of [alias, image, group_name, memory]' },
    });
    expect(await get('/api/v6/task?order=random')).toEqual({
      status: 400,
      body: { error: "Invalid order string, must be one of ('asc', 'desc'), was random" },
    });
    expect(await get('/api/v6/task?limit=-1')).toEqual({ status: 400, body: { error: 'limit must be a non-negative integer, got [-1]' } });
    expect(await get('/api/v6/task?limit=lots')).toEqual({ status: 400, body: { error: 'limit must be a non-negative integer, got [lots]' } });
    expect(await get('/api/v6/task?offset=1.5')).toEqual({ status: 400, body: { error: 'offset must be a non-negative integer, got [1.5]' } });
  });

  it('400 on an unknown filter key, listing the allowed keys', async () => {
    expect(await get('/api/v6/task?colour=red')).toEqual({
      status: 400,
      body: {
        error:
          'Invalid field to filter by [colour], must be one of [alias, image, group_name, command, definition_id, memory, cpu, gpu, target_cluster, env, limit, offset, sort_by, order]',
      },
    });
  });

  it('a filter given once matches substrings of alias/image/group_name/command and is echoed as an array', async () => {
    const { body } = await get('/api/v6/task?alias=etl&sort_by=alias');
    expect(aliases(body)).toEqual(['etl-daily', 'nightly-etl']);
    expect(body).toMatchObject({ total: 2, alias: ['etl'] });
    expect(aliases((await get('/api/v6/task?image=python&sort_by=alias')).body)).toEqual(['etl-daily', 'nightly-etl']);
    expect(aliases((await get('/api/v6/task?group_name=ops&sort_by=alias')).body)).toEqual(['100%_done', 'cleanup']);
    expect(aliases((await get('/api/v6/task?command=--nightly')).body)).toEqual(['nightly-etl']);
  });

  it('the same key given several times is an exact IN', async () => {
    const both = await get('/api/v6/task?alias=etl-daily&alias=report&sort_by=alias');
    expect(aliases(both.body)).toEqual(['etl-daily', 'report']);
    expect(both.body.alias).toEqual(['etl-daily', 'report']);
    // "etl" alone would match two as a substring; inside an IN it is exact and matches none.
    expect(aliases((await get('/api/v6/task?alias=etl&alias=report')).body)).toEqual(['report']);
  });

  it('other columns match exactly; integer columns reject junk', async () => {
    expect(aliases((await get(`/api/v6/task?definition_id=${ids.report}`)).body)).toEqual(['report']);
    expect(aliases((await get(`/api/v6/task?definition_id=${ids.report!.slice(0, 12)}`)).body)).toEqual([]);
    expect(aliases((await get('/api/v6/task?memory=512')).body)).toEqual(['report']);
    expect(aliases((await get('/api/v6/task?memory=256&memory=1024&sort_by=memory')).body)).toEqual(['nightly-etl', 'etl-daily']);
    expect(await get('/api/v6/task?memory=big')).toEqual({ status: 400, body: { error: 'memory must be an integer, got [big]' } });
  });

  it('filters are ANDed', async () => {
    const { body } = await get('/api/v6/task?group_name=data&image=3.11');
    expect(aliases(body)).toEqual(['nightly-etl']);
    expect(body).toMatchObject({ total: 1, group_name: ['data'], image: ['3.11'] });
  });

  it('env=NAME|VALUE requires that exact pair; repeated pairs are ANDed', async () => {
    const prod = await get('/api/v6/task?env=STAGE|prod&sort_by=alias');
    expect(aliases(prod.body)).toEqual(['etl-daily', 'nightly-etl']);
    expect(prod.body.env_filters).toEqual({ STAGE: 'prod' });
    const prodEu = await get('/api/v6/task?env=STAGE|prod&env=REGION|eu');
    expect(aliases(prodEu.body)).toEqual(['etl-daily']);
    expect(prodEu.body).toMatchObject({ total: 1, env_filters: { STAGE: 'prod', REGION: 'eu' } });
    expect(aliases((await get('/api/v6/task?env=STAGE|pro')).body)).toEqual([]);
    expect(await get('/api/v6/task?env=STAGE')).toEqual({ status: 400, body: { error: 'env filter must be NAME|VALUE, got [STAGE]' } });
  });

  it('treats LIKE wildcards and quotes in values as plain text', async () => {
    expect(aliases((await get(`/api/v6/task?alias=${encodeURIComponent('%')}`)).body)).toEqual(['100%_done']);
    expect(aliases((await get('/api/v6/task?alias=_')).body)).toEqual(['100%_done']);
    const injection = await get(`/api/v6/task?alias=${encodeURIComponent("x' OR '1'='1")}`);
    expect(injection.body).toMatchObject({ total: 0, definitions: [] });
    expect((await get('/api/v6/task')).body.total).toBe(5);
    expect(await get('/api/v6/task?alias=%00')).toEqual({ status: 400, body: { error: 'alias must not contain NUL characters' } });
  });

  it('an empty result is [] with total 0', async () => {
    const { status, body } = await get('/api/v6/task?alias=nothing-like-this');
    expect(status).toBe(200);
    expect(body).toEqual({
      total: 0,
      definitions: [],
      limit: 1024,
      offset: 0,
      sort_by: 'group_name',
      order: 'asc',
      env_filters: {},
      alias: ['nothing-like-this'],
    });
  });

  it('answers the same under /api/v1', async () => {
    expect(await get('/api/v1/task?alias=report')).toEqual(await get('/api/v6/task?alias=report'));
  });
});

describe('GET /api/v6/groups and /api/v6/tags', () => {
  it('lists distinct groups, sorted, with total, limit and offset', async () => {
    const { status, body } = await get('/api/v6/groups');
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['total', 'groups', 'limit', 'offset']);
    expect(body).toEqual({ total: 3, groups: ['analytics', 'data', 'ops'], limit: 1024, offset: 0 });
  });

  it('filters groups by a name substring and pages', async () => {
    expect((await get('/api/v6/groups?name=a')).body).toEqual({ total: 2, groups: ['analytics', 'data'], limit: 1024, offset: 0 });
    expect((await get('/api/v6/groups?limit=1&offset=1')).body).toEqual({ total: 3, groups: ['data'], limit: 1, offset: 1 });
    expect((await get('/api/v6/groups?name=zzz')).body).toEqual({ total: 0, groups: [], limit: 1024, offset: 0 });
    expect(await get('/api/v6/groups?limit=-2')).toEqual({ status: 400, body: { error: 'limit must be a non-negative integer, got [-2]' } });
    expect(await get('/api/v6/groups?name=%00')).toEqual({ status: 400, body: { error: 'name must not contain NUL characters' } });
    expect((await get('/api/v6/groups?sort_by=whatever')).status).toBe(200);
  });

  it('lists distinct tags with a total', async () => {
    const { status, body } = await get('/api/v6/tags');
    expect(status).toBe(200);
    expect(body).toEqual({ total: 2, tags: ['daily', 'etl'] });
    expect((await get('/api/v1/tags')).body).toEqual(body);
  });
});
