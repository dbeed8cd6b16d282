// Reading runs over REST (spec/rest-v6.md "Runs" and "Lists"): /history with every filter,
// the get-run routes, the run JSON, status with ETag, self-reported status, events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { runs, type RunRow, type TaskDefinitionRow } from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition, createRun, createRunsInEveryStatus } from '../helpers/factories.js';

const JSON_TYPE = 'application/json; charset=utf-8';

let t: TestApp;
const defs: Record<string, TaskDefinitionRow> = {};
const r: Record<string, RunRow> = {};
let mark0: Date;
let markMid: Date;
let markEnd: Date;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  t = await createTestApp();
  const s = t.services;
  defs.etl = await createDefinition(s, { alias: 'etl-daily', command: 'python etl.py' });
  defs.nightly = await createDefinition(s, { alias: 'nightly-etl', command: 'python etl.py --nightly' });
  defs.report = await createDefinition(s, { alias: 'report', groupName: 'analytics' });
  defs.unused = await createDefinition(s, { alias: 'never-run' });
  // Database and test clocks may differ by a little; keep the marks well apart from runs.
  mark0 = new Date();
  await sleep(50);
  r.queued = await createRun(s, {
    definition: defs.etl,
    input: {
      owner: 'alice',
      env: [
        { name: 'STAGE', value: 'prod' },
        { name: 'REGION', value: 'eu' },
      ],
    },
  });
  // A run routed to another cluster; set in place, as cluster registration is not this file's subject.
  r.queued = (await t.database.db.update(runs).set({ clusterName: 'east' }).where(eq(runs.runId, r.queued.runId)).returning())[0]!;
  r.running = await createRun(s, {
    definition: defs.etl,
    status: 'RUNNING',
    input: { owner: 'bob', nodeLifecycle: 'ondemand', env: [{ name: 'STAGE', value: 'dev' }] },
  });
  r.ok = await createRun(s, { definition: defs.nightly, status: 'STOPPED', exitCode: 0, input: { owner: 'alice', env: [{ name: 'STAGE', value: 'prod' }] } });
  await sleep(50);
  markMid = new Date();
  await sleep(50);
  r.oom = await createRun(s, { definition: defs.nightly, status: 'STOPPED', exitCode: 137, exitReason: 'OOMKilled', input: { owner: 'carol' } });
  r.pending = await createRun(s, { definition: defs.report, status: 'PENDING', input: { owner: 'bob', description: 'quarterly' } });
  r.retry = await createRun(s, { definition: defs.report, status: 'NEEDS_RETRY', exitReason: 'node lost', input: { owner: 'alice' } });
  r.killed = await createRun(s, { definition: defs.report, status: 'STOPPED', exitCode: 1, exitReason: 'Task terminated by user', input: { owner: 'dave' } });
  await sleep(50);
  markEnd = new Date();
});
afterAll(async () => {
  await t?.close();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await t.fetch(path, { headers });
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

const ids = (body: { history: { run_id: string }[] }) => body.history.map((h) => h.run_id).sort();
const idsOf = (...runs: RunRow[]) => runs.map((x) => x.runId).sort();
const ALL = () => idsOf(...Object.values(r));

describe('GET /api/v6/history', () => {
  it('lists every run with the classic envelope and defaults', async () => {
    const { status, body } = await get('/api/v6/history');
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['total', 'history', 'limit', 'offset', 'sort_by', 'order', 'env_filters']);
    expect(body).toMatchObject({ total: 7, limit: 1024, offset: 0, sort_by: 'group_name', order: 'asc', env_filters: {} });
    expect(ids(body)).toEqual(ALL());
    // group_name asc, ties by run_id.
    const groups = body.history.map((h: { group_name: string }) => h.group_name);
    expect(groups).toEqual([...groups].sort());
    expect(groups[0]).toBe('analytics');
    const defaults = body.history.filter((h: { group_name: string }) => h.group_name === 'default').map((h: { run_id: string }) => h.run_id);
    expect(defaults).toEqual([...defaults].sort());
  });

  it('an empty result is [] with total 0 and the filters echoed', async () => {
    const { body } = await get('/api/v6/history?alias=nothing-like-it');
    expect(body).toEqual({ total: 0, history: [], limit: 1024, offset: 0, sort_by: 'group_name', order: 'asc', env_filters: {}, alias: ['nothing-like-it'] });
  });

  it('status: one value, repeated values (IN), echoed as an array', async () => {
    const one = await get('/api/v6/history?status=RUNNING');
    expect(ids(one.body)).toEqual(idsOf(r.running!));
    expect(one.body.status).toEqual(['RUNNING']);
    const many = await get('/api/v6/history?status=QUEUED&status=STOPPED');
    expect(ids(many.body)).toEqual(idsOf(r.queued!, r.ok!, r.oom!, r.killed!));
    expect(many.body).toMatchObject({ total: 4, status: ['QUEUED', 'STOPPED'] });
    expect(ids((await get('/api/v6/history?status=NEEDS_RETRY')).body)).toEqual(idsOf(r.retry!));
    expect(ids((await get('/api/v6/history?status=PENDING')).body)).toEqual(idsOf(r.pending!));
  });

  it('an invalid status → 400 invalid status [X]', async () => {
    expect(await get('/api/v6/history?status=DONE')).toMatchObject({ status: 400, body: { error: 'invalid status [DONE]' } });
    expect(await get('/api/v6/history?status=running')).toMatchObject({ status: 400, body: { error: 'invalid status [running]' } });
    expect(await get('/api/v6/history?status=QUEUED&status=FINISHED')).toMatchObject({ status: 400, body: { error: 'invalid status [FINISHED]' } });
  });

  it('alias and exit_reason match substrings once, exactly when repeated', async () => {
    expect(ids((await get('/api/v6/history?alias=etl')).body)).toEqual(idsOf(r.queued!, r.running!, r.ok!, r.oom!));
    expect(ids((await get('/api/v6/history?alias=nightly')).body)).toEqual(idsOf(r.ok!, r.oom!));
    expect(ids((await get('/api/v6/history?alias=etl&alias=report')).body)).toEqual(idsOf(r.pending!, r.retry!, r.killed!));
    expect(ids((await get('/api/v6/history?exit_reason=OOM')).body)).toEqual(idsOf(r.oom!));
    expect(ids((await get('/api/v6/history?exit_reason=terminated')).body)).toEqual(idsOf(r.killed!));
    const { body } = await get(`/api/v6/history?exit_reason=${encodeURIComponent('%')}`);
    expect(body.total).toBe(0);
  });

  it('definition_id, cluster_name, engine, node_lifecycle and user match exactly', async () => {
    expect(ids((await get(`/api/v6/history?definition_id=${defs.report!.definitionId}`)).body)).toEqual(idsOf(r.pending!, r.retry!, r.killed!));
    expect(ids((await get('/api/v6/history?cluster_name=east')).body)).toEqual(idsOf(r.queued!));
    expect(ids((await get('/api/v6/history?cluster_name=eas')).body)).toEqual([]);
    expect((await get('/api/v6/history?engine=local')).body.total).toBe(7);
    expect((await get('/api/v6/history?engine=docker')).body.total).toBe(0);
    expect(ids((await get('/api/v6/history?node_lifecycle=ondemand')).body)).toEqual(idsOf(r.running!));
    const alice = await get('/api/v6/history?user=alice');
    expect(ids(alice.body)).toEqual(idsOf(r.queued!, r.ok!, r.retry!));
    expect(alice.body.user).toEqual(['alice']);
    expect(ids((await get('/api/v6/history?user=ali')).body)).toEqual([]);
    expect(ids((await get('/api/v6/history?user=bob&user=dave')).body)).toEqual(idsOf(r.running!, r.pending!, r.killed!));
  });

  it('exit_code matches exactly; junk is a 400', async () => {
    expect(ids((await get('/api/v6/history?exit_code=137')).body)).toEqual(idsOf(r.oom!));
    expect(ids((await get('/api/v6/history?exit_code=0')).body)).toEqual(idsOf(r.ok!));
    expect(ids((await get('/api/v6/history?exit_code=0&exit_code=1')).body)).toEqual(idsOf(r.ok!, r.killed!));
    expect(await get('/api/v6/history?exit_code=abc')).toMatchObject({ status: 400, body: { error: 'exit_code must be an integer, got [abc]' } });
  });

  it('_since / _until on queued_at, started_at and finished_at', async () => {
    const iso = (d: Date) => encodeURIComponent(d.toISOString());
    expect(ids((await get(`/api/v6/history?queued_at_since=${iso(mark0)}`)).body)).toEqual(ALL());
    expect(ids((await get(`/api/v6/history?queued_at_until=${iso(markMid)}`)).body)).toEqual(idsOf(r.queued!, r.running!, r.ok!));
    const since = await get(`/api/v6/history?queued_at_since=${iso(markMid)}`);
    expect(ids(since.body)).toEqual(idsOf(r.oom!, r.pending!, r.retry!, r.killed!));
    expect(since.body.queued_at_since).toEqual([markMid.toISOString()]);
    expect(ids((await get(`/api/v6/history?queued_at_since=${iso(markMid)}&queued_at_until=${iso(markEnd)}&status=STOPPED`)).body)).toEqual(
      idsOf(r.oom!, r.killed!),
    );
    // Runs never started or finished have no time, so they match neither bound.
    expect(ids((await get(`/api/v6/history?started_at_since=${iso(mark0)}`)).body)).toEqual(idsOf(r.running!, r.ok!, r.oom!, r.retry!, r.killed!));
    expect(ids((await get(`/api/v6/history?finished_at_until=${iso(markMid)}`)).body)).toEqual(idsOf(r.ok!));
    expect(ids((await get(`/api/v6/history?finished_at_since=${iso(markEnd)}`)).body)).toEqual([]);
    expect(await get('/api/v6/history?queued_at_since=yesterday')).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^queued_at_since must be an RFC 3339 time/) },
    });
    expect((await get('/api/v6/history?queued_at=2024-01-01T00:00:00Z')).status).toBe(400);
  });

  it('env=NAME|VALUE needs that exact pair; several are ANDed; reserved vars too', async () => {
    const prod = await get('/api/v6/history?env=STAGE|prod');
    expect(ids(prod.body)).toEqual(idsOf(r.queued!, r.ok!));
    expect(prod.body.env_filters).toEqual({ STAGE: 'prod' });
    const both = await get('/api/v6/history?env=STAGE|prod&env=REGION|eu');
    expect(ids(both.body)).toEqual(idsOf(r.queued!));
    expect(both.body.env_filters).toEqual({ STAGE: 'prod', REGION: 'eu' });
    expect(ids((await get('/api/v6/history?env=STAGE|pro')).body)).toEqual([]);
    expect(ids((await get(`/api/v6/history?env=FLOTILLA_RUN_ID|${r.oom!.runId}`)).body)).toEqual(idsOf(r.oom!));
    expect(ids((await get('/api/v6/history?env=FLOTILLA_RUN_OWNER_ID|carol')).body)).toEqual(idsOf(r.oom!));
    expect(await get('/api/v6/history?env=STAGE')).toMatchObject({ status: 400, body: { error: 'env filter must be NAME|VALUE, got [STAGE]' } });
  });

  it('filters are ANDed', async () => {
    const { body } = await get('/api/v6/history?alias=etl&user=alice&status=STOPPED');
    expect(ids(body)).toEqual(idsOf(r.ok!));
    expect(body).toMatchObject({ total: 1, alias: ['etl'], user: ['alice'], status: ['STOPPED'] });
  });

  it('an unknown filter key → 400 listing the allowed keys', async () => {
    expect(await get('/api/v6/history?colour=red')).toMatchObject({
      status: 400,
      body: {
        error:
          'Invalid field to filter by [colour], must be one of [status, alias, definition_id, cluster_name, engine, exit_code, exit_reason, user, node_lifecycle, queued_at_since, queued_at_until, started_at_since, started_at_until, finished_at_since, finished_at_until, env, limit, offset, sort_by, order]',
      },
    });
  });

  it('sorts by each allowed field, nulls last in both directions', async () => {
    for (const field of ['run_id', 'cluster_name', 'status', 'started_at', 'finished_at', 'group_name', 'queued_at', 'alias']) {
      for (const order of ['asc', 'desc']) {
        const { status, body } = await get(`/api/v6/history?sort_by=${field}&order=${order}`);
        expect(status).toBe(200);
        expect(body).toMatchObject({ sort_by: field, order, total: 7 });
        const key = field === 'cluster_name' ? 'cluster' : field;
        const values = body.history.map((h: Record<string, string | undefined>) => h[key] ?? null);
        const present = values.filter((v: string | null) => v !== null);
        const sorted = [...present].sort();
        expect(present).toEqual(order === 'asc' ? sorted : sorted.reverse());
        // Every null after every value.
        expect(values.slice(present.length).every((v: string | null) => v === null)).toBe(true);
      }
    }
    const byStarted = await get('/api/v6/history?sort_by=started_at&order=desc');
    expect(
      byStarted.body.history
        .slice(-2)
        .map((h: { run_id: string }) => h.run_id)
        .sort(),
    ).toEqual(idsOf(r.queued!, r.pending!));
  });

  it('400 on a bad sort_by, order, limit or offset', async () => {
    expect(await get('/api/v6/history?sort_by=memory')).toMatchObject({
      status: 400,
      body: {
        error: 'Invalid field to order by [memory], must be one of [run_id, cluster_name, status, started_at, finished_at, group_name, queued_at, alias]',
      },
    });
    expect(await get('/api/v6/history?order=up')).toMatchObject({
      status: 400,
      body: { error: "Invalid order string, must be one of ('asc', 'desc'), was up" },
    });
    expect(await get('/api/v6/history?limit=x')).toMatchObject({ status: 400, body: { error: 'limit must be a non-negative integer, got [x]' } });
    expect(await get('/api/v6/history?offset=-1')).toMatchObject({ status: 400, body: { error: 'offset must be a non-negative integer, got [-1]' } });
  });

  it('pages with limit and offset; total ignores paging', async () => {
    const all = (await get('/api/v6/history?sort_by=run_id')).body.history.map((h: { run_id: string }) => h.run_id);
    const { body } = await get('/api/v6/history?sort_by=run_id&limit=3&offset=2');
    expect(body).toMatchObject({ total: 7, limit: 3, offset: 2 });
    expect(body.history.map((h: { run_id: string }) => h.run_id)).toEqual(all.slice(2, 5));
    expect((await get('/api/v6/history?offset=7')).body).toMatchObject({ total: 7, history: [] });
  });

  it('answers the same under /api/v1', async () => {
    expect((await get('/api/v1/history?user=alice')).body).toEqual((await get('/api/v6/history?user=alice')).body);
  });
});

describe('GET /api/v6/task/{definition_id}/history', () => {
  it('lists only that definition’s runs, with the same filters', async () => {
    const { status, body } = await get(`/api/v6/task/${defs.nightly!.definitionId}/history`);
    expect(status).toBe(200);
    expect(ids(body)).toEqual(idsOf(r.ok!, r.oom!));
    expect(body.total).toBe(2);
    expect(ids((await get(`/api/v6/task/${defs.nightly!.definitionId}/history?exit_code=137`)).body)).toEqual(idsOf(r.oom!));
    expect(ids((await get(`/api/v6/task/${defs.etl!.definitionId}/history?status=STOPPED`)).body)).toEqual([]);
    expect(await get(`/api/v6/task/${defs.etl!.definitionId}/history?status=nope`)).toMatchObject({ status: 400 });
  });

  it('a definition without runs → 200 and []', async () => {
    expect((await get(`/api/v6/task/${defs.unused!.definitionId}/history`)).body).toMatchObject({ total: 0, history: [] });
  });

  it('an unknown definition → 404', async () => {
    expect(await get('/api/v6/task/no-such-def/history')).toMatchObject({ status: 404, body: { error: 'Definition with ID no-such-def not found' } });
  });
});

describe('getting one run', () => {
  const routes = (id: string, def = 'any-definition') => [
    `/api/v6/history/${id}`,
    `/api/v6/task/history/${id}`,
    `/api/v6/task/${def}/history/${id}`,
    `/api/v1/history/${id}`,
  ];

  it('the get-run routes answer the same run', async () => {
    const bodies = [];
    for (const path of routes(r.oom!.runId, defs.nightly!.definitionId)) {
      const { status, body } = await get(path);
      expect(status).toBe(200);
      bodies.push(body);
    }
    expect(bodies[0].run_id).toBe(r.oom!.runId);
    for (const b of bodies) expect(b).toEqual(bodies[0]);
  });

  it('an unknown run → 404 Run with id X not found', async () => {
    for (const path of routes('local-0000000000000000000000000000')) {
      expect(await get(path)).toMatchObject({ status: 404, body: { error: 'Run with id local-0000000000000000000000000000 not found' } });
    }
  });

  it('a run id with U+0000 is unknown (404), not a database error', async () => {
    for (const path of ['/api/v6/history/a%00b', '/api/v6/task/history/a%00b', '/api/v6/a%00b/status', '/api/v6/a%00b/events', '/api/v6/a%00b/logs']) {
      expect(await get(path)).toMatchObject({ status: 404, body: { error: 'Run with id a\u0000b not found' } });
    }
    const stop = await t.fetch('/api/v6/task/x/history/a%00b', { method: 'DELETE' });
    expect(stop.status).toBe(404);
    const report = await t.fetch('/api/v6/a%00b/status', { method: 'PUT', json: { status: 'RUNNING' } });
    expect(report.status).toBe(404);
  });

  it('keeps the always-present keys and omits empty ones', async () => {
    const queued = (await get(`/api/v6/history/${r.queued!.runId}`)).body;
    const always = [
      'run_id',
      'definition_id',
      'alias',
      'image',
      'cluster',
      'status',
      'group_name',
      'description',
      'instance',
      'pod_events',
      'cloudtrail_notifications',
      'spark_extension',
      'cpu',
      'memory',
      'cpu_limit',
      'memory_limit',
      'executable_id',
      'executable_type',
    ];
    for (const key of always) expect(queued).toHaveProperty(key);
    expect(queued).not.toHaveProperty('cluster_name');
    expect(queued).toMatchObject({
      cluster: 'east',
      description: 'etl-daily',
      instance: { instance_id: '', dns_name: '' },
      pod_events: [],
      cloudtrail_notifications: { Records: [] },
      spark_extension: {},
      executable_id: r.queued!.definitionId,
      executable_type: 'task_definition',
    });
    for (const key of [
      'exit_code',
      'exit_reason',
      'started_at',
      'finished_at',
      'pod_name',
      'namespace',
      'gpu',
      'ephemeral_storage',
      'arch',
      'labels',
      'service_account',
      'tier',
      'idempotence_key',
      'spawned_runs',
    ]) {
      expect(queued).not.toHaveProperty(key);
    }
    for (const value of Object.values(queued)) expect(value).not.toBeNull();
    expect(
      Object.keys(queued)
        .filter((k) => !always.includes(k))
        .sort(),
    ).toEqual(
      [
        'active_deadline_seconds',
        'attempt_count',
        'command',
        'command_hash',
        'engine',
        'env',
        'node_lifecycle',
        'queued_at',
        'resource_reason',
        'task_type',
        'user',
      ].sort(),
    );
    expect(queued.resource_reason).toEqual(expect.any(String));
  });

  it('omits resource_reason when the run has none (runs made before resources were explained)', async () => {
    const id = r.queued!.runId;
    await t.database.db.update(runs).set({ resourceReason: null }).where(eq(runs.runId, id));
    try {
      const body = (await get(`/api/v6/history/${id}`)).body;
      expect(body).not.toHaveProperty('resource_reason');
      expect(body).toMatchObject({ executable_id: r.queued!.definitionId, executable_type: 'task_definition' });
    } finally {
      await t.database.db.update(runs).set({ resourceReason: r.queued!.resourceReason }).where(eq(runs.runId, id));
    }
  });

  it('a finished run has its exit (0 is a value), times and description', async () => {
    const ok = (await get(`/api/v6/history/${r.ok!.runId}`)).body;
    expect(ok).toMatchObject({ status: 'STOPPED', exit_code: 0, exit_reason: 'Exited successfully', user: 'alice' });
    for (const key of ['queued_at', 'started_at', 'finished_at']) expect(ok[key]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    expect((await get(`/api/v6/history/${r.pending!.runId}`)).body.description).toBe('quarterly');
  });

  it('pod_events holds the engine events of a single run; lists leave it empty', async () => {
    await t.services.runUpdates.recordEngineEvents(r.running!.runId, [
      { at: new Date('2024-05-01T12:00:00Z'), eventType: 'Normal', reason: 'Pulled', message: 'image pulled', sourceObject: 'pod/x' },
    ]);
    const one = (await get(`/api/v6/history/${r.running!.runId}`)).body;
    expect(one.pod_events).toEqual([
      { timestamp: '2024-05-01T12:00:00.000Z', event_type: 'Normal', reason: 'Pulled', source_object: 'pod/x', message: 'image pulled' },
    ]);
    const listed = (await get('/api/v6/history?status=RUNNING')).body.history[0];
    expect(listed.pod_events).toEqual([]);
  });
});

describe('GET /api/v6/{run_id}/status', () => {
  it('answers the short status with an ETag of status and exit code', async () => {
    const res = await get(`/api/v6/${r.queued!.runId}/status`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('"QUEUED-unknown"');
    expect(res.body).toEqual({
      run_id: r.queued!.runId,
      status: 'QUEUED',
      queued_at: r.queued!.queuedAt.toISOString(),
      engine: 'local',
      definition_id: defs.etl!.definitionId,
      alias: 'etl-daily',
      cluster_name: 'east',
    });
    const oom = await get(`/api/v6/${r.oom!.runId}/status`);
    expect(oom.headers.get('etag')).toBe('"STOPPED-137"');
    expect(oom.body).toMatchObject({
      status: 'STOPPED',
      exit_code: 137,
      exit_reason: 'OOMKilled',
      started_at: expect.any(String),
      finished_at: expect.any(String),
    });
    expect((await get(`/api/v6/${r.ok!.runId}/status`)).headers.get('etag')).toBe('"STOPPED-0"');
  });

  it('If-None-Match with the current ETag → 304 without a body; a stale one → 200', async () => {
    const res = await t.fetch(`/api/v6/${r.oom!.runId}/status`, { headers: { 'if-none-match': '"STOPPED-137"' } });
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe('"STOPPED-137"');
    expect(await res.text()).toBe('');
    const list = await t.fetch(`/api/v6/${r.oom!.runId}/status`, { headers: { 'if-none-match': '"RUNNING-unknown", "STOPPED-137"' } });
    expect(list.status).toBe(304);
    const stale = await get(`/api/v6/${r.oom!.runId}/status`, { 'if-none-match': '"RUNNING-unknown"' });
    expect(stale.status).toBe(200);
    expect(stale.body.status).toBe('STOPPED');
  });

  it('an unknown run → 404', async () => {
    expect(await get('/api/v6/local-nope/status')).toMatchObject({ status: 404, body: { error: 'Run with id local-nope not found' } });
  });
});

describe('PUT /api/v6/{run_id}/status', () => {
  async function report(runId: string, body: unknown) {
    const res = await t.fetch(`/api/v6/${runId}/status`, { method: 'PUT', json: body });
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    return { status: res.status, body: (await res.json()) as any };
  }
  const current = (runId: string) => t.services.runs.get(runId);

  it('moves a run up in rank; a lower rank is refused but still answered {"updated": true}', async () => {
    const run = await createRun(t.services, { definition: defs.report });
    expect(await report(run.runId, { status: 'RUNNING' })).toEqual({ status: 200, body: { updated: true } });
    const running = await current(run.runId);
    expect(running.status).toBe('RUNNING');
    expect(running.startedAt).toBeInstanceOf(Date);
    for (const lower of ['PENDING', 'QUEUED']) {
      expect(await report(run.runId, { status: lower })).toEqual({ status: 200, body: { updated: true } });
      expect((await current(run.runId)).status).toBe('RUNNING');
    }
    expect(await report(run.runId, { status: 'STOPPED', exit_code: 0, exit_reason: 'done' })).toEqual({ status: 200, body: { updated: true } });
    const stopped = await current(run.runId);
    expect(stopped).toMatchObject({ status: 'STOPPED', exitCode: 0, exitReason: 'done' });
    expect(stopped.finishedAt).toBeInstanceOf(Date);
    expect(stopped.startedAt).toEqual(running.startedAt);
  });

  it('STOPPED is final: later reports change nothing', async () => {
    const run = await createRun(t.services, { definition: defs.report, status: 'STOPPED', exitCode: 0 });
    for (const body of [{ status: 'RUNNING' }, { status: 'NEEDS_RETRY' }, { status: 'QUEUED' }, { status: 'STOPPED', exit_code: 5, exit_reason: 'late' }]) {
      expect(await report(run.runId, body)).toEqual({ status: 200, body: { updated: true } });
    }
    expect(await current(run.runId)).toMatchObject({ status: 'STOPPED', exitCode: 0, exitReason: 'Exited successfully', finishedAt: run.finishedAt });
    expect((await t.services.runs.events(run.runId)).filter((e) => e.kind === 'status')).toHaveLength(4);
  });

  it('NEEDS_RETRY is accepted from a non-terminal status; QUEUED → STOPPED is allowed', async () => {
    const run = await createRun(t.services, { definition: defs.report, status: 'RUNNING' });
    await report(run.runId, { status: 'NEEDS_RETRY', exit_reason: 'spot interruption' });
    expect(await current(run.runId)).toMatchObject({ status: 'NEEDS_RETRY', exitReason: 'spot interruption' });
    const queued = await createRun(t.services, { definition: defs.report });
    await report(queued.runId, { status: 'STOPPED', exit_code: 2 });
    expect(await current(queued.runId)).toMatchObject({ status: 'STOPPED', exitCode: 2 });
  });

  it('the same status updates the exit facts of a live run', async () => {
    const run = await createRun(t.services, { definition: defs.report, status: 'RUNNING' });
    await report(run.runId, { status: 'RUNNING', exit_reason: 'halfway' });
    expect(await current(run.runId)).toMatchObject({ status: 'RUNNING', exitReason: 'halfway' });
  });

  it('an invalid status → 400 status X is invalid, nothing changed', async () => {
    const run = await createRun(t.services, { definition: defs.report });
    expect(await report(run.runId, { status: 'FINISHED' })).toEqual({ status: 400, body: { error: 'status FINISHED is invalid' } });
    expect(await report(run.runId, { status: 'running' })).toEqual({ status: 400, body: { error: 'status running is invalid' } });
    expect((await report(run.runId, {})).status).toBe(400);
    expect(await report(run.runId, { status: 'STOPPED', exit_code: 'zero' })).toEqual({ status: 400, body: { error: 'exit_code must be an integer' } });
    expect(await report(run.runId, { status: 'STOPPED', exit_reason: 'bad\u0000' })).toEqual({
      status: 400,
      body: { error: 'exit_reason must not contain NUL characters' },
    });
    expect((await current(run.runId)).status).toBe('QUEUED');
    expect(await t.services.runs.events(run.runId)).toHaveLength(1);
  });

  it('matches keys case-insensitively; invalid JSON → 400; unknown run → 404', async () => {
    const run = await createRun(t.services, { definition: defs.report });
    await report(run.runId, { STATUS: 'RUNNING' });
    expect((await current(run.runId)).status).toBe('RUNNING');
    const bad = await t.fetch(`/api/v6/${run.runId}/status`, { method: 'PUT', body: '{"status":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(await report('local-nope', { status: 'RUNNING' })).toEqual({ status: 404, body: { error: 'Run with id local-nope not found' } });
  });
});

describe('GET /api/v6/{run_id}/events', () => {
  it('lists the timeline: every transition and engine event, oldest first', async () => {
    const every = await createRunsInEveryStatus(t.services, defs.report);
    const { status, body } = await get(`/api/v6/${every.STOPPED.runId}/events`);
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['total', 'pod_events']);
    expect(body.total).toBe(4);
    expect(body.pod_events).toHaveLength(4);
    for (const e of body.pod_events) {
      expect(Object.keys(e).sort()).toEqual(['event_type', 'message', 'reason', 'source_object', 'timestamp']);
      expect(Date.parse(e.timestamp)).not.toBeNaN();
    }
    expect(body.pod_events.map((e: { message: string }) => e.message.split(':')[0])).toEqual([
      'new → QUEUED',
      'QUEUED → PENDING',
      'PENDING → RUNNING',
      'RUNNING → STOPPED',
    ]);
    const retry = (await get(`/api/v6/${every.NEEDS_RETRY.runId}/events`)).body;
    expect(retry.pod_events.at(-1).message).toMatch(/^RUNNING → NEEDS_RETRY/);
    const queued = (await get(`/api/v6/${every.QUEUED.runId}/events`)).body;
    expect(queued).toMatchObject({ total: 1, pod_events: [{ event_type: 'Normal', source_object: 'flotilla' }] });
  });

  it('includes engine events', async () => {
    const run = await createRun(t.services, { definition: defs.report, status: 'PENDING' });
    await t.services.runUpdates.recordEngineEvents(run.runId, [
      { at: new Date(), eventType: 'Warning', reason: 'FailedScheduling', message: '0/3 nodes are available' },
    ]);
    const { body } = await get(`/api/v6/${run.runId}/events`);
    expect(body.total).toBe(3);
    expect(body.pod_events[2]).toMatchObject({ event_type: 'Warning', reason: 'FailedScheduling', message: '0/3 nodes are available' });
  });

  it('an unknown run → 404', async () => {
    expect(await get('/api/v6/local-nope/events')).toMatchObject({ status: 404, body: { error: 'Run with id local-nope not found' } });
  });
});
