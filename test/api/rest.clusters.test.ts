// The cluster registry over REST (/api/v6/clusters) and the routing rules executes follow:
// unknown cluster → 400, maintenance/offline → 409, tier not allowed → 400, the cluster's
// engine runs it. The app has two engines (local, and kubernetes on the fake API server), so
// the list shows what engines describe and routing can pick between engines. No workers run:
// executed runs stay QUEUED.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubernetesEngine } from '../../src/engines/kubernetes/index.js';
import { createLocalEngine } from '../../src/engines/local/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { startFakeKube, type FakeKube } from '../engines/fakeKube/server.js';
import { uniqueAlias } from '../helpers/factories.js';

const JSON_TYPE = 'application/json; charset=utf-8';

let t: TestApp;
let fake: FakeKube;
let workdir: string;

beforeAll(async () => {
  fake = await startFakeKube();
  workdir = mkdtempSync(join(tmpdir(), 'flotilla-clusters-'));
  const local = createLocalEngine({ workdir });
  const kubernetes = createKubernetesEngine({ kubeconfig: fake.kubeconfigPath });
  t = await createTestApp({ FLOTILLA_ENGINES: 'local,kubernetes', FLOTILLA_ENGINE: 'local' }, { engines: [local, kubernetes] });
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

async function call(path: string, init: RequestInit & { json?: unknown } = {}) {
  const res = await t.fetch(path, init);
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  return { status: res.status, body: (await res.json()) as any };
}

const post = (json: unknown) => call('/api/v6/clusters', { method: 'POST', json });
const put = (name: string, json: unknown) => call(`/api/v6/clusters/${encodeURIComponent(name)}`, { method: 'PUT', json });
const del = (name: string) => call(`/api/v6/clusters/${encodeURIComponent(name)}`, { method: 'DELETE' });
const get = (name: string) => call(`/api/v6/clusters/${encodeURIComponent(name)}`);

let counter = 0;
const uniqueName = (prefix = 'c') => `${prefix}-${++counter}-${Math.random().toString(16).slice(2, 8)}`;

describe('GET /api/v6/clusters', () => {
  it('classic shape: `clusters` is an array of names, what the classic UI cluster picker renders', async () => {
    const { status, body } = await call('/api/v6/clusters');
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['clusters']);
    expect(Array.isArray(body.clusters)).toBe(true);
    expect(body.clusters.length).toBeGreaterThan(0);
    for (const name of body.clusters) expect(typeof name).toBe('string');
    expect(body.clusters).toEqual(expect.arrayContaining(['default', 'local']));
    expect(body.clusters).toEqual([...body.clusters].sort());
    // detail=false is the same; junk is a 400 naming detail.
    expect((await call('/api/v6/clusters?detail=false')).body).toEqual(body);
    expect(await call('/api/v6/clusters?detail=maybe')).toEqual({ status: 400, body: { error: 'detail must be true or false, not maybe' } });
  });

  it('?detail=true lists the metadata, the same objects as GET /clusters/{name}', async () => {
    const { status, body } = await call('/api/v6/clusters?detail=true');
    expect(status).toBe(200);
    expect(body.clusters.map((c: any) => c.name)).toEqual((await call('/api/v6/clusters')).body.clusters);
    expect(body.clusters.find((c: any) => c.name === 'default')).toEqual((await get('default')).body);
  });

  it('a fresh install lists what the enabled engines describe, unregistered and active', async () => {
    const { status, body } = await call('/api/v6/clusters?detail=true');
    expect(status).toBe(200);
    const fromEngines = body.clusters.filter((c: any) => !c.registered);
    expect(fromEngines).toEqual([
      {
        name: 'default',
        engine: 'kubernetes',
        status: 'active',
        allowed_tiers: [],
        capabilities: expect.arrayContaining(['gpu', 'spot']),
        region: null,
        namespace: null,
        config: {},
        updated_at: null,
        registered: false,
      },
      expect.objectContaining({ name: 'local', engine: 'local', status: 'active', registered: false }),
    ]);
  });

  it('answers on every REST version, like the other classic routes', async () => {
    const { status, body } = await call('/api/v1/clusters');
    expect(status).toBe(200);
    expect(body.clusters).toContain('default');
  });
});

describe('POST /api/v6/clusters', () => {
  it('registers a cluster with defaults; eks is stored as kubernetes; it is listed and readable by name', async () => {
    const name = uniqueName('east');
    const { status, body } = await post({ name, engine: 'eks' });
    expect(status).toBe(200);
    expect(body).toEqual({
      name,
      engine: 'kubernetes',
      status: 'active',
      allowed_tiers: [],
      capabilities: [],
      region: null,
      namespace: null,
      config: {},
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      registered: true,
    });
    expect((await get(name)).body).toEqual(body);
    const list = (await call('/api/v6/clusters?detail=true')).body.clusters;
    expect(list.find((c: any) => c.name === name)).toEqual(body);
    // Sorted by name.
    const names = list.map((c: any) => c.name);
    expect(names).toEqual([...names].sort());
  });

  it('keeps every field it is given; keys match case-insensitively', async () => {
    const name = uniqueName('gpu');
    const { status, body } = await post({
      Name: name,
      ENGINE: 'kubernetes',
      status: 'maintenance',
      allowed_tiers: ['prod', 'batch'],
      capabilities: ['gpu'],
      region: 'us-east-1',
      namespace: 'ml-jobs',
      config: { context: 'gpu-cluster', note: { any: ['json'] } },
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name,
      engine: 'kubernetes',
      status: 'maintenance',
      allowed_tiers: ['prod', 'batch'],
      capabilities: ['gpu'],
      region: 'us-east-1',
      namespace: 'ml-jobs',
      config: { context: 'gpu-cluster', note: { any: ['json'] } },
      registered: true,
    });
  });

  it('a duplicate name → 409', async () => {
    const name = uniqueName('dup');
    expect((await post({ name, engine: 'local' })).status).toBe(200);
    expect(await post({ name, engine: 'kubernetes' })).toEqual({ status: 409, body: { error: `Cluster ${name} already exists` } });
  });

  it('a name an engine describes can be registered explicitly too', async () => {
    // `local` is described by the local engine; registering it turns it into a registry entry.
    const { status, body } = await post({ name: 'local', engine: 'local', capabilities: ['laptop'] });
    expect(status).toBe(200);
    expect(body).toMatchObject({ name: 'local', registered: true, capabilities: ['laptop'] });
    const list = (await call('/api/v6/clusters?detail=true')).body.clusters.filter((c: any) => c.name === 'local');
    expect(list).toHaveLength(1);
    expect(list[0].registered).toBe(true);
    expect((await del('local')).body).toEqual({ deleted: true });
  });

  it.each([
    [{ engine: 'local' }, 'string [name] must be specified'],
    [{ name: 'x' }, 'string [engine] must be specified'],
    [{ name: 'bad name', engine: 'local' }, 'name must be 1-63 letters, digits, ".", "-" or "_", starting and ending with a letter or digit'],
    [{ name: 'x', engine: 'nomad' }, 'engine nomad is unknown: use local, docker, kubernetes, ecs (or eks)'],
    [{ name: 'x', engine: 7 }, 'engine must be a string'],
    [{ name: 'x', engine: 'local', status: 'paused' }, 'status must be one of active, maintenance, offline'],
    [{ name: 'x', engine: 'local', allowed_tiers: 'prod' }, 'allowed_tiers must be an array of strings'],
    [{ name: 'x', engine: 'local', capabilities: [1] }, 'capabilities[0]: must be a string'],
    [{ name: 'x', engine: 'local', allowed_tiers: ['prod', ' '] }, 'allowed_tiers[1]: must not be empty'],
    [{ name: 'x', engine: 'local', config: [] }, 'config must be a JSON object'],
    [{ name: 'x', engine: 'kubernetes', namespace: 'Not_A_Namespace' }, 'namespace must be a Kubernetes namespace name: 1-63 lowercase letters, digits or "-"'],
    [{ name: 'x', engine: 'kubernetes', config: { context: 3 } }, 'config.context must be the name of a kubeconfig context (a non-empty string)'],
    [{ name: 'x', engine: 'local', config: { a: 'nul\u0000' } }, 'config must not contain NUL characters'],
  ])('invalid %j → 400 naming the field', async (json, message) => {
    expect(await post(json)).toEqual({ status: 400, body: { error: message } });
    expect((await get('x')).status).toBe(404);
  });

  it('invalid JSON → 400', async () => {
    const { status, body } = await call('/api/v6/clusters', { method: 'POST', body: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect(status).toBe(400);
    expect(body.error).toMatch(/^request body is not valid JSON/);
  });
});

describe('GET|PUT|DELETE /api/v6/clusters/{id}', () => {
  it('an unknown name → 404 "Cluster X not found" for each verb', async () => {
    expect(await get('nope')).toEqual({ status: 404, body: { error: 'Cluster nope not found' } });
    expect(await put('nope', { status: 'offline' })).toEqual({ status: 404, body: { error: 'Cluster nope not found' } });
    expect(await del('nope')).toEqual({ status: 404, body: { error: 'Cluster nope not found' } });
  });

  it('PUT replaces the fields given and keeps the others; null clears region and namespace', async () => {
    const name = uniqueName('upd');
    const created = (await post({ name, engine: 'kubernetes', region: 'eu-west-1', namespace: 'jobs', allowed_tiers: ['a'], config: { context: 'one' } })).body;
    const { status, body } = await put(name, { status: 'maintenance', region: null, config: { context: 'two' } });
    expect(status).toBe(200);
    expect(body).toEqual({
      ...created,
      status: 'maintenance',
      region: null,
      config: { context: 'two' },
      updated_at: expect.any(String),
    });
    expect(new Date(body.updated_at).getTime()).toBeGreaterThanOrEqual(new Date(created.updated_at).getTime());
    expect((await get(name)).body).toEqual(body);
    expect((await put(name, { allowed_tiers: [] })).body.allowed_tiers).toEqual([]);
  });

  it('PUT refuses a rename and invalid values', async () => {
    const name = uniqueName('fixed');
    await post({ name, engine: 'local' });
    expect(await put(name, { name: 'other' })).toEqual({
      status: 400,
      body: { error: `name cannot be changed (runs record it); create cluster other and delete ${name} instead` },
    });
    expect(await put(name, { status: 'broken' })).toEqual({ status: 400, body: { error: 'status must be one of active, maintenance, offline' } });
    expect(await put(name, { engine: 'kubernetes', config: { context: '' } })).toEqual({
      status: 400,
      body: { error: 'config.context must be the name of a kubeconfig context (a non-empty string)' },
    });
    expect((await get(name)).body).toMatchObject({ engine: 'local', status: 'active', config: {} });
    // Sending the same name back is fine.
    expect((await put(name, { name, capabilities: ['x'] })).body.capabilities).toEqual(['x']);
  });

  it('PUT on a cluster an engine describes registers it: the fresh install can put `default` into maintenance', async () => {
    expect((await get('default')).body).toMatchObject({ name: 'default', engine: 'kubernetes', registered: false });
    const { status, body } = await put('default', { status: 'maintenance' });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name: 'default',
      engine: 'kubernetes',
      status: 'maintenance',
      registered: true,
      capabilities: expect.arrayContaining(['gpu']),
    });
    expect((await call('/api/v6/clusters?detail=true')).body.clusters.filter((c: any) => c.name === 'default')).toEqual([body]);
    // Deleting the entry leaves the engine's own default, active again.
    expect((await del('default')).body).toEqual({ deleted: true });
    expect((await get('default')).body).toMatchObject({ name: 'default', status: 'active', registered: false });
  });

  it('DELETE → {"deleted": true}; then it is gone', async () => {
    const name = uniqueName('gone');
    await post({ name, engine: 'local' });
    expect(await del(name)).toEqual({ status: 200, body: { deleted: true } });
    expect((await get(name)).status).toBe(404);
    expect((await del(name)).status).toBe(404);
  });

  it('DELETE of a cluster only an engine describes → 409 (nothing to delete)', async () => {
    expect(await del('local')).toEqual({
      status: 409,
      body: { error: "Cluster local is not in the registry: the local engine's configuration provides it, so there is nothing to delete" },
    });
  });

  it('DELETE is refused while a run on the cluster is unfinished', async () => {
    const name = uniqueName('busy');
    await post({ name, engine: 'local' });
    const def = await t.services.definitions.create({ alias: uniqueAlias('busy'), image: 'alpine:3', command: 'true' });
    const run = await t.services.runs.execute({ definitionId: def.definitionId }, { owner: 'tester', cluster: name });
    expect(await del(name)).toEqual({
      status: 409,
      body: { error: `Cluster ${name} has 1 unfinished run(s); stop them or wait for them to finish, then delete it` },
    });
    await t.services.runs.stop(run.runId);
    expect((await del(name)).body).toEqual({ deleted: true });
  });

  it('/clusters/status is the cluster named "status", not the status of a run named "clusters"', async () => {
    await post({ name: 'status', engine: 'local' });
    expect(await get('status')).toMatchObject({ status: 200, body: { name: 'status', engine: 'local' } });
    await del('status');
  });
});

describe('routing at execute', () => {
  let definitionId: string;
  beforeAll(async () => {
    definitionId = (await t.services.definitions.create({ alias: uniqueAlias('route'), image: 'alpine:3', command: 'echo hi' })).definitionId;
  });

  const execute = (body: Record<string, unknown>, id = definitionId) =>
    call(`/api/v6/task/${id}/execute`, { method: 'PUT', json: { run_tags: { owner_id: 'router' }, ...body } });

  async function runCount(): Promise<number> {
    return (await call('/api/v6/history?limit=0')).body.total;
  }

  it('no cluster anywhere → `default` on the default engine', async () => {
    const { status, body } = await execute({});
    expect(status).toBe(200);
    expect(body).toMatchObject({ cluster: 'default', engine: 'local', status: 'QUEUED' });
  });

  it('an unknown cluster → 400 naming cluster; nothing is written', async () => {
    const before = await runCount();
    const { status, body } = await execute({ cluster: 'atlantis' });
    expect(status).toBe(400);
    expect(body.error).toMatch(/^cluster atlantis is unknown: register it \(POST \/api\/v6\/clusters\) or use one of: .*default/);
    expect(await runCount()).toBe(before);
  });

  it('an unknown definition target_cluster → 400 that says it came from the definition', async () => {
    const def = await t.services.definitions.create({ alias: uniqueAlias('targeted'), image: 'alpine:3', targetCluster: 'nowhere' });
    const { status, body } = await execute({}, def.definitionId);
    expect(status).toBe(400);
    expect(body.error).toMatch(/^cluster nowhere \(the definition's target_cluster\) is unknown/);
  });

  it('the request cluster wins over the definition target_cluster', async () => {
    const target = uniqueName('target');
    await post({ name: target, engine: 'local' });
    const def = await t.services.definitions.create({ alias: uniqueAlias('targeted'), image: 'alpine:3', targetCluster: target });
    expect((await execute({}, def.definitionId)).body).toMatchObject({ cluster: target, engine: 'local' });
    expect((await execute({ cluster: 'local' }, def.definitionId)).body).toMatchObject({ cluster: 'local', engine: 'local' });
  });

  it('a cluster in maintenance or offline → 409 with the reason; active again → accepted', async () => {
    const name = uniqueName('maint');
    await post({ name, engine: 'local', status: 'maintenance' });
    expect(await execute({ cluster: name })).toEqual({
      status: 409,
      body: { error: `cluster ${name} is in maintenance: it takes no new runs until it is active again; choose another cluster` },
    });
    await put(name, { status: 'offline' });
    expect((await execute({ cluster: name })).body.error).toBe(
      `cluster ${name} is in offline: it takes no new runs until it is active again; choose another cluster`,
    );
    await put(name, { status: 'active' });
    expect((await execute({ cluster: name })).status).toBe(200);
  });

  it('allowed_tiers: a run without a tier or of another tier → 400; an allowed tier → 200', async () => {
    const name = uniqueName('tiered');
    await post({ name, engine: 'local', allowed_tiers: ['prod', 'batch'] });
    expect(await execute({ cluster: name })).toEqual({ status: 400, body: { error: `cluster ${name} only takes runs of tier prod, batch: set tier` } });
    expect(await execute({ cluster: name, tier: 'dev' })).toEqual({
      status: 400,
      body: { error: `tier dev is not allowed on cluster ${name}; allowed tiers: prod, batch` },
    });
    expect((await execute({ cluster: name, tier: 'batch' })).body).toMatchObject({ cluster: name, tier: 'batch', status: 'QUEUED' });
  });

  it("with no engine in the request, the cluster's engine runs it", async () => {
    const name = uniqueName('k8s');
    await post({ name, engine: 'kubernetes', config: { context: 'fake' } });
    const { status, body } = await execute({ cluster: name });
    expect(status).toBe(200);
    expect(body).toMatchObject({ cluster: name, engine: 'kubernetes' });
    expect(body.run_id).toMatch(/^kubernetes-[0-9a-f]+$/);
    // The engine's own `default` is kubernetes' too, but only when asked for by engine.
    expect((await execute({ cluster: 'default', engine: 'eks' })).body).toMatchObject({ cluster: 'default', engine: 'kubernetes' });
  });

  it('a request engine that is not the cluster engine → 400 naming engine', async () => {
    const name = uniqueName('only-local');
    await post({ name, engine: 'local' });
    expect(await execute({ cluster: name, engine: 'kubernetes' })).toEqual({
      status: 400,
      body: { error: `engine kubernetes does not run cluster ${name}; its engine is local` },
    });
    // A cluster an engine describes is that engine's only.
    expect((await execute({ cluster: 'local', engine: 'kubernetes' })).body.error).toBe(
      'cluster local is not known to engine kubernetes; register it (POST /api/v6/clusters) first',
    );
  });

  it('a cluster whose engine is not enabled here → 400 naming cluster', async () => {
    const name = uniqueName('ecs');
    await post({ name, engine: 'ecs' });
    expect(await execute({ cluster: name })).toEqual({
      status: 400,
      body: { error: `cluster ${name} runs on engine ecs, which is not enabled here (enabled: local, kubernetes)` },
    });
  });
});
