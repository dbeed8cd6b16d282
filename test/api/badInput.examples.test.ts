// The bad inputs the property test (badInput.property.test.ts) found answered with a 500, a
// masked GraphQL error or a write behind a 4xx, pinned as plain examples so they stay fixed
// whatever seed the property test draws.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskDefinitionRow } from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { countRows } from '../helpers/badInputTargets.js';
import { createDefinition, createRun } from '../helpers/factories.js';

const LONE = '\ud800';
const SURROGATE = 'must not contain unpaired UTF-16 surrogates (it is not valid Unicode)';

let t: TestApp;
let def: TaskDefinitionRow;

beforeAll(async () => {
  t = await createTestApp();
  def = await createDefinition(t.services);
});
afterAll(async () => {
  await t?.close();
});

async function rest(path: string, method: string, json: unknown): Promise<{ status: number; error?: string }> {
  const res = await t.fetch(path, { method, json });
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return { status: res.status, error: ((await res.json()) as { error?: string }).error };
}

describe('unpaired surrogates (jsonb refuses them) and NUL are a 400 naming the field', () => {
  it.each([
    [
      'a definition env value',
      '/api/v6/task',
      'POST',
      { alias: 'lone-env', image: 'alpine:3', env: [{ name: 'A', value: LONE }] },
      `env[0].value ${SURROGATE}`,
    ],
    ['a definition tag', '/api/v6/task', 'POST', { alias: 'lone-tag', image: 'alpine:3', tags: [`x${LONE}`] }, `tags[0] ${SURROGATE}`],
    ['a definition alias (text would store U+FFFD instead)', '/api/v6/task', 'POST', { alias: `a${LONE}`, image: 'alpine:3' }, `alias ${SURROGATE}`],
    ['a cluster config value', '/api/v6/clusters', 'POST', { name: 'lone', engine: 'local', config: { k: LONE } }, `config ${SURROGATE}`],
    ['a cluster tier', '/api/v6/clusters', 'POST', { name: 'lone', engine: 'local', allowed_tiers: [LONE] }, `allowed_tiers ${SURROGATE}`],
    // U+0000 was refused only in a cluster's config.
    ['NUL in a cluster region', '/api/v6/clusters', 'POST', { name: 'nul', engine: 'local', region: 'eu\u0000' }, 'region must not contain NUL characters'],
    [
      'NUL in a cluster capability',
      '/api/v6/clusters',
      'POST',
      { name: 'nul', engine: 'local', capabilities: ['gpu\u0000'] },
      'capabilities must not contain NUL characters',
    ],
  ])('%s', async (_what, path, method, body, error) => {
    const before = await countRows(t);
    expect(await rest(path, method, body)).toEqual({ status: 400, error });
    expect(await countRows(t)).toEqual(before);
  });

  it.each([
    ['a label key', { labels: { [`k${LONE}`]: 'v' } }, `labels keys ${SURROGATE}`],
    ['a run tag', { run_tags: { owner_id: 'ann', team: LONE } }, `run_tags.team ${SURROGATE}`],
    ['the owner', { run_tags: { owner_id: `ann${LONE}` } }, `run_tags.owner_id ${SURROGATE}`],
  ])('in an execute: %s', async (_what, body, error) => {
    const before = await countRows(t);
    expect(await rest(`/api/v6/task/${def.definitionId}/execute`, 'PUT', { run_tags: { owner_id: 'ann' }, ...body })).toEqual({ status: 400, error });
    expect(await countRows(t)).toEqual(before);
  });

  it('in GraphQL: a typed ValidationError for input, a client error for a filter', async () => {
    const created = await t.gql(
      `mutation($input: CreateTaskDefinitionInput!) { createTaskDefinition(input: $input) { __typename ... on ValidationError { fields { path message } } } }`,
      { input: { alias: 'lone-gql', image: 'alpine:3', env: [{ name: 'A', value: LONE }] } },
    );
    expect(created.data.createTaskDefinition).toEqual({
      __typename: 'ValidationError',
      fields: [{ path: ['input', 'env', '0', 'value'], message: `input.env[0].value ${SURROGATE}` }],
    });
    const listed = await t.gql(`query($filter: RunFilter) { runs(filter: $filter) { totalCount } }`, { filter: { env: [{ name: 'A', value: LONE }] } });
    expect(listed.errors?.map((e) => e.message)).toEqual([`filter.env[0].value ${SURROGATE}`]);
  });
});

describe('one path format over REST and GraphQL', () => {
  const EXECUTE = `mutation($id: ID, $input: ExecuteInput!) {
    executeTask(definitionId: $id, input: $input) { __typename ... on ValidationError { fields { path message } } }
  }`;

  it('the same bad env value is env[0].value in both; GraphQL puts it under its argument', async () => {
    const env = [
      { name: 'OK', value: 'fine' },
      { name: 'A', value: 'x\u0000' },
    ];
    const rest = await t.fetch(`/api/v6/task/${def.definitionId}/execute`, { method: 'PUT', json: { run_tags: { owner_id: 'ann' }, env } });
    expect({ status: rest.status, body: await rest.json() }).toEqual({ status: 400, body: { error: 'env[1].value must not contain NUL characters' } });
    const gql = await t.gql(EXECUTE, { id: def.definitionId, input: { owner: 'ann', env } });
    expect(gql.data.executeTask).toEqual({
      __typename: 'ValidationError',
      fields: [{ path: ['input', 'env', '1', 'value'], message: 'input.env[1].value must not contain NUL characters' }],
    });
  });

  it('GraphQL names its own fields where REST keeps the classic words', async () => {
    const gqlOwner = await t.gql(EXECUTE, { id: def.definitionId, input: { owner: '' } });
    expect(gqlOwner.data.executeTask.fields).toEqual([{ path: ['input', 'owner'], message: 'input.owner must be a non-empty string: who the run is for' }]);
    const restOwner = await rest(`/api/v6/task/${def.definitionId}/execute`, 'PUT', { run_tags: { owner_id: '' } });
    expect(restOwner).toEqual({ status: 400, error: 'run_tags must exist in body and contain [owner_id]' });

    const gqlDeadline = await t.gql(EXECUTE, { id: def.definitionId, input: { owner: 'ann', activeDeadlineSeconds: 0 } });
    expect(gqlDeadline.data.executeTask.fields).toEqual([
      { path: ['input', 'activeDeadlineSeconds'], message: 'input.activeDeadlineSeconds must be a positive integer' },
    ]);
    const restDeadline = await rest(`/api/v6/task/${def.definitionId}/execute`, 'PUT', { run_tags: { owner_id: 'ann' }, active_deadline_seconds: 0 });
    expect(restDeadline).toEqual({ status: 400, error: 'active_deadline_seconds must be a positive integer' });
  });
});

it('a cluster config nested thousands of levels deep is a 400 (the walk over it overflowed the stack: a 500)', async () => {
  const depth = 5_000;
  const config = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const res = await t.fetch('/api/v6/clusters', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"name": "deep", "engine": "local", "config": ${config}}`,
  });
  expect({ status: res.status, body: await res.json() }).toEqual({ status: 400, body: { error: 'config must be at most 32 levels deep' } });
});

describe('a value nested thousands deep in an error message (String() and JSON.stringify overflow on it)', () => {
  const deep = '['.repeat(15_000) + ']'.repeat(15_000);

  it('as a self-reported status: a 400', async () => {
    const run = await createRun(t.services, { definition: def });
    const res = await t.fetch(`/api/v6/${run.runId}/status`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: `{"status": ${deep}}` });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 400, body: { error: 'status an array is invalid' } });
  });

  it('as a GraphQL DateTime variable: an error naming the type, not a masked one', async () => {
    const res = await t.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"query": "query($f: RunFilter) { runs(filter: $f) { totalCount } }", "variables": {"f": {"queuedAfter": ${deep}}}}`,
    });
    const body = (await res.json()) as { errors: { message: string }[] };
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]!.message).toContain('DateTime must be an RFC 3339 time with a zone, e.g. 2026-01-31T12:00:00Z; got an array');
  });
});

it('a __proto__ key in a body is an ignored key, not a prototype whose keys read as fields', async () => {
  const res = await t.fetch('/api/v6/task', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"alias": "proto", "image": "alpine:3", "__proto__": {"group_name": "evil", "memory": 1}}',
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ alias: 'proto', group_name: 'default' });
  expect(body.memory).toBeUndefined();
});

it('a self-reported exit code outside 32 bits is a 400, not a driver error', async () => {
  const run = await createRun(t.services, { definition: def });
  expect(await rest(`/api/v6/${run.runId}/status`, 'PUT', { status: 'STOPPED', exit_code: 2 ** 31 })).toEqual({
    status: 400,
    error: 'exit_code must be between -2147483648 and 2147483647',
  });
  expect((await t.services.runs.get(run.runId)).status).toBe('QUEUED');
});

describe('GraphQL requests Yoga could not answer', () => {
  it('a mutation whose Accept allows no answer is refused before it runs', async () => {
    const before = await countRows(t);
    const res = await t.fetch('/graphql', {
      method: 'POST',
      headers: { accept: 'text/html' },
      json: { query: `mutation { deleteTaskDefinition(id: "${def.definitionId}") { __typename } }` },
    });
    expect(res.status).toBe(406);
    expect(res.headers.get('accept')).toContain('application/json');
    expect(await countRows(t)).toEqual(before);
    // What a browser's GraphiQL asks for, and what clients send, still work.
    const ok = await t.fetch('/graphql', {
      method: 'POST',
      headers: { accept: 'application/graphql-response+json, application/json;q=0.9' },
      json: { query: '{ health }' },
    });
    expect(ok.status).toBe(200);
  });

  it('a document nested too deeply to parse is a syntax error, not a masked 500', async () => {
    const depth = 5_000;
    const res = await t.fetch('/graphql', { method: 'POST', json: { query: `{ taskDefinition(alias: ${'['.repeat(depth)}${']'.repeat(depth)}) { id } }` } });
    expect(res.status).toBeLessThan(500);
    const body = (await res.json()) as { errors: { message: string }[] };
    expect(body.errors.map((e) => e.message)).toEqual(['Syntax Error: the document is nested too deeply to parse']);
  });
});
