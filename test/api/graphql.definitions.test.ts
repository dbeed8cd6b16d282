import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const DEFINITION_FIELDS = `
  id definitionId alias groupName image command memory cpu gpu ephemeralStorage
  env { name value } tags ports adaptiveResourceAllocation requiresDocker targetCluster
  version createdAt updatedAt`;

const RESULT_FIELDS = `
  __typename
  ... on Error { message code }
  ... on ValidationError { fields { path message } }`;

const CREATE = `mutation($input: CreateTaskDefinitionInput!) {
  createTaskDefinition(input: $input) {
    ${RESULT_FIELDS}
    ... on CreateTaskDefinitionSuccess { taskDefinition { ${DEFINITION_FIELDS} } }
  }
}`;

const UPDATE = `mutation($id: ID!, $input: UpdateTaskDefinitionInput!) {
  updateTaskDefinition(id: $id, input: $input) {
    ${RESULT_FIELDS}
    ... on UpdateTaskDefinitionSuccess { taskDefinition { ${DEFINITION_FIELDS} } }
  }
}`;

const DELETE = `mutation($id: ID!) {
  deleteTaskDefinition(id: $id) {
    ${RESULT_FIELDS}
    ... on DeleteTaskDefinitionSuccess { deletedId }
  }
}`;

const LIST = `query($filter: TaskDefinitionFilter, $orderBy: TaskDefinitionOrder, $first: Int, $after: String, $last: Int, $before: String) {
  taskDefinitions(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { alias memory groupName } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

async function create(input: Record<string, unknown>) {
  const res = await t.gql(CREATE, { input });
  expect(res.errors).toBeUndefined();
  return res.data.createTaskDefinition;
}

async function createOk(input: Record<string, unknown>) {
  const result = await create(input);
  expect(result.__typename).toBe('CreateTaskDefinitionSuccess');
  return result.taskDefinition;
}

describe('createTaskDefinition', () => {
  it('creates a definition with defaults, a global id and its definitionId', async () => {
    const def = await createOk({ alias: 'gql-create', image: 'alpine:3.20', command: 'echo hi', memory: 1024, env: [{ name: 'A', value: '1' }] });
    expect(def).toMatchObject({
      alias: 'gql-create',
      groupName: 'default',
      image: 'alpine:3.20',
      command: 'echo hi',
      memory: 1024,
      cpu: null,
      gpu: null,
      ephemeralStorage: null,
      env: [{ name: 'A', value: '1' }],
      tags: [],
      ports: [],
      adaptiveResourceAllocation: null,
      requiresDocker: false,
      targetCluster: null,
      version: 1,
    });
    expect(Buffer.from(def.id, 'base64').toString()).toBe(`TaskDefinition:${def.definitionId}`);
    expect(def.definitionId).toMatch(/^default-[0-9a-f-]{36}$/);
    expect(new Date(def.createdAt).toISOString()).toBe(def.createdAt);
  });

  it('treats null optional fields in a create as not given', async () => {
    const def = await createOk({ alias: 'gql-create-nulls', image: 'alpine', groupName: null, env: null, requiresDocker: null });
    expect(def).toMatchObject({ groupName: 'default', env: [], requiresDocker: false });
  });

  it('reports invalid fields as a ValidationError with their paths', async () => {
    const result = await create({
      alias: '  ',
      image: 'alpine',
      groupName: 'has spaces',
      memory: 400_000,
      env: [
        { name: 'OK', value: '1' },
        { name: '', value: 'x' },
      ],
      ports: [0],
    });
    expect(result.__typename).toBe('ValidationError');
    expect(result.code).toBe('VALIDATION');
    const byPath = Object.fromEntries(result.fields.map((f: { path: string[]; message: string }) => [f.path.join('.'), f.message]));
    expect(Object.keys(byPath).sort()).toEqual(['input.alias', 'input.env.1.name', 'input.groupName', 'input.memory', 'input.ports.0']);
    expect(byPath['input.alias']).toBe('input.alias must be specified');
    expect(byPath['input.memory']).toBe('input.memory must be an integer between 0 and 350000');
    expect(byPath['input.groupName']).toMatch(/^input\.groupName must be 1-255 letters/);
    expect(result.message).toContain('input.alias must be specified');
  });

  it('reports a duplicate alias as a ConflictError', async () => {
    await createOk({ alias: 'gql-dup', image: 'alpine' });
    const result = await create({ alias: 'gql-dup', image: 'busybox' });
    expect(result).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', message: 'definition with alias [gql-dup] aleady exists' });
  });

  it('rejects a missing required argument before the resolver (GraphQL validation)', async () => {
    const res = await t.gql(CREATE, { input: { image: 'alpine' } });
    expect(res.data).toBeUndefined();
    expect(res.errors?.[0]?.message).toMatch(/alias/);
  });
});

describe('taskDefinition', () => {
  it('finds one definition by id or by alias, and answers null when none matches', async () => {
    const def = await createOk({ alias: 'gql-lookup', image: 'alpine' });
    const res = await t.gql(
      `query($id: ID, $alias: String) {
        byId: taskDefinition(id: $id) { alias version }
        byAlias: taskDefinition(alias: $alias) { id }
        missingId: taskDefinition(id: "default-nope") { id }
        missingAlias: taskDefinition(alias: "nope") { id }
      }`,
      { id: def.id, alias: 'gql-lookup' },
    );
    expect(res).toEqual({
      data: { byId: { alias: 'gql-lookup', version: 1 }, byAlias: { id: def.id }, missingId: null, missingAlias: null },
    });
  });

  it('batches lookups in one operation into one list call per key kind', async () => {
    const a = await createOk({ alias: 'gql-batch-a', image: 'alpine' });
    const b = await createOk({ alias: 'gql-batch-b', image: 'alpine' });
    const spy = vi.spyOn(t.services.definitions, 'list');
    try {
      const res = await t.gql(
        `query($a: ID, $b: ID) {
        a: taskDefinition(id: $a) { alias }
        b: taskDefinition(id: $b) { alias }
        again: taskDefinition(id: $a) { alias }
      }`,
        { a: a.id, b: b.id },
      );
      expect(res.data).toEqual({ a: { alias: 'gql-batch-a' }, b: { alias: 'gql-batch-b' }, again: { alias: 'gql-batch-a' } });
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('is a GraphQL error, shown to the client, to give both id and alias or neither', async () => {
    for (const args of ['(id: "x", alias: "y")', '']) {
      const res = await t.gql(`{ taskDefinition${args} { id } }`);
      expect(res.data).toEqual({ taskDefinition: null });
      expect(res.errors?.[0]).toMatchObject({
        message: 'taskDefinition takes exactly one of definitionId or alias',
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
  });
});

describe('updateTaskDefinition', () => {
  it('changes the given fields, keeps the rest, bumps version and updatedAt', async () => {
    const def = await createOk({ alias: 'gql-upd', image: 'alpine', command: 'true', memory: 2048, tags: ['x'] });
    const result = (await t.gql(UPDATE, { id: def.id, input: { image: 'busybox', env: [{ name: 'B', value: '2' }] } })).data.updateTaskDefinition;
    expect(result.__typename).toBe('UpdateTaskDefinitionSuccess');
    expect(result.taskDefinition).toMatchObject({
      id: def.id,
      alias: 'gql-upd',
      image: 'busybox',
      command: 'true',
      memory: 2048,
      tags: ['x'],
      env: [{ name: 'B', value: '2' }],
      version: 2,
    });
    expect(new Date(result.taskDefinition.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(def.updatedAt).getTime());
  });

  it('clears an optional field given as null', async () => {
    const def = await createOk({ alias: 'gql-upd-null', image: 'alpine', memory: 2048 });
    const result = (await t.gql(UPDATE, { id: def.id, input: { memory: null } })).data.updateTaskDefinition;
    expect(result.taskDefinition).toMatchObject({ memory: null, version: 2 });
  });

  it('reports a missing definition as a NotFoundError', async () => {
    const result = (await t.gql(UPDATE, { id: 'default-missing', input: { image: 'x' } })).data.updateTaskDefinition;
    expect(result).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', message: 'Definition with ID default-missing not found' });
  });

  it('reports invalid fields with paths, and a required field set to null, without changing anything', async () => {
    const def = await createOk({ alias: 'gql-upd-bad', image: 'alpine' });
    const result = (await t.gql(UPDATE, { id: def.id, input: { image: null, cpu: -1, env: [{ name: 'A=B', value: 'x' }] } })).data.updateTaskDefinition;
    expect(result.__typename).toBe('ValidationError');
    expect(result.fields.map((f: { path: string[] }) => f.path.join('.')).sort()).toEqual(['input.cpu', 'input.env.0.name', 'input.image']);
    const after = await t.gql(`query($id: ID) { taskDefinition(id: $id) { image version } }`, { id: def.id });
    expect(after.data.taskDefinition).toEqual({ image: 'alpine', version: 1 });
  });

  it('reports taking another definition alias as a ConflictError', async () => {
    await createOk({ alias: 'gql-upd-taken', image: 'alpine' });
    const def = await createOk({ alias: 'gql-upd-mover', image: 'alpine' });
    const result = (await t.gql(UPDATE, { id: def.id, input: { alias: 'gql-upd-taken' } })).data.updateTaskDefinition;
    expect(result).toMatchObject({ __typename: 'ConflictError', message: 'definition with alias [gql-upd-taken] aleady exists' });
  });

  it('makes the new alias visible to a lookup later in the same operation', async () => {
    const def = await createOk({ alias: 'gql-upd-rename', image: 'alpine' });
    const res = await t.gql(
      `mutation($id: ID!) {
        updateTaskDefinition(id: $id, input: {alias: "gql-upd-renamed"}) { __typename }
      }`,
      { id: def.id },
    );
    expect(res.data.updateTaskDefinition.__typename).toBe('UpdateTaskDefinitionSuccess');
    const lookup = await t.gql(`{ old: taskDefinition(alias: "gql-upd-rename") { id } renamed: taskDefinition(alias: "gql-upd-renamed") { id } }`);
    expect(lookup.data).toEqual({ old: null, renamed: { id: def.id } });
  });
});

describe('deleteTaskDefinition', () => {
  it('archives (readable by id with archivedAt, alias free), then reports a second delete as a NotFoundError', async () => {
    const def = await createOk({ alias: 'gql-del', image: 'alpine' });
    const first = (await t.gql(DELETE, { id: def.id })).data.deleteTaskDefinition;
    expect(first).toEqual({ __typename: 'DeleteTaskDefinitionSuccess', deletedId: def.definitionId });
    const gone = await t.gql(`query($id: ID) { byId: taskDefinition(id: $id) { id archivedAt } byAlias: taskDefinition(alias: "gql-del") { id } }`, {
      id: def.id,
    });
    expect(gone.data.byId.id).toBe(def.id);
    expect(gone.data.byId.archivedAt).not.toBeNull();
    expect(gone.data.byAlias).toBeNull();
    const second = (await t.gql(DELETE, { id: def.id })).data.deleteTaskDefinition;
    expect(second).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
  });
});

describe('taskDefinitions', () => {
  // Their own group keeps these tests independent of definitions the other tests create.
  const group = 'gql_list';
  beforeAll(async () => {
    const specs = [
      { alias: 'list-a', image: 'python:3.12', memory: 512, env: [{ name: 'STAGE', value: 'prod' }] },
      { alias: 'list-b', image: 'node:20', memory: 4096, env: [{ name: 'STAGE', value: 'dev' }] },
      { alias: 'list-c', image: 'python:3.11', memory: null, command: 'python -m job' },
      {
        alias: 'list-d',
        image: 'alpine',
        memory: 1024,
        env: [
          { name: 'STAGE', value: 'prod' },
          { name: 'X', value: '1' },
        ],
      },
      { alias: 'list-e', image: 'alpine', memory: 2048 },
    ];
    for (const s of specs) await createOk({ groupName: group, ...s });
    await createOk({ alias: 'list-other-group', image: 'python:3.12', groupName: 'gql_list_other', memory: 100 });
  });

  const list = async (vars: Record<string, unknown>) => {
    const res = await t.gql(LIST, vars);
    expect(res.errors).toBeUndefined();
    return res.data.taskDefinitions;
  };
  const aliases = (conn: { edges: { node: { alias: string } }[] }) => conn.edges.map((e) => e.node.alias);
  const inGroup = { groupNames: [group] };

  it('lists by alias, with totalCount over every page', async () => {
    const conn = await list({ filter: inGroup });
    expect(conn.totalCount).toBe(5);
    expect(aliases(conn)).toEqual(['list-a', 'list-b', 'list-c', 'list-d', 'list-e']);
    expect(conn.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  it('pages forward with first/after until hasNextPage is false', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const conn: any = await list({ filter: inGroup, first: 2, after });
      expect(conn.totalCount).toBe(5);
      seen.push(...aliases(conn));
      pages++;
      expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1).cursor);
      expect(conn.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(['list-a', 'list-b', 'list-c', 'list-d', 'list-e']);
  });

  it('pages backward with last and before', async () => {
    const tail = await list({ filter: inGroup, last: 2 });
    expect(aliases(tail)).toEqual(['list-d', 'list-e']);
    expect(tail.pageInfo).toMatchObject({ hasPreviousPage: true });
    const before = await list({ filter: inGroup, last: 2, before: tail.pageInfo.startCursor });
    expect(aliases(before)).toEqual(['list-b', 'list-c']);
  });

  it('gives an empty page with null cursors past the end', async () => {
    const last = await list({ filter: inGroup, first: 5 });
    const past = await list({ filter: inGroup, first: 5, after: last.pageInfo.endCursor });
    expect(past).toMatchObject({ totalCount: 5, edges: [], pageInfo: { hasNextPage: false, startCursor: null, endCursor: null } });
  });

  it('filters by substrings, exact groups and env pairs', async () => {
    expect(aliases(await list({ filter: { ...inGroup, image: 'python' } }))).toEqual(['list-a', 'list-c']);
    expect(aliases(await list({ filter: { ...inGroup, command: '-m job' } }))).toEqual(['list-c']);
    expect(aliases(await list({ filter: { ...inGroup, alias: 'st-b' } }))).toEqual(['list-b']);
    expect(aliases(await list({ filter: { groupName: 'gql_list_oth' } }))).toEqual(['list-other-group']);
    expect(aliases(await list({ filter: { groupNames: [group, 'gql_list_other'], image: 'python:3.12' } }))).toEqual(['list-a', 'list-other-group']);
    expect(aliases(await list({ filter: { ...inGroup, env: [{ name: 'STAGE', value: 'prod' }] } }))).toEqual(['list-a', 'list-d']);
    expect(
      aliases(
        await list({
          filter: {
            ...inGroup,
            env: [
              { name: 'STAGE', value: 'prod' },
              { name: 'X', value: '1' },
            ],
          },
        }),
      ),
    ).toEqual(['list-d']);
    // A "%" in a search box is a character, not a wildcard.
    expect((await list({ filter: { ...inGroup, alias: '%' } })).totalCount).toBe(0);
    // Empty values are ignored, as an empty search box is.
    expect((await list({ filter: { ...inGroup, alias: '', command: null } })).totalCount).toBe(5);
  });

  it('orders by the chosen field and direction, missing values last', async () => {
    const asc = await list({ filter: inGroup, orderBy: { field: 'MEMORY' } });
    expect(asc.edges.map((e: any) => e.node.memory)).toEqual([512, 1024, 2048, 4096, null]);
    const desc = await list({ filter: inGroup, orderBy: { field: 'MEMORY', direction: 'DESC' } });
    expect(desc.edges.map((e: any) => e.node.memory)).toEqual([4096, 2048, 1024, 512, null]);
    const image = await list({ filter: inGroup, orderBy: { field: 'IMAGE', direction: 'DESC' } });
    expect(aliases(image).slice(0, 3)).toEqual(['list-a', 'list-c', 'list-b']);
    const created = await list({ filter: inGroup, orderBy: { field: 'CREATED_AT', direction: 'DESC' } });
    expect(aliases(created)[0]).toBe('list-e');
  });

  it('rejects a foreign cursor and an oversized page with a clear error', async () => {
    const bad = await t.gql(LIST, { filter: inGroup, after: 'not-a-cursor' });
    expect(bad.errors?.[0]).toMatchObject({ message: expect.stringMatching(/^after is not a cursor of this list/), extensions: { code: 'BAD_USER_INPUT' } });
    const big = await t.gql(LIST, { filter: inGroup, first: 501 });
    expect(big.errors?.[0]?.message).toBe('first must be between 0 and 500; page through longer lists with after/before');
    const negative = await t.gql(LIST, { filter: inGroup, first: -1 });
    expect(negative.errors?.[0]?.message).toMatch(/^first must be between 0 and 500/);
  });
});

describe('NUL characters (Postgres cannot store or compare them)', () => {
  it('are a ValidationError in mutation input, a null lookup, and a clear error in a filter', async () => {
    const created = await create({ alias: 'gql-nul', image: 'alpine', command: 'echo a\u0000b' });
    expect(created.__typename).toBe('ValidationError');
    expect(created.fields).toEqual([{ path: ['input', 'command'], message: 'input.command must not contain NUL characters' }]);

    const lookup = await t.gql(`query($id: ID, $alias: String) { a: taskDefinition(id: $id) { id } b: taskDefinition(alias: $alias) { id } }`, {
      id: 'default-\u0000',
      alias: 'x\u0000',
    });
    expect(lookup).toEqual({ data: { a: null, b: null } });

    const filtered = await t.gql(LIST, { filter: { env: [{ name: 'A', value: '\u0000' }] } });
    expect(filtered.errors?.[0]).toMatchObject({
      message: 'filter.env[0].value must not contain NUL characters',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const byAlias = await t.gql(LIST, { filter: { alias: 'a\u0000' } });
    expect(byAlias.errors?.[0]?.message).toBe('filter.alias must not contain NUL characters');
  });
});

describe('unexpected errors', () => {
  it('are masked: the client sees a generic message, not the cause', async () => {
    const broken = await createTestApp();
    // A closed database makes every store call fail in a way no resolver expects.
    await broken.database.close();
    try {
      for (const [query, variables] of [
        [CREATE, { input: { alias: 'masked', image: 'alpine' } }],
        [LIST, {}],
      ] as const) {
        const res = await broken.gql(query, variables);
        expect(res.errors).toHaveLength(1);
        expect(res.errors?.[0]?.message).toBe('Unexpected error.');
        expect(JSON.stringify(res)).not.toMatch(/closed|ended|pglite|postgres|stack/i);
      }
    } finally {
      await broken.bus.close();
    }
  });
});
