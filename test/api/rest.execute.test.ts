// PUT …/execute (spec/rest-v6.md "Executing"): every rule, through app.fetch on a real
// database. Every refused request is checked to have written nothing.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import { createApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';
import { runEvents, runs, type TaskDefinitionRow } from '../../src/db/schema.js';
import { createServices } from '../../src/domain/services.js';
import { silentLogger } from '../../src/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition, createRun, moveRun, uniqueAlias } from '../helpers/factories.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const OWNER = { run_tags: { owner_id: 'alice' } };
const OWNER_MESSAGE = 'run_tags must exist in body and contain [owner_id]';

let t: TestApp;
let def: TaskDefinitionRow;

beforeAll(async () => {
  t = await createTestApp();
  def = await createDefinition(t.services, {
    command: 'echo "hello $USERNAME"',
    env: [
      { name: 'FROM_DEFINITION', value: 'd' },
      { name: 'SHARED', value: 'definition' },
    ],
  });
});
afterAll(async () => {
  await t?.close();
});

type Fetch = (path: string, init?: RequestInit & { json?: unknown }) => Promise<Response>;

async function put(path: string, body: unknown, fetch: Fetch = t.fetch) {
  const init: RequestInit & { json?: unknown } = { method: 'PUT' };
  if (typeof body === 'string') Object.assign(init, { body, headers: { 'content-type': 'application/json' } });
  else init.json = body;
  const res = await fetch(path, init);
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  return { status: res.status, body: (await res.json()) as any };
}

const byId = (body: unknown, id = def.definitionId) => put(`/api/v6/task/${id}/execute`, body);

async function written(): Promise<{ runs: number; events: number }> {
  const [r] = await t.database.db.select({ n: count() }).from(runs);
  const [e] = await t.database.db.select({ n: count() }).from(runEvents);
  return { runs: Number(r!.n), events: Number(e!.n) };
}

/** Asserts the request is refused with exactly this status and message, writing nothing. */
async function refused(
  request: Promise<{ status: number; body: any }> | (() => Promise<{ status: number; body: any }>),
  status: number,
  error: string | RegExp,
) {
  const before = await written();
  const res = await (typeof request === 'function' ? request() : request);
  expect(res.status).toBe(status);
  if (typeof error === 'string') expect(res.body).toEqual({ error });
  else {
    expect(Object.keys(res.body)).toEqual(['error']);
    expect(res.body.error).toMatch(error);
  }
  expect(await written()).toEqual(before);
}

/** Another app over the same database with different config (OWNER_ID_VAR, enabled engines). */
function appWith(env: Record<string, string>): Fetch {
  const config = loadConfig({ FLOTILLA_ENGINE: 'local', LOG_LEVEL: 'silent', ...env }, 'test');
  const services = createServices({ db: t.database.db, bus: t.bus, config, logger: silentLogger });
  const { app } = createApp({ config, services, bus: t.bus, logger: silentLogger });
  return async (path, init = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return app.fetch(new Request(`http://flotilla.test${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body }));
  };
}

describe('executing a definition', () => {
  it('returns the full QUEUED run with the snapshot, defaults and reserved env', async () => {
    const before = await written();
    const { status, body } = await byId({ ...OWNER, cluster: 'default', env: [{ name: 'USERNAME', value: 'yourusername' }] });
    expect(status).toBe(200);
    expect(body.run_id).toMatch(/^local-[0-9a-f]{30}$/);
    expect(body.run_id).toHaveLength(36);
    expect(body).toMatchObject({
      definition_id: def.definitionId,
      alias: def.alias,
      image: 'alpine:3',
      cluster: 'default',
      status: 'QUEUED',
      group_name: 'default',
      description: def.alias,
      instance: { instance_id: '', dns_name: '' },
      pod_events: [],
      cloudtrail_notifications: { Records: [] },
      spark_extension: {},
      cpu: 256,
      memory: 512,
      cpu_limit: 256,
      memory_limit: 512,
      user: 'alice',
      command: 'echo "hello $USERNAME"',
      command_hash: createHash('md5').update('echo "hello $USERNAME"').digest('hex'),
      engine: 'local',
      node_lifecycle: 'spot',
      active_deadline_seconds: 172_800,
      attempt_count: 1,
      task_type: 'task',
    });
    expect(Date.parse(body.queued_at)).not.toBeNaN();
    expect(body.queued_at).toMatch(/Z$|[+-]\d\d:\d\d$/);
    // Reserved vars first, then the definition's, then the request's.
    expect(body.env).toEqual([
      { name: 'FLOTILLA_RUN_ID', value: body.run_id },
      { name: 'FLOTILLA_SERVER_MODE', value: 'test' },
      { name: 'FLOTILLA_RUN_OWNER_ID', value: 'alice' },
      { name: 'AWS_ROLE_SESSION_NAME', value: body.run_id },
      { name: 'FROM_DEFINITION', value: 'd' },
      { name: 'SHARED', value: 'definition' },
      { name: 'USERNAME', value: 'yourusername' },
    ]);
    // Not started, no exit yet: those keys are omitted, not null.
    for (const key of ['exit_code', 'exit_reason', 'started_at', 'finished_at', 'pod_name', 'idempotence_key', 'gpu']) {
      expect(body).not.toHaveProperty(key);
    }
    // One row and its first timeline event; the stored run is what was returned.
    expect(await written()).toEqual({ runs: before.runs + 1, events: before.events + 1 });
    const stored = await t.fetch(`/api/v6/history/${body.run_id}`).then((r) => r.json() as Promise<any>);
    expect(stored).toMatchObject({ run_id: body.run_id, status: 'QUEUED', env: body.env, command_hash: body.command_hash });
  });

  it('answers on /task/alias/{alias}/execute and under /api/v1 and /api/v4', async () => {
    const v6Alias = await put(`/api/v6/task/alias/${def.alias}/execute`, OWNER);
    const v1Alias = await put(`/api/v1/task/alias/${def.alias}/execute`, OWNER);
    const v4Id = await put(`/api/v4/task/${def.definitionId}/execute`, OWNER);
    for (const r of [v6Alias, v1Alias, v4Id]) {
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ definition_id: def.definitionId, alias: def.alias, status: 'QUEUED', user: 'alice' });
    }
    expect(new Set([v6Alias.body.run_id, v1Alias.body.run_id, v4Id.body.run_id]).size).toBe(3);
  });

  it('matches body keys case-insensitively, including RUN_TAGS.OWNER_ID and env entries', async () => {
    const { status, body } = await byId({
      RUN_TAGS: { OWNER_ID: 'bob', Owner_Email: 'bob@example.com', TEAM_NAME: 'data' },
      Env: [{ NAME: 'A', Value: '1' }],
      COMMAND: 'echo upper',
      Memory: 1024,
      NODE_LIFECYCLE: 'ondemand',
      Description: 'from the classic UI',
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ user: 'bob', command: 'echo upper', memory: 1024, node_lifecycle: 'ondemand', description: 'from the classic UI' });
    expect(body.env).toContainEqual({ name: 'A', value: '1' });
    expect(body.env).toContainEqual({ name: 'FLOTILLA_RUN_OWNER_ID', value: 'bob' });
    const row = await t.services.runs.get(body.run_id);
    expect(row.runTags).toEqual({ owner_id: 'bob', owner_email: 'bob@example.com', team_name: 'data' });
  });

  it('ignores unknown keys, and "" or null for optional fields', async () => {
    const { status, body } = await byId({ ...OWNER, colour: 'red', command: '', memory: null, engine: '', cluster: null });
    expect(status).toBe(200);
    expect(body).toMatchObject({ command: def.command, memory: 512, engine: 'local', cluster: 'default' });
  });
});

describe('owner', () => {
  it('is required: 400 with the classic message, nothing written', async () => {
    await refused(byId({}), 400, OWNER_MESSAGE);
    await refused(byId(''), 400, OWNER_MESSAGE);
    await refused(byId({ env: [] }), 400, OWNER_MESSAGE);
    await refused(byId({ run_tags: {} }), 400, OWNER_MESSAGE);
    await refused(byId({ run_tags: null }), 400, OWNER_MESSAGE);
    await refused(byId({ run_tags: 'alice' }), 400, OWNER_MESSAGE);
    await refused(byId({ run_tags: ['alice'] }), 400, OWNER_MESSAGE);
    await refused(byId({ run_tags: { owner_id: '' } }), 400, OWNER_MESSAGE);
    await refused(byId({ run_tags: { owner_id: '   ' } }), 400, OWNER_MESSAGE);
    await refused(byId({ run_tags: { owner_email: 'a@b.c' } }), 400, OWNER_MESSAGE);
  });

  it('must be a string', async () => {
    await refused(byId({ run_tags: { owner_id: 42 } }), 400, /owner_id/);
  });
});

describe('reserved environment variables', () => {
  for (const name of ['FLOTILLA_RUN_ID', 'FLOTILLA_SERVER_MODE', 'FLOTILLA_RUN_OWNER_ID', 'AWS_ROLE_SESSION_NAME']) {
    it(`${name} in the request → 409`, async () => {
      await refused(
        byId({
          ...OWNER,
          env: [
            { name: 'OK', value: '1' },
            { name, value: 'mine' },
          ],
        }),
        409,
        `environment variable ${name} is reserved`,
      );
    });
  }

  it('the OWNER_ID_VAR name is the reserved one when configured', async () => {
    const fetch = appWith({ OWNER_ID_VAR: 'TEAM_OWNER' });
    await refused(
      put(`/api/v6/task/${def.definitionId}/execute`, { ...OWNER, env: [{ name: 'TEAM_OWNER', value: 'x' }] }, fetch),
      409,
      'environment variable TEAM_OWNER is reserved',
    );
    const ok = await put(`/api/v6/task/${def.definitionId}/execute`, { ...OWNER, env: [{ name: 'FLOTILLA_RUN_OWNER_ID', value: 'x' }] }, fetch);
    expect(ok.status).toBe(200);
    expect(ok.body.env.slice(0, 4).map((e: { name: string }) => e.name)).toEqual([
      'FLOTILLA_RUN_ID',
      'FLOTILLA_SERVER_MODE',
      'TEAM_OWNER',
      'AWS_ROLE_SESSION_NAME',
    ]);
    expect(ok.body.env).toContainEqual({ name: 'TEAM_OWNER', value: 'alice' });
  });

  it('the request env overrides the definition env of the same name', async () => {
    const { body } = await byId({ ...OWNER, env: [{ name: 'SHARED', value: 'request' }] });
    expect(body.env.filter((e: { name: string }) => e.name === 'SHARED')).toEqual([{ name: 'SHARED', value: 'request' }]);
  });
});

describe('command and resources', () => {
  it('a command override replaces the definition command; command_hash is its md5', async () => {
    const { body } = await byId({ ...OWNER, command: 'exit 3' });
    expect(body.command).toBe('exit 3');
    expect(body.command_hash).toBe(createHash('md5').update('exit 3').digest('hex'));
  });

  it('a definition without a command gives a run without command and command_hash', async () => {
    const bare = await createDefinition(t.services, { command: null });
    const { status, body } = await byId(OWNER, bare.definitionId);
    expect(status).toBe(200);
    expect(body).not.toHaveProperty('command');
    expect(body).not.toHaveProperty('command_hash');
  });

  it('cpu and memory: override, else the definition, else the minimum', async () => {
    const sized = await createDefinition(t.services, { cpu: 1024, memory: 2048, gpu: 0 });
    expect((await byId(OWNER, sized.definitionId)).body).toMatchObject({ cpu: 1024, memory: 2048, cpu_limit: 1024, memory_limit: 2048 });
    expect((await byId({ ...OWNER, cpu: 4096, memory: 8192 }, sized.definitionId)).body).toMatchObject({
      cpu: 4096,
      memory: 8192,
      cpu_limit: 4096,
      memory_limit: 8192,
    });
    expect((await byId(OWNER)).body).toMatchObject({ cpu: 256, memory: 512 });
  });

  it('clamps the effective cpu to [256, 60000] and memory to [512, 350000]', async () => {
    const small = await createDefinition(t.services, { cpu: 128, memory: 100 });
    expect((await byId(OWNER, small.definitionId)).body).toMatchObject({ cpu: 256, memory: 512, cpu_limit: 256, memory_limit: 512 });
    expect((await byId({ ...OWNER, cpu: 1, memory: 1 })).body).toMatchObject({ cpu: 256, memory: 512 });
    expect((await byId({ ...OWNER, cpu: 60_001, memory: 350_001 })).body).toMatchObject({
      cpu: 60_000,
      memory: 350_000,
      cpu_limit: 60_000,
      memory_limit: 350_000,
    });
    expect((await byId({ ...OWNER, cpu: 1_000_000, memory: 2_000_000 })).body).toMatchObject({ cpu: 60_000, memory: 350_000 });
  });

  it('gpu and ephemeral_storage overrides are kept; a GPU run goes on demand', async () => {
    const { body } = await byId({ ...OWNER, gpu: 1, ephemeral_storage: 20_000 });
    expect(body).toMatchObject({ gpu: 1, ephemeral_storage: 20_000, node_lifecycle: 'ondemand', active_deadline_seconds: 604_800 });
  });

  it('keeps arch, labels, service_account, tier, idempotence_key and description', async () => {
    const { body } = await byId({
      ...OWNER,
      arch: 'arm64',
      labels: { team: 'data' },
      service_account: 'runner',
      tier: 'batch',
      idempotence_key: uniqueAlias('keep'),
      description: 'nightly',
    });
    expect(body).toMatchObject({ arch: 'arm64', labels: { team: 'data' }, service_account: 'runner', tier: 'batch', description: 'nightly' });
    expect(body.idempotence_key).toMatch(/^keep-/);
  });
});

describe('node_lifecycle and deadlines', () => {
  it('defaults to spot with 172800 s; ondemand gets 604800 s', async () => {
    expect((await byId(OWNER)).body).toMatchObject({ node_lifecycle: 'spot', active_deadline_seconds: 172_800 });
    expect((await byId({ ...OWNER, node_lifecycle: 'spot' })).body).toMatchObject({ node_lifecycle: 'spot', active_deadline_seconds: 172_800 });
    expect((await byId({ ...OWNER, node_lifecycle: 'ondemand' })).body).toMatchObject({ node_lifecycle: 'ondemand', active_deadline_seconds: 604_800 });
  });

  it('an explicit active_deadline_seconds wins', async () => {
    expect((await byId({ ...OWNER, active_deadline_seconds: 60 })).body.active_deadline_seconds).toBe(60);
    expect((await byId({ ...OWNER, node_lifecycle: 'ondemand', active_deadline_seconds: 5 })).body.active_deadline_seconds).toBe(5);
  });

  it('anything else is a 400 naming the field', async () => {
    await refused(byId({ ...OWNER, node_lifecycle: 'reserved' }), 400, 'node_lifecycle must be spot or ondemand');
    await refused(byId({ ...OWNER, node_lifecycle: 'SPOT' }), 400, 'node_lifecycle must be spot or ondemand');
    await refused(byId({ ...OWNER, active_deadline_seconds: 0 }), 400, /active_deadline_seconds/);
    await refused(byId({ ...OWNER, active_deadline_seconds: 1.5 }), 400, /active_deadline_seconds/);
  });
});

describe('idempotence_key', () => {
  it('the same key returns the earlier run, writing nothing', async () => {
    const key = uniqueAlias('idem');
    const first = await byId({ ...OWNER, idempotence_key: key });
    const before = await written();
    const again = await byId({ ...OWNER, idempotence_key: key, command: 'echo different' });
    expect(again.status).toBe(200);
    expect(again.body.run_id).toBe(first.body.run_id);
    expect(again.body.command).toBe(first.body.command);
    expect(await written()).toEqual(before);
    // Through the alias route too.
    expect((await put(`/api/v6/task/alias/${def.alias}/execute`, { ...OWNER, idempotence_key: key })).body.run_id).toBe(first.body.run_id);
  });

  it('an earlier run that succeeded or is still going counts', async () => {
    for (const status of ['PENDING', 'RUNNING', 'STOPPED'] as const) {
      const key = uniqueAlias('idem');
      const earlier = await createRun(t.services, { definition: def, status, exitCode: 0, input: { idempotenceKey: key } });
      expect((await byId({ ...OWNER, idempotence_key: key })).body.run_id).toBe(earlier.runId);
    }
  });

  it('a failed earlier run does not count: a new run is made', async () => {
    const key = uniqueAlias('idem');
    const failed = await createRun(t.services, { definition: def, status: 'STOPPED', exitCode: 1, input: { idempotenceKey: key } });
    const next = await byId({ ...OWNER, idempotence_key: key });
    expect(next.status).toBe(200);
    expect(next.body.run_id).not.toBe(failed.runId);
    expect(next.body.status).toBe('QUEUED');
    // Stopped without an exit code (a permanent submit error) is a failure too.
    const key2 = uniqueAlias('idem');
    const queued = await createRun(t.services, { definition: def, input: { idempotenceKey: key2 } });
    await moveRun(t.services, queued.runId, 'STOPPED', { exitReason: 'image name rejected', finishedAt: new Date() });
    expect((await byId({ ...OWNER, idempotence_key: key2 })).body.run_id).not.toBe(queued.runId);
  });

  it('a run older than 7 days does not count', async () => {
    const key = uniqueAlias('idem');
    const old = await createRun(t.services, { definition: def, input: { idempotenceKey: key } });
    await t.database.db
      .update(runs)
      .set({ queuedAt: new Date(Date.now() - 8 * 86_400_000) })
      .where(eq(runs.runId, old.runId));
    expect((await byId({ ...OWNER, idempotence_key: key })).body.run_id).not.toBe(old.runId);
  });

  it('concurrent executes with one key make one run', async () => {
    const key = uniqueAlias('idem');
    const results = await Promise.all(Array.from({ length: 5 }, () => byId({ ...OWNER, idempotence_key: key })));
    expect(new Set(results.map((r) => r.body.run_id)).size).toBe(1);
  });
});

describe('engine', () => {
  it('defaults to the configured engine; an enabled engine may be named', async () => {
    expect((await byId({ ...OWNER, engine: 'local' })).body.engine).toBe('local');
    expect((await byId({ ...OWNER, engine: 'LOCAL' })).body.engine).toBe('local');
  });

  it('a disabled engine is a 400 naming it', async () => {
    await refused(byId({ ...OWNER, engine: 'eks' }), 400, /^engine eks is not enabled/);
    await refused(byId({ ...OWNER, engine: 'kubernetes' }), 400, /^engine kubernetes is not enabled/);
    await refused(byId({ ...OWNER, engine: 'docker' }), 400, /^engine docker is not enabled/);
    await refused(byId({ ...OWNER, engine: 'mainframe' }), 400, /^engine mainframe is unknown/);
    await refused(byId({ ...OWNER, engine: 7 }), 400, /engine/);
  });

  it('eks is accepted as kubernetes where kubernetes is enabled', async () => {
    const fetch = appWith({ FLOTILLA_ENGINES: 'local,kubernetes' });
    for (const engine of ['eks', 'kubernetes', 'EKS']) {
      const { status, body } = await put(`/api/v6/task/${def.definitionId}/execute`, { ...OWNER, engine }, fetch);
      expect(status).toBe(200);
      expect(body.engine).toBe('kubernetes');
      expect(body.run_id).toMatch(/^kubernetes-[0-9a-f]{25}$/);
      expect(body.run_id).toHaveLength(36);
    }
  });
});

describe('unknown definitions', () => {
  it('404 with the classic messages, nothing written', async () => {
    await refused(put('/api/v6/task/nope-123/execute', OWNER), 404, 'Definition with ID nope-123 not found');
    await refused(put('/api/v4/task/nope-123/execute', OWNER), 404, 'Definition with ID nope-123 not found');
    await refused(put('/api/v6/task/alias/no-such-alias/execute', OWNER), 404, 'Definition with alias no-such-alias not found');
    await refused(put('/api/v1/task/alias/no-such-alias/execute', OWNER), 404, 'Definition with alias no-such-alias not found');
  });
});

describe('malformed bodies', () => {
  it('invalid JSON → 400', async () => {
    await refused(byId('{"run_tags": {"owner_id": "alice"'), 400, /^request body is not valid JSON/);
    await refused(byId('[1, 2]'), 400, 'request body must be a JSON object');
    await refused(byId('"alice"'), 400, 'request body must be a JSON object');
  });

  it('a wrong type → 400 naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ memory: '1024' }, /^memory /],
      [{ cpu: true }, /^cpu /],
      [{ cpu: -1 }, /^cpu /],
      [{ memory: 1.5 }, /^memory /],
      [{ gpu: 'one' }, /^gpu /],
      [{ ephemeral_storage: [] }, /^ephemeral_storage /],
      [{ command: 5 }, /^command /],
      [{ cluster: 5 }, /^cluster /],
      [{ env: 'A=1' }, /^env /],
      [{ env: [{ name: 'A', value: 1 }] }, /env/],
      [{ env: [{ value: 'x' }] }, /env/],
      [{ labels: { team: 1 } }, /^labels/],
      [{ labels: ['x'] }, /^labels/],
      [{ active_deadline_seconds: '60' }, /^active_deadline_seconds /],
      [{ idempotence_key: 12 }, /^idempotence_key /],
      [{ description: {} }, /^description /],
      [{ service_account: 1 }, /^service_account /],
      [{ tier: 1 }, /^tier /],
      [{ arch: 'x86 64' }, /^arch /],
    ];
    for (const [extra, message] of cases) await refused(byId({ ...OWNER, ...extra }), 400, message);
  });

  it('U+0000 in a value or key → 400 naming the field (Postgres cannot store it)', async () => {
    await refused(byId({ run_tags: { owner_id: 'a\u0000b' } }), 400, 'run_tags.owner_id must not contain NUL characters');
    await refused(byId({ ...OWNER, command: 'echo \u0000' }), 400, 'command must not contain NUL characters');
    await refused(byId({ ...OWNER, env: [{ name: 'A', value: 'x\u0000' }] }), 400, 'env[0].value must not contain NUL characters');
    await refused(byId({ ...OWNER, idempotence_key: 'k\u0000' }), 400, 'idempotence_key must not contain NUL characters');
    await refused(byId({ ...OWNER, labels: { 'a\u0000': 'b' } }), 400, 'labels keys must not contain NUL characters');
    await refused(put('/api/v6/task/alias/x%00/execute', OWNER), 404, 'Definition with alias x\u0000 not found');
    await refused(put('/api/v6/task/x%00/execute', OWNER), 404, 'Definition with ID x\u0000 not found');
  });

  it('reports every bad field at once, one message a line', async () => {
    const res = await byId({ ...OWNER, memory: 'lots', cpu: 'many' });
    expect(res.status).toBe(400);
    expect(res.body.error.split('\n').sort()).toEqual([expect.stringMatching(/^cpu /), expect.stringMatching(/^memory /)]);
  });
});
