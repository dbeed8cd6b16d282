import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { runs } from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function call(path: string, init: RequestInit & { json?: unknown } = {}) {
  const res = await t.fetch(path, init);
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  return { status: res.status, body: (await res.json()) as any };
}

async function create(json: Record<string, unknown>) {
  const r = await call('/api/v6/task', { method: 'POST', json });
  expect(r.status).toBe(200);
  return r.body;
}

describe('POST /api/v6/task', () => {
  it('creates a minimal definition: default group, id <group>-<uuid>, empty arrays present', async () => {
    const { status, body } = await call('/api/v6/task', { method: 'POST', json: { alias: 'min', image: 'alpine:3' } });
    expect(status).toBe(200);
    expect(body.definition_id).toMatch(new RegExp(`^default-${UUID}$`));
    expect(body).toEqual({
      definition_id: body.definition_id,
      alias: 'min',
      group_name: 'default',
      image: 'alpine:3',
      env: [],
      tags: [],
      ports: [],
    });
  });

  it('returns every field in the classic order; requires_docker only when true; false and 0 are kept', async () => {
    const body = await create({
      alias: 'full',
      group_name: 'team_a-1',
      image: 'python:3.12',
      command: 'python -c "print(1)"',
      memory: 512,
      cpu: 256,
      gpu: 0,
      ephemeral_storage: 2048,
      env: [{ name: 'A', value: '1' }],
      tags: ['etl', 'nightly'],
      ports: [8080],
      adaptive_resource_allocation: false,
      requires_docker: true,
      target_cluster: 'east',
      unknown_key: 'ignored',
    });
    expect(Object.keys(body)).toEqual([
      'definition_id',
      'alias',
      'group_name',
      'image',
      'command',
      'memory',
      'cpu',
      'gpu',
      'ephemeral_storage',
      'env',
      'tags',
      'ports',
      'adaptive_resource_allocation',
      'requires_docker',
      'target_cluster',
    ]);
    expect(body).toMatchObject({
      definition_id: expect.stringMatching(new RegExp(`^team_a-1-${UUID}$`)),
      command: 'python -c "print(1)"',
      memory: 512,
      gpu: 0,
      env: [{ name: 'A', value: '1' }],
      adaptive_resource_allocation: false,
      requires_docker: true,
    });
    const off = await create({ alias: 'no-docker', image: 'x', requires_docker: false });
    expect(off).not.toHaveProperty('requires_docker');
  });

  it('matches keys case-insensitively, env entries included', async () => {
    const body = await create({ ALIAS: 'upper', Group_Name: 'Mixed', IMAGE: 'x', Env: [{ NAME: 'K', Value: 'v' }] });
    expect(body).toMatchObject({ alias: 'upper', group_name: 'Mixed', env: [{ name: 'K', value: 'v' }] });
    expect(body.definition_id).toMatch(new RegExp(`^Mixed-${UUID}$`));
  });

  it('treats null as absent on create', async () => {
    const body = await create({ alias: 'nulls', image: 'x', group_name: null, env: null, memory: null });
    expect(body).toMatchObject({ group_name: 'default', env: [] });
    expect(body).not.toHaveProperty('memory');
  });

  it('400 on invalid JSON', async () => {
    const res = await t.fetch('/api/v6/task', { method: 'POST', body: '{"alias": ', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect((await res.json()).error).toMatch(/^request body is not valid JSON/);
  });

  it('400 when the body is not an object', async () => {
    expect(await call('/api/v6/task', { method: 'POST', json: [{ alias: 'a' }] })).toEqual({
      status: 400,
      body: { error: 'request body must be a JSON object' },
    });
  });

  it('400 naming memory when it is a string', async () => {
    const { status, body } = await call('/api/v6/task', { method: 'POST', json: { alias: 'm', image: 'x', memory: '512' } });
    expect(status).toBe(400);
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatch(/^memory must be an integer/);
  });

  it('400 string [alias] must be specified', async () => {
    expect(await call('/api/v6/task', { method: 'POST', json: { image: 'x' } })).toEqual({
      status: 400,
      body: { error: 'string [alias] must be specified' },
    });
    expect((await call('/api/v6/task', { method: 'POST', json: { alias: '   ', image: 'x' } })).body.error).toBe('string [alias] must be specified');
  });

  it('joins several messages with \\n (missing alias and image, also an empty body)', async () => {
    const expected = { status: 400, body: { error: 'string [alias] must be specified\nstring [image] must be specified' } };
    expect(await call('/api/v6/task', { method: 'POST', json: { command: 'true' } })).toEqual(expected);
    expect(await call('/api/v6/task', { method: 'POST' })).toEqual(expected);
  });

  it('400 on a bad group_name', async () => {
    const { status, body } = await call('/api/v6/task', { method: 'POST', json: { alias: 'g', image: 'x', group_name: 'has space' } });
    expect(status).toBe(400);
    expect(body.error).toMatch(/^group_name/);
    expect((await call('/api/v6/task', { method: 'POST', json: { alias: 'g', image: 'x', group_name: 'a'.repeat(256) } })).status).toBe(400);
    expect((await call('/api/v6/task', { method: 'POST', json: { alias: 'g255', image: 'x', group_name: 'a'.repeat(255) } })).status).toBe(200);
  });

  it('400 naming the field for a NUL character, which Postgres cannot store', async () => {
    expect(await call('/api/v6/task', { method: 'POST', json: { alias: 'nul\u0000', image: 'x', env: [{ name: 'A', value: '\u0000' }] } })).toEqual({
      status: 400,
      body: { error: 'alias must not contain NUL characters\nenv[0].value must not contain NUL characters' },
    });
  });

  it('409 on a duplicate alias, with the classic (misspelt) message', async () => {
    await create({ alias: 'dup', image: 'x' });
    expect(await call('/api/v6/task', { method: 'POST', json: { alias: 'dup', image: 'y' } })).toEqual({
      status: 409,
      body: { error: 'definition with alias [dup] aleady exists' },
    });
  });
});

describe('GET /api/v6/task/{id} and /task/alias/{alias}', () => {
  it('reads by id and by alias', async () => {
    const made = await create({ alias: 'reader one', image: 'x', memory: 64 });
    expect(await call(`/api/v6/task/${made.definition_id}`)).toEqual({ status: 200, body: made });
    expect(await call(`/api/v6/task/alias/${encodeURIComponent('reader one')}`)).toEqual({ status: 200, body: made });
  });

  it('the alias route wins even when an alias looks like an id', async () => {
    const made = await create({ alias: 'default-00000000-0000-0000-0000-000000000000', image: 'x' });
    expect((await call(`/api/v6/task/alias/${made.alias}`)).body.definition_id).toBe(made.definition_id);
  });

  it('alias lookup is exact, not substring', async () => {
    await create({ alias: 'exact-alias', image: 'x' });
    expect(await call('/api/v6/task/alias/exact')).toEqual({ status: 404, body: { error: 'Definition with alias exact not found' } });
  });

  it('404 Definition with ID X not found', async () => {
    expect(await call('/api/v6/task/nope-123')).toEqual({ status: 404, body: { error: 'Definition with ID nope-123 not found' } });
    expect((await call('/api/v6/task/nope%00')).status).toBe(404);
    expect((await call('/api/v6/task/alias/nope%00')).status).toBe(404);
    expect((await call('/api/v6/task/nope%00', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('PUT /api/v6/task/{id}', () => {
  it('replaces present, non-empty fields; saves group_name; replaces env whole; bumps version', async () => {
    const made = await create({
      alias: 'upd',
      image: 'x:1',
      command: 'echo hi',
      memory: 128,
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
      ],
      tags: ['t1'],
    });
    const before = await t.services.definitions.get(made.definition_id);
    const { status, body } = await call(`/api/v6/task/${made.definition_id}`, {
      method: 'PUT',
      json: {
        Memory: 256,
        group_name: 'moved',
        env: [{ name: 'C', value: '3' }],
        image: '',
        command: null,
        tags: [],
        definition_id: 'ignored',
      },
    });
    expect(status).toBe(200);
    expect(body).toEqual({
      definition_id: made.definition_id,
      alias: 'upd',
      group_name: 'moved',
      image: 'x:1',
      command: 'echo hi',
      memory: 256,
      env: [{ name: 'C', value: '3' }],
      tags: ['t1'],
      ports: [],
    });
    expect(await call(`/api/v6/task/${made.definition_id}`)).toEqual({ status: 200, body });
    const after = await t.services.definitions.get(made.definition_id);
    expect(after.version).toBe(before.version + 1);
  });

  it('false and 0 are values that replace', async () => {
    const made = await create({ alias: 'flags', image: 'x', requires_docker: true, gpu: 1 });
    const { body } = await call(`/api/v6/task/${made.definition_id}`, { method: 'PUT', json: { requires_docker: false, gpu: 0 } });
    expect(body).not.toHaveProperty('requires_docker');
    expect(body.gpu).toBe(0);
  });

  it('an empty body changes nothing but still bumps the version', async () => {
    const made = await create({ alias: 'noop', image: 'x' });
    const before = await t.services.definitions.get(made.definition_id);
    expect(await call(`/api/v6/task/${made.definition_id}`, { method: 'PUT', json: {} })).toEqual({ status: 200, body: made });
    expect((await t.services.definitions.get(made.definition_id)).version).toBe(before.version + 1);
  });

  it('404 for an unknown id, 400 for a bad type, 409 for an alias taken', async () => {
    expect(await call('/api/v6/task/missing-1', { method: 'PUT', json: { memory: 1 } })).toEqual({
      status: 404,
      body: { error: 'Definition with ID missing-1 not found' },
    });
    const a = await create({ alias: 'taken-a', image: 'x' });
    await create({ alias: 'taken-b', image: 'x' });
    const bad = await call(`/api/v6/task/${a.definition_id}`, { method: 'PUT', json: { cpu: 'lots' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^cpu must be an integer/);
    expect(await call(`/api/v6/task/${a.definition_id}`, { method: 'PUT', json: { alias: 'taken-b' } })).toEqual({
      status: 409,
      body: { error: 'definition with alias [taken-b] aleady exists' },
    });
    const invalidJson = await t.fetch(`/api/v6/task/${a.definition_id}`, { method: 'PUT', body: 'nope' });
    expect(invalidJson.status).toBe(400);
  });
});

describe('DELETE /api/v6/task/{id}', () => {
  it('archives the definition: gone as a task, its finished run kept; a second delete is 404', async () => {
    const made = await create({ alias: 'doomed', image: 'x' });
    await t.database.db.insert(runs).values({
      runId: 'local-doomed-run',
      definitionId: made.definition_id,
      definitionVersion: 1,
      alias: 'doomed',
      groupName: 'default',
      image: 'x',
      cpu: 256,
      memory: 512,
      cpuLimit: 256,
      memoryLimit: 512,
      engine: 'local',
      clusterName: 'local',
      status: 'STOPPED',
      exitCode: 0,
      owner: 'tester',
    });

    expect(await call(`/api/v6/task/${made.definition_id}`, { method: 'DELETE' })).toEqual({ status: 200, body: { deleted: true } });
    expect((await call(`/api/v6/task/${made.definition_id}`)).status).toBe(404);
    expect((await t.database.db.select().from(runs).where(eq(runs.runId, 'local-doomed-run'))).map((r) => r.status)).toEqual(['STOPPED']);
    expect(await call(`/api/v6/task/${made.definition_id}`, { method: 'DELETE' })).toEqual({
      status: 404,
      body: { error: `Definition with ID ${made.definition_id} not found` },
    });
  });
});

describe('other versions and CORS', () => {
  it('serves the same routes under /api/v1', async () => {
    const { status, body } = await call('/api/v1/task', { method: 'POST', json: { alias: 'v1-alias', image: 'x' } });
    expect(status).toBe(200);
    expect(await call(`/api/v1/task/${body.definition_id}`)).toEqual({ status: 200, body });
    expect(await call('/api/v1/task/alias/v1-alias')).toEqual({ status: 200, body });
    expect((await call(`/api/v6/task/${body.definition_id}`, { method: 'PUT', json: { memory: 9 } })).body.memory).toBe(9);
    expect(await call(`/api/v1/task/${body.definition_id}`, { method: 'DELETE' })).toEqual({ status: 200, body: { deleted: true } });
  });

  // CORS is for listed origins only (FLOTILLA_CORS_ORIGINS); the front-door tests cover the refusals.
  // Its own app (another database): slow to start on a loaded machine.
  it("answers a listed origin's preflight with the allowed methods and the Content-Type header", { timeout: 120_000 }, async () => {
    const listed = await createTestApp({ FLOTILLA_CORS_ORIGINS: 'http://ui.example' });
    try {
      const res = await listed.fetch('/api/v6/task/some-id', {
        method: 'OPTIONS',
        headers: {
          origin: 'http://ui.example',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'content-type',
        },
      });
      expect(res.status).toBeLessThan(300);
      const methods = (res.headers.get('access-control-allow-methods') ?? '').split(/\s*,\s*/);
      expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'DELETE']));
      expect((res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/)).toContain('content-type');
      expect(res.headers.get('access-control-allow-origin')).toBe('http://ui.example');
      const ordinary = await listed.fetch('/api/v6/task/alias/none', { headers: { origin: 'http://ui.example' } });
      expect(ordinary.status).toBe(404);
      expect(ordinary.headers.get('access-control-allow-origin')).toBe('http://ui.example');
    } finally {
      await listed.close();
    }
  });

  it('sends no CORS headers to an origin that is not listed', async () => {
    const res = await t.fetch('/api/v6/task/alias/none', { headers: { origin: 'http://ui.example' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('unexpected errors', () => {
  it('are a masked 500 in the JSON envelope', async () => {
    const broken = await createTestApp();
    // A real failure of our own storage: the database is gone under a running app.
    await broken.database.close();
    try {
      const res = await broken.fetch('/api/v6/task');
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toBe(JSON_TYPE);
      expect(await res.json()).toEqual({ error: 'internal server error' });
    } finally {
      await broken.bus.close();
    }
  });
});
