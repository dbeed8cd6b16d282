// /api/v7 templates (spec/templates.md): every route, every error, the classic response
// shapes, the merge of payload over defaults, the rendered command and every payload
// validation failure. The last block runs a template for real on the local engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import { runs, templates } from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const JSON_TYPE = 'application/json; charset=utf-8';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local' });
});
afterAll(async () => {
  await t?.close();
});

async function call(path: string, init: RequestInit & { json?: unknown } = {}) {
  const res = await t.fetch(path, init);
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  return { status: res.status, body: (await res.json()) as any };
}
const post = (json: unknown) => call('/api/v7/template', { method: 'POST', json });
const put = (path: string, json: unknown) => call(path, { method: 'PUT', json });

let n = 0;
const uniqueName = (p = 'train') => `${p}-${++n}-${Math.random().toString(16).slice(2, 8)}`;

const SCHEMA = {
  type: 'object',
  properties: {
    lr: { type: 'number', minimum: 0 },
    epochs: { type: 'integer' },
    model: { type: 'object', properties: { name: { type: 'string' }, layers: { type: 'integer' } }, required: ['name'] },
    mode: { enum: ['fast', 'slow'] },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['lr', 'model'],
  additionalProperties: false,
};

function templateBody(name = uniqueName(), extra: Record<string, unknown> = {}) {
  return {
    template_name: name,
    schema: SCHEMA,
    command_template: 'echo train --lr {{.lr}} --epochs {{.epochs}} --model {{.model.name}}/{{.model.layers}}{{range .tags}} --tag {{.}}{{end}}',
    defaults: { lr: 0.01, epochs: 3, model: { name: 'base', layers: 2 } },
    image: 'alpine:3',
    ...extra,
  };
}

async function runCount(): Promise<number> {
  return Number((await t.database.db.select({ n: count() }).from(runs))[0]!.n);
}
async function templateCount(): Promise<number> {
  return Number((await t.database.db.select({ n: count() }).from(templates))[0]!.n);
}

describe('POST /api/v7/template (create or version)', () => {
  it('a new name is version 1 with the defaults filled; did_create true', async () => {
    const name = uniqueName();
    const { status, body } = await post(templateBody(name));
    expect(status).toBe(200);
    expect(body).toEqual({
      did_create: true,
      template: {
        template_id: expect.stringMatching(/^tpl-[0-9a-f-]{36}$/),
        template_name: name,
        version: 1,
        schema: SCHEMA,
        command_template: templateBody(name).command_template,
        defaults: templateBody(name).defaults,
        image: 'alpine:3',
        memory: 512,
        cpu: 256,
        env: [],
        adaptive_resource_allocation: true,
        ports: [],
        tags: [],
        created_at: expect.stringMatching(/Z$/),
      },
    });
  });

  it('the same again is the same template, did_create false; a changed field is version 2', async () => {
    const name = uniqueName();
    const first = (await post(templateBody(name))).body.template;
    const same = await post(templateBody(name));
    expect(same.body).toEqual({ did_create: false, template: first });
    const changed = await post(templateBody(name, { memory: 1024 }));
    expect(changed.body).toMatchObject({ did_create: true, template: { template_name: name, version: 2, memory: 1024 } });
    expect(changed.body.template.template_id).not.toBe(first.template_id);
    // Keys match case-insensitively, as everywhere in the classic API.
    const upper = await post({ ...templateBody(name, { memory: 1024 }), TEMPLATE_NAME: name });
    expect(upper.body.did_create).toBe(false);
  });

  it('concurrent creates of one name make consecutive versions, never a duplicate', async () => {
    const name = uniqueName();
    const results = await Promise.all([1, 2, 3, 4].map((i) => post(templateBody(name, { cpu: 256 + i }))));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.map((r) => r.body.template.version).sort()).toEqual([1, 2, 3, 4]);
  });

  it.each([
    [{ template_name: undefined }, 'string [template_name] must be specified'],
    [{ template_name: 'has space' }, 'template_name must be 1-255 letters, digits, "-" or "_"'],
    [{ template_name: 'x'.repeat(256) }, 'template_name must be 1-255 letters, digits, "-" or "_"'],
    [{ schema: undefined }, 'schema must be a JSON object'],
    [{ schema: {} }, 'schema must be a non-empty JSON Schema object'],
    [{ schema: [1] }, 'schema must be a JSON object'],
    [{ schema: { type: 'nonsense' } }, /^schema is not a valid JSON Schema: /],
    [{ command_template: undefined }, 'string [command_template] must be specified'],
    [{ command_template: 'echo {{.lr' }, 'command_template line 1, column 6: unclosed action: "{{" without "}}"'],
    [{ command_template: 'echo {{nope .lr}}' }, 'command_template line 1, column 8: function "nope" not defined'],
    [{ image: undefined }, 'string [image] must be specified'],
    [{ image: '  ' }, 'string [image] must be specified'],
    [{ memory: -1 }, 'memory must be an integer between 0 and 350000'],
    [{ cpu: 'lots' }, 'cpu must be an integer between 0 and 60000'],
    [{ defaults: 'x' }, 'defaults must be a JSON object'],
    [{ env: [{ name: 'A' }] }, 'env[0].value: env value must be a string (quote numbers and booleans)'],
    [{ adaptive_resource_allocation: 'yes' }, 'adaptive_resource_allocation must be true or false'],
    [{ image: 'a\u0000b' }, 'image must not contain NUL characters'],
  ])('refuses %j with 400 naming the field; nothing is stored', async (change, message) => {
    const before = await templateCount();
    const body: Record<string, unknown> = { ...templateBody(), ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete body[k];
    const res = await post(body);
    expect(res.status).toBe(400);
    if (typeof message === 'string') expect(res.body).toEqual({ error: message });
    else expect(res.body.error).toMatch(message);
    expect(await templateCount()).toBe(before);
  });

  it('invalid JSON → 400', async () => {
    const res = await call('/api/v7/template', { method: 'POST', body: '{"template_name": ', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/^request body is not valid JSON/);
  });
});

describe('GET /api/v7/template (list) and /template/{id}', () => {
  let name: string;
  let v1: any;
  let v2: any;
  beforeAll(async () => {
    name = uniqueName('listed');
    v1 = (await post(templateBody(name))).body.template;
    v2 = (await post(templateBody(name, { cpu: 512 }))).body.template;
  });

  it('latest only by default: one row per name, its highest version; classic envelope', async () => {
    const { status, body } = await call('/api/v7/template');
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['total', 'templates', 'limit', 'offset', 'sort_by', 'order']);
    expect(body).toMatchObject({ limit: 1024, offset: 0, sort_by: 'template_name', order: 'asc' });
    const mine = body.templates.filter((x: any) => x.template_name === name);
    expect(mine).toEqual([v2]);
    const names = body.templates.map((x: any) => x.template_name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual([...names].sort());
    expect(body.total).toBe(names.length);
  });

  it('latest_only=false lists every version; sort_by version desc; paging', async () => {
    const all = (await call('/api/v7/template?latest_only=false&sort_by=version&order=desc')).body;
    expect(all.templates.filter((x: any) => x.template_name === name).map((x: any) => x.version)).toEqual([2, 1]);
    expect(all.templates[0].version).toBeGreaterThanOrEqual(all.templates.at(-1).version);
    const page = (await call('/api/v7/template?latest_only=false&limit=1&offset=1')).body;
    expect(page.templates).toHaveLength(1);
    expect(page.total).toBe(all.total);
    const empty = (await call('/api/v7/template?limit=0')).body;
    expect(empty.templates).toEqual([]);
  });

  it.each([
    ['limit=-1', 'limit must be a non-negative integer, got [-1]'],
    ['offset=x', 'offset must be a non-negative integer, got [x]'],
    ['sort_by=image', 'Invalid field to order by [image], must be one of [template_name, version]'],
    ['order=up', "Invalid order string, must be one of ('asc', 'desc'), was up"],
    ['latest_only=maybe', 'latest_only must be true or false, got [maybe]'],
    ['color=red', 'Invalid field to filter by [color], must be one of [limit, offset, sort_by, order, latest_only]'],
  ])('?%s → 400', async (query, message) => {
    expect(await call(`/api/v7/template?${query}`)).toEqual({ status: 400, body: { error: message } });
  });

  it('get by id; unknown → 404 naming it', async () => {
    expect(await call(`/api/v7/template/${v1.template_id}`)).toEqual({ status: 200, body: v1 });
    expect(await call('/api/v7/template/tpl-nope')).toEqual({ status: 404, body: { error: 'Template with ID tpl-nope not found' } });
  });
});

describe('PUT /api/v7/template/{id}/execute', () => {
  let tpl: any;
  beforeAll(async () => {
    tpl = (await post(templateBody(uniqueName('exec'), { env: [{ name: 'FROM_TEMPLATE', value: 't' }] }))).body.template;
  });
  const exec = (body: unknown, id = tpl.template_id) => put(`/api/v7/template/${id}/execute`, body);

  it('merges the payload over the defaults (recursively), renders the command, and queues a template run', async () => {
    const payload = { lr: 0.5, model: { name: 'big' }, tags: ['a', 'b'] };
    const { status, body } = await exec({ owner_id: 'alice', template_payload: payload, env: [{ name: 'X', value: '1' }] });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'QUEUED',
      executable_type: 'template',
      executable_id: tpl.template_id,
      definition_id: tpl.template_id,
      alias: tpl.template_id,
      group_name: 'template_group_name',
      image: 'alpine:3',
      user: 'alice',
      // model.layers came from the defaults; lr and model.name from the payload.
      command: 'echo train --lr 0.5 --epochs 3 --model big/2 --tag a --tag b',
      execution_request_custom: { template_payload: payload },
      memory: 512,
      cpu: 256,
      engine: 'local',
    });
    expect(body.command_hash).toMatch(/^[0-9a-f]{32}$/);
    expect(body.env.map((e: any) => e.name)).toEqual([
      'FLOTILLA_RUN_ID',
      'FLOTILLA_SERVER_MODE',
      'FLOTILLA_RUN_OWNER_ID',
      'AWS_ROLE_SESSION_NAME',
      'FROM_TEMPLATE',
      'X',
    ]);
    // Read back as v6 and v7.
    expect((await call(`/api/v6/history/${body.run_id}`)).body).toMatchObject({ executable_type: 'template', command: body.command });
    expect((await call(`/api/v7/template/history/${body.run_id}`)).body.run_id).toBe(body.run_id);
    expect((await call(`/api/v7/template/${tpl.template_id}/history/${body.run_id}`)).body.run_id).toBe(body.run_id);
  });

  it('no payload: the defaults alone; a body command overrides the rendered one; v6 overrides apply', async () => {
    const plain = await exec({ owner_id: 'bob' });
    expect(plain.body.command).toBe('echo train --lr 0.01 --epochs 3 --model base/2');
    expect(plain.body.execution_request_custom).toEqual({ template_payload: {} });
    const overridden = await exec({ owner_id: 'bob', command: 'echo mine', memory: 2048, cpu: 1024, template_payload: { lr: 1 } });
    expect(overridden.body).toMatchObject({ command: 'echo mine', memory: 2048, cpu: 1024 });
  });

  it('dry_run returns the run with its rendered command and stores nothing', async () => {
    const before = await runCount();
    const { status, body } = await exec({ owner_id: 'carol', dry_run: true, template_payload: { lr: 2, model: { name: 'dry', layers: 9 } } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'QUEUED', command: 'echo train --lr 2 --epochs 3 --model dry/9', executable_type: 'template' });
    expect(await runCount()).toBe(before);
    expect((await call(`/api/v6/history/${body.run_id}`)).status).toBe(404);
  });

  it.each([
    [{ template_payload: { lr: -1 } }, 'template_payload.lr: must be >= 0'],
    [{ template_payload: { lr: 'fast' } }, 'template_payload.lr: must be number'],
    [{ template_payload: { model: { name: 3 } } }, 'template_payload.model.name: must be string'],
    [{ template_payload: { mode: 'medium' } }, 'template_payload.mode: must be one of ["fast","slow"]'],
    [{ template_payload: { extra: 1 } }, 'template_payload: must not have the property extra'],
    [{ template_payload: { tags: ['a', 2] } }, 'template_payload.tags[1]: must be string'],
    // Several failures are all listed, one per line.
    [{ template_payload: { lr: 'x', epochs: 1.5 } }, 'template_payload.lr: must be number\ntemplate_payload.epochs: must be integer'],
    [{ template_payload: [1] }, 'template_payload must be a JSON object'],
    [{ template_payload: 'x' }, 'template_payload must be a JSON object'],
    [{ template_payload: { model: { name: 'a\u0000' } } }, 'template_payload.model.name must not contain NUL characters'],
    [{ dry_run: 'yes' }, 'dry_run must be true or false'],
    [{ memory: 'x' }, 'memory must be a non-negative integer (values above 350000 are clamped to 350000)'],
    [{ engine: 'nomad' }, 'engine nomad is unknown: use local, docker, kubernetes (or eks), ecs'],
  ])('%j → 400 naming each failing path; nothing is stored', async (change, message) => {
    const before = await runCount();
    const res = await exec({ owner_id: 'dave', ...change });
    expect(res).toEqual({ status: 400, body: { error: message } });
    expect(await runCount()).toBe(before);
  });

  it('a required key missing from payload and defaults → 400 naming it', async () => {
    const bare = (await post(templateBody(uniqueName('bare'), { defaults: {} }))).body.template;
    const res = await exec({ owner_id: 'x', template_payload: { model: { name: 'm' } } }, bare.template_id);
    expect(res).toEqual({ status: 400, body: { error: 'template_payload.lr: is required' } });
    const nested = await exec({ owner_id: 'x', template_payload: { lr: 1, model: {} } }, bare.template_id);
    expect(nested).toEqual({ status: 400, body: { error: 'template_payload.model.name: is required' } });
  });

  it('a rendering error → 400 naming the template position', async () => {
    const bad = (
      await post(templateBody(uniqueName('badrender'), { command_template: 'echo {{index .tags 5}}', defaults: { lr: 1, model: { name: 'm' }, tags: [] } }))
    ).body.template;
    const res = await exec({ owner_id: 'x' }, bad.template_id);
    expect(res).toEqual({ status: 400, body: { error: 'rendering command_template failed at line 1, column 8: index out of range: 5' } });
  });

  it('owner_id is required (v7 does not read run_tags); unknown template → 404', async () => {
    const before = await runCount();
    expect(await exec({ template_payload: {} })).toEqual({ status: 400, body: { error: 'request payload must contain [owner_id]' } });
    expect(await exec({ run_tags: { owner_id: 'x' } })).toEqual({ status: 400, body: { error: 'request payload must contain [owner_id]' } });
    expect(await exec({ owner_id: '  ' })).toEqual({ status: 400, body: { error: 'request payload must contain [owner_id]' } });
    expect(await exec({ owner_id: 'x' }, 'tpl-missing')).toEqual({ status: 404, body: { error: 'Template with ID tpl-missing not found' } });
    expect(await runCount()).toBe(before);
  });

  it('a payload nested deeper than 64 levels → 400 (jsonb would fail to parse it), nothing stored', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 1000; i++) deep = { d: deep };
    const before = await runCount();
    expect(await exec({ owner_id: 'x', template_payload: deep })).toEqual({ status: 400, body: { error: 'template_payload must be at most 64 levels deep' } });
    expect(await runCount()).toBe(before);
    const created = await post(templateBody(uniqueName('deep'), { defaults: deep }));
    expect(created).toEqual({ status: 400, body: { error: 'defaults must be at most 64 levels deep' } });
  });

  it('a reserved env name → 409', async () => {
    expect(await exec({ owner_id: 'x', env: [{ name: 'FLOTILLA_RUN_ID', value: 'x' }] })).toEqual({
      status: 409,
      body: { error: 'environment variable FLOTILLA_RUN_ID is reserved' },
    });
  });
});

describe('PUT /api/v7/template/name/{name}/version/{version}/execute', () => {
  it('an integer version picks it; latest (or anything else) the newest; unknown → 404 naming name and version', async () => {
    const name = uniqueName('byname');
    await post(templateBody(name));
    await post(templateBody(name, { command_template: 'echo v2 {{.lr}}' }));
    const v1 = await put(`/api/v7/template/name/${name}/version/1/execute`, { owner_id: 'x', dry_run: true });
    expect(v1.body.command).toBe('echo train --lr 0.01 --epochs 3 --model base/2');
    const latest = await put(`/api/v7/template/name/${name}/version/latest/execute`, { owner_id: 'x', dry_run: true });
    expect(latest.body.command).toBe('echo v2 0.01');
    expect(await put(`/api/v7/template/name/${name}/version/7/execute`, { owner_id: 'x' })).toEqual({
      status: 404,
      body: { error: `Template with name ${name} and version 7 not found` },
    });
    expect(await put('/api/v7/template/name/nobody/version/latest/execute', { owner_id: 'x' })).toEqual({
      status: 404,
      body: { error: 'Template with name nobody and version latest not found' },
    });
  });
});

describe('history and stop', () => {
  let name: string;
  let a: any;
  let b: any;
  const ran: string[] = [];
  beforeAll(async () => {
    name = uniqueName('hist');
    a = (await post(templateBody(name, { command_template: 'sleep 30' }))).body.template;
    b = (await post(templateBody(name, { command_template: 'sleep 31' }))).body.template;
    for (const tpl of [a, a, b]) ran.push((await put(`/api/v7/template/${tpl.template_id}/execute`, { owner_id: 'hist' })).body.run_id);
  });

  it('by template id: its runs, as a v6 history list', async () => {
    const { status, body } = await call(`/api/v7/template/${a.template_id}/history?sort_by=queued_at&order=asc`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ total: 2, limit: 1024, offset: 0, sort_by: 'queued_at', order: 'asc', env_filters: {} });
    expect(body.history.map((r: any) => r.run_id)).toEqual(ran.slice(0, 2));
    expect(body.history.every((r: any) => r.executable_id === a.template_id)).toBe(true);
  });

  it('by name: the runs of every version (the classic UI calls this route)', async () => {
    const { body } = await call(`/api/v7/template/name/${name}/history?sort_by=queued_at&order=asc`);
    expect(body.total).toBe(3);
    expect(body.history.map((r: any) => r.run_id)).toEqual(ran);
    // v6 list filters work here too.
    expect((await call(`/api/v7/template/name/${name}/history?status=RUNNING&status=STOPPED`)).body.total).toBeLessThanOrEqual(3);
    expect((await call(`/api/v7/template/name/${name}/history?status=BOGUS`)).status).toBe(400);
  });

  it('unknown template or name → 404; unknown run → 404', async () => {
    expect(await call('/api/v7/template/tpl-x/history')).toEqual({ status: 404, body: { error: 'Template with ID tpl-x not found' } });
    expect(await call('/api/v7/template/name/never-made/history')).toEqual({ status: 404, body: { error: 'Template with name never-made not found' } });
    expect(await call('/api/v7/template/history/local-nope')).toEqual({ status: 404, body: { error: 'Run with id local-nope not found' } });
  });

  it('DELETE …/history/{run_id} stops it as v6 does; idempotent; unknown → 404', async () => {
    const runId = ran[2]!;
    expect(await call(`/api/v7/template/${b.template_id}/history/${runId}`, { method: 'DELETE' })).toEqual({ status: 200, body: { terminated: true } });
    const run = (await call(`/api/v7/template/history/${runId}`)).body;
    expect(run).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });
    expect((await call(`/api/v7/template/${b.template_id}/history/${runId}`, { method: 'DELETE' })).body).toEqual({ terminated: true });
    expect((await call(`/api/v7/template/${b.template_id}/history/local-none`, { method: 'DELETE' })).status).toBe(404);
  });

  it('template runs show in the v6 history too, and deleting a definition leaves them alone', async () => {
    const list = (await call(`/api/v6/history?definition_id=${a.template_id}`)).body;
    expect(list.total).toBe(2);
    const run = await t.database.db.select().from(runs).where(eq(runs.runId, ran[0]!));
    expect(run[0]!.executableType).toBe('template');
  });
});

describe('a template run on the local engine', () => {
  it('runs the rendered command and its output reaches the logs', async () => {
    t.startWorkers();
    const tpl = (
      await post({
        template_name: uniqueName('real'),
        schema: { type: 'object', properties: { who: { type: 'string' }, n: { type: 'integer' } }, required: ['who'] },
        command_template: 'echo "hello {{.who | upper}}"; {{range $i := .n | default 2}}echo line; {{end}}',
        defaults: { who: 'world' },
        image: 'alpine:3',
      })
    ).body.template;
    const run = (await put(`/api/v7/template/${tpl.template_id}/execute`, { owner_id: 'real', template_payload: { who: 'flotilla' } })).body;
    let status = run.status;
    for (let i = 0; i < 150 && status !== 'STOPPED'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await call(`/api/v7/template/history/${run.run_id}`)).body.status;
    }
    const done = (await call(`/api/v7/template/history/${run.run_id}`)).body;
    expect(done).toMatchObject({ status: 'STOPPED', exit_code: 0 });
    let log = '';
    for (let i = 0; i < 50 && !log.includes('line\nline'); i++) {
      log = (await call(`/api/v6/${run.run_id}/logs`)).body.log;
      if (!log.includes('line\nline')) await new Promise((r) => setTimeout(r, 200));
    }
    expect(log).toBe('hello FLOTILLA\nline\nline\n');
  }, 60_000);
});
