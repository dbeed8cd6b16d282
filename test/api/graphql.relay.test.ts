// What Relay and normalized-cache clients rely on: keyset cursors that survive writes
// between page fetches, the Node interface with node/nodes, enums for closed value sets,
// and one id convention (domain ids in runId/definitionId, global ids in `id`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition, createRun, uniqueAlias } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function gqlOk<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await t.gql<T>(query, variables);
  expect(res.errors).toBeUndefined();
  return res.data!;
}

const globalId = (type: string, id: string | number) => Buffer.from(`${type}:${id}`).toString('base64');

describe('keyset cursors', () => {
  const RUNS = `query($filter: RunFilter, $first: Int, $after: String, $last: Int, $before: String) {
    runs(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { runId } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    } }`;

  it('runs: a run queued between page fetches repeats nothing and skips nothing, forward and backward', async () => {
    const def = await createDefinition(t.services);
    for (let i = 0; i < 5; i++) await createRun(t.services, { definition: def });
    const filter = { definitionId: def.definitionId };
    const all = (await gqlOk(RUNS, { filter, first: 50 })).runs.edges.map((e: any) => e.node.runId);
    expect(all).toHaveLength(5);

    // Forward, newest first: a new run lands before the cursor. An offset cursor shifted
    // by one and the next page repeated the last run already seen.
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await gqlOk(RUNS, { filter, first: 2, after })).runs;
      seen.push(...page.edges.map((e: any) => e.node.runId));
      if (!page.pageInfo.hasNextPage) break;
      expect(page.pageInfo.hasPreviousPage).toBe(after != null);
      after = page.pageInfo.endCursor;
      await createRun(t.services, { definition: def });
    }
    expect(seen).toEqual(all);

    // Backward from the end (oldest first in time): last/before.
    const back: string[] = [];
    let before: string | null = null;
    for (;;) {
      const page: any = (await gqlOk(RUNS, { filter, last: 2, before })).runs;
      back.unshift(...page.edges.map((e: any) => e.node.runId));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
      await createRun(t.services, { definition: def });
    }
    const now = (await gqlOk(RUNS, { filter, first: 50 })).runs.edges.map((e: any) => e.node.runId);
    // Runs queued while paging backward are newer than every cursor, so they are the first
    // ones of the list and were read on the first backward page (the end) only if they existed then.
    expect(back).toEqual(now.slice(now.length - back.length));
    expect(back.slice(-5)).toEqual(all);
    expect(new Set(back).size).toBe(back.length);
  });

  it('taskDefinitions: definitions created and deleted around the cursor neither repeat nor leave a gap', async () => {
    const group = `keyset_${uniqueAlias('g').replace('-', '_')}`;
    const LIST = `query($filter: TaskDefinitionFilter, $first: Int, $after: String) {
      taskDefinitions(filter: $filter, first: $first, after: $after) {
        edges { node { alias definitionId } } pageInfo { hasNextPage endCursor } } }`;
    const made = new Map<string, string>();
    for (const name of ['b1', 'b2', 'b3', 'b4', 'b5', 'b6']) {
      const d = await createDefinition(t.services, { alias: `${group}-${name}`, groupName: group });
      made.set(name, d.definitionId);
    }
    const filter = { groupNames: [group] };
    const first = (await gqlOk(LIST, { filter, first: 2 })).taskDefinitions;
    expect(first.edges.map((e: any) => e.node.alias)).toEqual([`${group}-b1`, `${group}-b2`]);
    // One sorting before the cursor (an offset repeated b2), one seen deleted (an offset
    // skipped b3), and one sorting after the cursor, which must show up.
    await createDefinition(t.services, { alias: `${group}-a0`, groupName: group });
    await t.services.definitions.delete(made.get('b1')!);
    await createDefinition(t.services, { alias: `${group}-b35`, groupName: group });
    const rest: string[] = [];
    let after = first.pageInfo.endCursor;
    for (;;) {
      const page: any = (await gqlOk(LIST, { filter, first: 2, after })).taskDefinitions;
      rest.push(...page.edges.map((e: any) => e.node.alias.slice(group.length + 1)));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(rest).toEqual(['b3', 'b35', 'b4', 'b5', 'b6']);
  });

  it('TaskDefinition.runs: keyset cursors too', async () => {
    const def = await createDefinition(t.services);
    for (let i = 0; i < 4; i++) await createRun(t.services, { definition: def });
    const Q = `query($definitionId: ID, $after: String) { taskDefinition(definitionId: $definitionId) {
      runs(first: 2, after: $after) { edges { node { runId } } pageInfo { hasNextPage endCursor } } } }`;
    const all = (
      await gqlOk(`query($f: RunFilter) { runs(filter: $f) { edges { node { runId } } } }`, { f: { definitionId: def.definitionId } })
    ).runs.edges.map((e: any) => e.node.runId);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await gqlOk(Q, { definitionId: def.definitionId, after })).taskDefinition.runs;
      seen.push(...page.edges.map((e: any) => e.node.runId));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
      await createRun(t.services, { definition: def });
    }
    expect(seen).toEqual(all);
  });

  it('orders with nulls and ties page exactly (not-started runs by STARTED_AT, both directions)', async () => {
    const def = await createDefinition(t.services);
    for (const status of ['QUEUED', 'RUNNING', 'QUEUED', 'STOPPED', 'RUNNING', 'QUEUED'] as const) await createRun(t.services, { definition: def, status });
    const filter = { definitionId: def.definitionId };
    for (const direction of ['ASC', 'DESC']) {
      const Q = `query($filter: RunFilter, $after: String) { runs(filter: $filter, first: 1, after: $after, orderBy: { field: STARTED_AT, direction: ${direction} }) {
        edges { node { runId } } pageInfo { hasNextPage endCursor } } }`;
      const whole = (await gqlOk(Q.replace('first: 1', 'first: 50'), { filter })).runs.edges.map((e: any) => e.node.runId);
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: any = (await gqlOk(Q, { filter, after })).runs;
        seen.push(...page.edges.map((e: any) => e.node.runId));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(seen).toEqual(whole);
      expect(seen).toHaveLength(6);
    }
  });

  it('refuses an offset cursor, a cursor of another order and a forged one as BAD_USER_INPUT', async () => {
    const offset = Buffer.from('OffsetConnection:1').toString('base64');
    const page = (await gqlOk(`{ runs(first: 1) { pageInfo { endCursor } } }`)).runs.pageInfo.endCursor;
    const forged = Buffer.from(JSON.stringify(['queued_at', 'not a time', 'x'])).toString('base64url');
    for (const [after, orderBy, message] of [
      [offset, undefined, /after is not a cursor of this list/],
      [page, { field: 'ALIAS' }, /after is a cursor of this list in another order/],
      [forged, undefined, /after is not a cursor of this list/],
    ] as const) {
      const res = await t.gql(`query($after: String, $orderBy: RunOrder) { runs(after: $after, orderBy: $orderBy) { totalCount } }`, { after, orderBy });
      expect(res.errors?.[0]?.message).toMatch(message);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });
});

describe('Node interface', () => {
  it('node(id:) and nodes(ids:) refetch a Run, TaskDefinition, Cluster and RunEvent by the id they answered', async () => {
    const def = await createDefinition(t.services);
    const run = await createRun(t.services, { definition: def, status: 'RUNNING' });
    await t.services.clusters.create({ name: uniqueAlias('node-cluster'), engine: 'local' });
    const data = await gqlOk(
      `query($runId: ID) { run(runId: $runId) { id runId events { id seq kind } definition { id definitionId } } clusters { id name } }`,
      {
        runId: run.runId,
      },
    );
    const ids = [data.run.id, data.run.definition.id, data.clusters[0].id, data.run.events[0].id];
    expect(ids).toEqual([
      globalId('Run', run.runId),
      globalId('TaskDefinition', def.definitionId),
      globalId('Cluster', data.clusters[0].name),
      globalId('RunEvent', data.run.events[0].seq),
    ]);
    const NODE = `query($id: ID!) { node(id: $id) { __typename id
      ... on Run { runId } ... on TaskDefinition { definitionId } ... on Cluster { name } ... on RunEvent { kind } } }`;
    const found = await Promise.all(ids.map(async (id) => (await gqlOk(NODE, { id })).node));
    expect(found).toEqual([
      { __typename: 'Run', id: ids[0], runId: run.runId },
      { __typename: 'TaskDefinition', id: ids[1], definitionId: def.definitionId },
      { __typename: 'Cluster', id: ids[2], name: data.clusters[0].name },
      { __typename: 'RunEvent', id: ids[3], kind: 'STATUS' },
    ]);
    const gone = globalId('Run', 'local-0000000000000000000000000000');
    const many = await gqlOk(`query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, { ids: [ids[3], gone, ids[0]] });
    expect(many.nodes).toEqual([{ __typename: 'RunEvent', id: ids[3] }, null, { __typename: 'Run', id: ids[0] }]);
  });

  it('a malformed id is BAD_USER_INPUT naming the argument, not an internal error', async () => {
    for (const [query, variables, where] of [
      [`query($id: ID!) { node(id: $id) { id } }`, { id: 'not base64!' }, 'id'],
      [`query($id: ID!) { node(id: $id) { id } }`, { id: globalId('Nope', 1) }, 'id'],
      [`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [globalId('Run', 'x'), run0()] }, 'ids[1]'],
    ] as const) {
      const res = await t.gql(query, variables);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message).toMatch(new RegExp(`^${where.replace(/[[\]]/g, '\\$&')} is not the id of`));
    }
    function run0() {
      return Buffer.from('RunEvent:abc').toString('base64');
    }
  });
});

async function typeOf(name: string): Promise<any> {
  return (
    await gqlOk(
      `query($name: String!) { __type(name: $name) {
      kind enumValues { name }
      fields(includeDeprecated: true) { name isDeprecated type { kind name ofType { kind name } } args(includeDeprecated: true) { name isDeprecated type { kind name ofType { name } } } }
      inputFields { name type { kind name } }
      interfaces { name } } }`,
      { name },
    )
  ).__type;
}

const fieldType = (type: any, field: string) => {
  const f = type.fields.find((x: any) => x.name === field).type;
  return f.kind === 'NON_NULL' ? `${f.ofType.name}!` : f.name;
};

describe('enums and id conventions in the schema', () => {
  it('closed value sets are enums: RunLogChunk.stream, Run.engine, Cluster.engine, RunEvent.kind, Error.code', async () => {
    expect(fieldType(await typeOf('RunLogChunk'), 'stream')).toBe('LogStream!');
    expect(fieldType(await typeOf('Run'), 'engine')).toBe('Engine!');
    expect(fieldType(await typeOf('Cluster'), 'engine')).toBe('Engine!');
    expect(fieldType(await typeOf('RunEvent'), 'kind')).toBe('RunEventKind!');
    expect(fieldType(await typeOf('Error'), 'code')).toBe('ErrorCode!');
    expect((await typeOf('LogStream')).enumValues.map((v: any) => v.name)).toEqual(['STDERR', 'STDOUT']);
    expect((await typeOf('Engine')).enumValues.map((v: any) => v.name)).toEqual(['DOCKER', 'ECS', 'KUBERNETES', 'LOCAL']);
  });

  it('domain ids are ID in runId/definitionId fields and arguments; id is the Node id; old argument names are deprecated, not removed', async () => {
    const run = await typeOf('Run');
    const def = await typeOf('TaskDefinition');
    expect([fieldType(run, 'id'), fieldType(run, 'runId'), fieldType(run, 'definitionId')]).toEqual(['ID!', 'ID!', 'ID!']);
    expect([fieldType(def, 'id'), fieldType(def, 'definitionId')]).toEqual(['ID!', 'ID!']);
    for (const type of ['Run', 'TaskDefinition', 'Cluster', 'RunEvent']) expect((await typeOf(type)).interfaces).toEqual([{ name: 'Node' }]);
    expect((await typeOf('RunFilter')).inputFields.find((f: any) => f.name === 'definitionId').type).toEqual({ kind: 'SCALAR', name: 'ID' });
    expect((await typeOf('RunFeedFilter')).inputFields.find((f: any) => f.name === 'definitionId').type).toEqual({ kind: 'SCALAR', name: 'ID' });
    const query = await typeOf('Query');
    const mutation = await typeOf('Mutation');
    const args = (type: any, field: string) =>
      Object.fromEntries(type.fields.find((f: any) => f.name === field).args.map((a: any) => [a.name, a.isDeprecated]));
    expect(args(query, 'run')).toEqual({ runId: false, id: true });
    expect(args(query, 'taskDefinition')).toEqual({ definitionId: false, alias: false, id: true });
    expect(args(mutation, 'updateTaskDefinition')).toEqual({ definitionId: false, id: true, input: false });
    expect(args(mutation, 'deleteTaskDefinition')).toMatchObject({ definitionId: false, id: true });
    expect(args(mutation, 'executeTask')).toMatchObject({ definitionId: false });
  });

  it('the deprecated id arguments take the domain id or the global id', async () => {
    const def = await createDefinition(t.services);
    const run = await createRun(t.services, { definition: def });
    for (const id of [run.runId, globalId('Run', run.runId)]) {
      expect((await gqlOk(`query($id: ID) { run(id: $id) { runId } }`, { id })).run).toEqual({ runId: run.runId });
    }
    for (const id of [def.definitionId, globalId('TaskDefinition', def.definitionId)]) {
      expect((await gqlOk(`query($id: ID) { taskDefinition(id: $id) { definitionId } }`, { id })).taskDefinition).toEqual({ definitionId: def.definitionId });
    }
    const both = await t.gql(`query($id: ID) { run(id: $id, runId: $id) { runId } }`, { id: run.runId });
    expect(both.errors?.[0]).toMatchObject({ message: 'give runId only; id is a deprecated name for it', extensions: { code: 'BAD_USER_INPUT' } });
  });
});
