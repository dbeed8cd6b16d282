import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { runLogs, runs, type RunRow, type TaskDefinitionRow } from '../../src/db/schema.js';
import { createApp } from '../../src/api/app.js';
import { createServices } from '../../src/domain/services.js';
import { encodeLogToken } from '../../src/domain/logService.js';
import { silentLogger } from '../../src/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { createDefinition, createRun, createRunsInEveryStatus, uniqueAlias } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const RESULT_FIELDS = `
  __typename
  ... on Error { message code }
  ... on ValidationError { fields { path message } }`;

const EXECUTE = `mutation($definitionId: ID, $alias: String, $input: ExecuteInput!) {
  executeTask(definitionId: $definitionId, alias: $alias, input: $input) {
    ${RESULT_FIELDS}
    ... on ExecuteTaskSuccess { run { id runId status owner runTags env { name value } memory cpu nodeLifecycle activeDeadlineSeconds definition { id alias } } }
  }
}`;

const STOP = `mutation($runId: ID!) {
  stopRun(runId: $runId) {
    ${RESULT_FIELDS}
    ... on StopRunSuccess { run { runId status exitCode exitReason events { kind toStatus reason detail } } }
  }
}`;

const LIST = `query($filter: RunFilter, $orderBy: RunOrder, $first: Int, $after: String) {
  runs(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    edges { cursor node { runId status } }
    pageInfo { hasNextPage endCursor }
  }
}`;

async function gqlOk<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await t.gql<T>(query, variables);
  expect(res.errors).toBeUndefined();
  return res.data!;
}

async function listIds(filter: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string[]> {
  const data = await gqlOk(LIST, { filter, first: 500, ...extra });
  return data.runs.edges.map((e: { node: { runId: string } }) => e.node.runId);
}

describe('run(id)', () => {
  it('answers every field, its definition and its timeline', async () => {
    const definition = await createDefinition(t.services, { env: [{ name: 'FROM_DEF', value: '1' }] });
    const run = await createRun(t.services, { definition, status: 'STOPPED', exitCode: 3, exitReason: 'Error', input: { runTags: { team: 'ml' } } });
    const data = await gqlOk(
      `query($id: ID!) { run(id: $id) {
        id runId status exitCode exitReason queuedAt startedAt finishedAt updatedAt owner runTags labels
        definitionId definitionVersion alias groupName image command commandHash env { name value }
        cpu memory cpuLimit memoryLimit gpu ephemeralStorage nodeLifecycle activeDeadlineSeconds
        engine clusterName engineRef attempt maxAttempts logsComplete
        definition { id alias version }
        events { id at kind fromStatus toStatus reason detail }
      } }`,
      { id: run.runId },
    );
    expect(data.run).toMatchObject({
      id: Buffer.from(`Run:${run.runId}`).toString('base64'),
      runId: run.runId,
      status: 'STOPPED',
      exitCode: 3,
      exitReason: 'Error',
      owner: 'tester',
      runTags: { team: 'ml', owner_id: 'tester' },
      labels: {},
      definitionId: definition.definitionId,
      definitionVersion: 1,
      alias: definition.alias,
      command: 'echo hello',
      commandHash: createHash('md5').update('echo hello').digest('hex'),
      nodeLifecycle: 'SPOT',
      activeDeadlineSeconds: 172800,
      engine: 'LOCAL',
      clusterName: 'default',
      engineRef: `fake-${run.runId}`,
      logsComplete: false,
      definition: { id: Buffer.from(`TaskDefinition:${definition.definitionId}`).toString('base64'), alias: definition.alias, version: 1 },
    });
    expect(data.run.env).toEqual(
      expect.arrayContaining([
        { name: 'FROM_DEF', value: '1' },
        { name: 'FLOTILLA_RUN_ID', value: run.runId },
      ]),
    );
    expect(new Date(data.run.finishedAt).getTime()).toBe(run.finishedAt!.getTime());
    expect(data.run.events.map((e: { toStatus: string }) => e.toStatus)).toEqual(['QUEUED', 'PENDING', 'RUNNING', 'STOPPED']);
    expect(data.run.events[0]).toMatchObject({ kind: 'STATUS', fromStatus: null, reason: 'executed by tester' });
  });

  it('answers null for an unknown id, also one holding NUL', async () => {
    const data = await gqlOk(`query { a: run(id: "local-nope") { runId } b: run(id: "bad\\u0000id") { runId } }`);
    expect(data).toEqual({ a: null, b: null });
  });
});

describe('runs(filter, orderBy, first, after)', () => {
  let def: TaskDefinitionRow;
  let other: TaskDefinitionRow;
  let every: Record<string, RunRow>;
  let late: RunRow;
  let cut: Date;

  beforeAll(async () => {
    def = await createDefinition(t.services, { alias: uniqueAlias('filterme') });
    other = await createDefinition(t.services);
    every = await createRunsInEveryStatus(t.services, def);
    // Runs may only name clusters that exist.
    await t.services.clusters.create({ name: 'gpu-east', engine: 'local' });
    await createRun(t.services, {
      definition: other,
      status: 'STOPPED',
      exitCode: 0,
      input: { owner: 'someone-else', cluster: 'gpu-east', env: [{ name: 'JOB', value: 'nightly' }] },
    });
    await new Promise((r) => setTimeout(r, 20));
    cut = new Date();
    await new Promise((r) => setTimeout(r, 20));
    late = await createRun(t.services, { definition: def, status: 'RUNNING', input: { env: [{ name: 'JOB', value: 'nightly' }] } });
  });

  it('filters by statuses, definition, alias substring, owner, cluster, engine, exit code and env pairs', async () => {
    expect((await listIds({ definitionId: def.definitionId, statuses: ['QUEUED', 'STOPPED'] })).sort()).toEqual(
      [every.QUEUED!.runId, every.STOPPED!.runId].sort(),
    );
    expect(await listIds({ alias: def.alias.slice(2, 10), statuses: ['NEEDS_RETRY'] })).toEqual([every.NEEDS_RETRY!.runId]);
    expect(await listIds({ owner: 'someone-else' })).toHaveLength(1);
    expect(await listIds({ clusterName: 'gpu-east', engine: 'local', exitCode: 0 })).toHaveLength(1);
    expect(await listIds({ clusterName: 'gpu-east', exitCode: 1 })).toEqual([]);
    expect(await listIds({ definitionId: def.definitionId, env: [{ name: 'JOB', value: 'nightly' }] })).toEqual([late.runId]);
    // Empty values are "no restriction", as an unset search box.
    expect(await listIds({ definitionId: def.definitionId, alias: '', statuses: [] })).toHaveLength(6);
  });

  it('filters by queued and started time bounds', async () => {
    expect(await listIds({ definitionId: def.definitionId, queuedAfter: cut.toISOString() })).toEqual([late.runId]);
    expect(await listIds({ definitionId: def.definitionId, queuedBefore: cut.toISOString() })).toHaveLength(5);
    expect(await listIds({ definitionId: def.definitionId, startedAfter: cut.toISOString() })).toEqual([late.runId]);
    const startedBefore = await listIds({ definitionId: def.definitionId, startedBefore: cut.toISOString() });
    expect(startedBefore.sort()).toEqual([every.RUNNING!.runId, every.STOPPED!.runId, every.NEEDS_RETRY!.runId].sort());
  });

  it('refuses a time without a zone, and a NUL in a filter, with a readable error', async () => {
    const bad = await t.gql(LIST, { filter: { queuedAfter: '2024-05-01 12:00' } });
    expect(bad.errors?.[0]?.message).toMatch(/DateTime must be an RFC 3339 time with a zone/);
    const nul = await t.gql(LIST, { filter: { alias: 'a\u0000b' } });
    expect(nul.errors?.[0]?.message).toBe('filter.alias must not contain NUL characters');
  });

  it('orders newest first by default and pages with cursors and totalCount', async () => {
    const all = await gqlOk(LIST, { filter: { definitionId: def.definitionId }, first: 500 });
    expect(all.runs.totalCount).toBe(6);
    expect(all.runs.edges[0].node.runId).toBe(late.runId);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await gqlOk(LIST, { filter: { definitionId: def.definitionId }, first: 4, after })).runs;
      expect(page.totalCount).toBe(6);
      seen.push(...page.edges.map((e: any) => e.node.runId));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(all.runs.edges.map((e: any) => e.node.runId));
    const byStatus = await gqlOk(LIST, { filter: { definitionId: def.definitionId }, orderBy: { field: 'STATUS' }, first: 500 });
    const statuses = byStatus.runs.edges.map((e: any) => e.node.status);
    expect(statuses).toEqual([...statuses].sort());
    const oldest = await gqlOk(LIST, { filter: { definitionId: def.definitionId }, orderBy: { field: 'QUEUED_AT', direction: 'ASC' }, first: 1 });
    expect(oldest.runs.edges[0].node.runId).toBe(every.QUEUED!.runId);
  });

  it('lists a definition runs under TaskDefinition.runs with the same filters', async () => {
    const data = await gqlOk(
      `query($id: ID!) { taskDefinition(id: $id) {
        all: runs(first: 2) { totalCount edges { node { runId } } pageInfo { hasNextPage } }
        stopped: runs(filter: { statuses: [STOPPED] }) { totalCount edges { node { runId exitCode } } }
      } }`,
      { id: def.definitionId },
    );
    expect(data.taskDefinition.all).toMatchObject({ totalCount: 6, pageInfo: { hasNextPage: true } });
    expect(data.taskDefinition.all.edges[0].node.runId).toBe(late.runId);
    expect(data.taskDefinition.stopped).toEqual({ totalCount: 1, edges: [{ node: { runId: every.STOPPED!.runId, exitCode: 0 } }] });
  });
});

/** An app whose every SQL statement is counted (a second drizzle over the same client). */
async function countingApp(database: TestDatabase): Promise<{ gql: TestApp['gql']; statements: () => number; reset: () => void }> {
  let n = 0;
  const logger = { logQuery: () => void n++ };
  const client = (database.db as unknown as { $client: unknown }).$client;
  const db = (database.kind === 'pglite'
    ? (await import('drizzle-orm/pglite')).drizzle(client as never, { schema: await import('../../src/db/schema.js'), logger })
    : (await import('drizzle-orm/postgres-js')).drizzle(client as never, { schema: await import('../../src/db/schema.js'), logger })) as unknown as Db;
  const services = createServices({ db, bus: t.bus, config: t.config, logger: silentLogger });
  const { app } = createApp({ config: t.config, services, bus: t.bus, logger: silentLogger, database: { db } });
  return {
    async gql(query, variables) {
      const res = await app.fetch(
        new Request('http://flotilla.test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query, variables }),
        }),
      );
      return res.json() as Promise<any>;
    },
    statements: () => n,
    reset: () => void (n = 0),
  };
}

describe('batching', () => {
  it('lists definitions with their runs, each run with definition and events, in a fixed number of statements', async () => {
    const group = `batch${Date.now()}`;
    for (let i = 0; i < 6; i++) {
      const definition = await createDefinition(t.services, { groupName: group });
      for (let j = 0; j < 3; j++) await createRun(t.services, { definition, status: j === 0 ? 'STOPPED' : 'QUEUED' });
    }
    const counting = await countingApp(t.database);
    const QUERY = `query($first: Int) {
      taskDefinitions(filter: { groupName: "${group}" }, first: $first) {
        edges { node { alias runs(first: 2) { totalCount edges { node { runId definition { alias } events { toStatus } } } } } }
      }
    }`;
    const counts: number[] = [];
    for (const first of [1, 6]) {
      counting.reset();
      const res = await counting.gql(QUERY, { first });
      expect(res.errors).toBeUndefined();
      const nodes = res.data.taskDefinitions.edges.map((e: any) => e.node);
      expect(nodes).toHaveLength(first);
      for (const node of nodes) {
        expect(node.runs.totalCount).toBe(3);
        expect(node.runs.edges).toHaveLength(2);
        for (const { node: run } of node.runs.edges) {
          expect(run.definition.alias).toBe(node.alias);
          expect(run.events[0].toStatus).toBe('QUEUED');
        }
      }
      counts.push(counting.statements());
    }
    // definitions page + total, runs page + per-definition totals, events: 5 whatever the size.
    expect(counts).toEqual([5, 5]);
  });
});

describe('executeTask', () => {
  it('executes by id and by alias and answers the QUEUED run', async () => {
    const def = await createDefinition(t.services, { memory: 512 });
    const byId = (
      await gqlOk(EXECUTE, {
        definitionId: def.definitionId,
        input: { owner: 'ana', runTags: { team: 'ml' }, env: [{ name: 'A', value: '1' }], cpu: 512, nodeLifecycle: 'ONDEMAND' },
      })
    ).executeTask;
    expect(byId.__typename).toBe('ExecuteTaskSuccess');
    expect(byId.run).toMatchObject({
      status: 'QUEUED',
      owner: 'ana',
      runTags: { team: 'ml', owner_id: 'ana' },
      memory: 512,
      cpu: 512,
      nodeLifecycle: 'ONDEMAND',
      activeDeadlineSeconds: 604800,
      definition: { id: Buffer.from(`TaskDefinition:${def.definitionId}`).toString('base64') },
    });
    expect(byId.run.runId).toMatch(/^local-[0-9a-f]+$/);
    expect(byId.run.env).toEqual(
      expect.arrayContaining([
        { name: 'A', value: '1' },
        { name: 'FLOTILLA_RUN_OWNER_ID', value: 'ana' },
      ]),
    );
    const byAlias = (await gqlOk(EXECUTE, { alias: def.alias, input: { owner: 'ana', command: null } })).executeTask;
    expect(byAlias.__typename).toBe('ExecuteTaskSuccess');
    expect(byAlias.run.runId).not.toBe(byId.run.runId);
  });

  it('returns the earlier run for the same idempotence key', async () => {
    const def = await createDefinition(t.services);
    const input = { owner: 'ana', idempotenceKey: `key-${Date.now()}` };
    const a = (await gqlOk(EXECUTE, { alias: def.alias, input })).executeTask.run.runId;
    const b = (await gqlOk(EXECUTE, { alias: def.alias, input })).executeTask.run.runId;
    expect(b).toBe(a);
  });

  it('reports invalid input as a ValidationError with field paths', async () => {
    const def = await createDefinition(t.services);
    const result = (
      await gqlOk(EXECUTE, { definitionId: def.definitionId, input: { owner: 'ana', gpu: -1, runTags: { team: 5 }, env: [{ name: 'X', value: 'a\u0000b' }] } })
    ).executeTask;
    expect(result).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION' });
    // The field rules first; what cannot be stored is named once the fields are well-formed.
    expect(result.fields.map((f: { path: string[] }) => f.path.join('.')).sort()).toEqual(['input.gpu', 'input.runTags.team']);
    const nul = (await gqlOk(EXECUTE, { definitionId: def.definitionId, input: { owner: 'ana', env: [{ name: 'X', value: 'a\u0000b' }] } })).executeTask;
    expect(nul.fields).toEqual([{ path: ['input', 'env', '0', 'value'], message: 'input.env[0].value must not contain NUL characters' }]);
    const invalid = (await gqlOk(EXECUTE, { definitionId: def.definitionId, input: { owner: 'ana', gpu: -1, runTags: { team: 5 } } })).executeTask;
    expect(invalid.__typename).toBe('ValidationError');
    expect(invalid.fields.map((f: { path: string[] }) => f.path.join('.')).sort()).toEqual(['input.gpu', 'input.runTags.team']);
    const blankOwner = (await gqlOk(EXECUTE, { definitionId: def.definitionId, input: { owner: '  ' } })).executeTask;
    expect(blankOwner.fields).toEqual([{ path: ['input', 'owner'], message: 'input.owner must be a non-empty string: who the run is for' }]);
    const deadline = (await gqlOk(EXECUTE, { definitionId: def.definitionId, input: { owner: 'ana', activeDeadlineSeconds: 0 } })).executeTask;
    expect(deadline.fields).toEqual([{ path: ['input', 'activeDeadlineSeconds'], message: 'input.activeDeadlineSeconds must be a positive integer' }]);
    const both = (await gqlOk(EXECUTE, { definitionId: def.definitionId, alias: def.alias, input: { owner: 'ana' } })).executeTask;
    expect(both).toMatchObject({ __typename: 'ValidationError', message: 'executeTask takes exactly one of definitionId or alias' });
    const neither = (await gqlOk(EXECUTE, { input: { owner: 'ana' } })).executeTask;
    expect(neither.__typename).toBe('ValidationError');
  });

  it('reports an unknown definition as NotFoundError and a reserved env var as ConflictError', async () => {
    const missing = (await gqlOk(EXECUTE, { alias: 'no-such-alias', input: { owner: 'ana' } })).executeTask;
    expect(missing).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', message: 'Definition with alias no-such-alias not found' });
    const nul = (await gqlOk(EXECUTE, { definitionId: 'x\u0000y', input: { owner: 'ana' } })).executeTask;
    expect(nul.__typename).toBe('NotFoundError');
    const def = await createDefinition(t.services);
    const reserved = (await gqlOk(EXECUTE, { alias: def.alias, input: { owner: 'ana', env: [{ name: 'FLOTILLA_RUN_ID', value: 'mine' }] } })).executeTask;
    expect(reserved).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', message: 'environment variable FLOTILLA_RUN_ID is reserved' });
  });
});

describe('stopRun', () => {
  it('stops a QUEUED run, naming the stopper from a -email header, and is idempotent', async () => {
    const run = await createRun(t.services);
    const res = await t.fetch('/graphql', {
      method: 'POST',
      headers: { 'x-forwarded-email': 'ana@example.com' },
      json: { query: STOP, variables: { runId: run.runId } },
    });
    const result = ((await res.json()) as any).data.stopRun;
    expect(result.__typename).toBe('StopRunSuccess');
    expect(result.run).toMatchObject({ status: 'STOPPED', exitCode: 1, exitReason: 'Task terminated by - ana@example.com' });
    expect(result.run.events.at(-1)).toMatchObject({ toStatus: 'STOPPED', detail: { action: 'stop', by: 'ana@example.com' } });
    const again = (await gqlOk(STOP, { runId: run.runId })).stopRun;
    expect(again.run).toMatchObject({ status: 'STOPPED', exitReason: 'Task terminated by - ana@example.com' });
  });

  it('says "Task terminated by user" without the header, and NotFoundError for an unknown run', async () => {
    const run = await createRun(t.services, { status: 'PENDING' });
    expect((await gqlOk(STOP, { runId: run.runId })).stopRun.run).toMatchObject({ exitCode: 1, exitReason: 'Task terminated by user' });
    expect((await gqlOk(STOP, { runId: 'local-missing' })).stopRun).toMatchObject({
      __typename: 'NotFoundError',
      message: 'Run with id local-missing not found',
    });
    expect((await gqlOk(STOP, { runId: 'a\u0000b' })).stopRun.__typename).toBe('NotFoundError');
  });
});

describe('Run.logs', () => {
  const LOGS = `query($id: ID!, $after: String, $first: Int) { run(id: $id) {
    logs(after: $after, first: $first) { cursor hasMore complete text chunks { seq stream text cursor } }
  } }`;

  async function writeLogs(runId: string, lines: string[]): Promise<void> {
    await t.database.db.insert(runLogs).values(lines.map((text, i) => ({ runId, seq: i + 1, stream: i % 2 ? 'stderr' : 'stdout', text, at: new Date() })));
  }

  it('pages chunks with an opaque cursor and hasMore, and the cursor is the REST last_seen token', async () => {
    const run = await createRun(t.services, { status: 'RUNNING' });
    await writeLogs(run.runId, ['one\n', 'two\n', 'three\n', 'four\n', 'five\n']);
    const first = (await gqlOk(LOGS, { id: run.runId, first: 2 })).run.logs;
    expect(first).toMatchObject({ hasMore: true, complete: false, text: 'one\ntwo\n' });
    expect(first.chunks).toEqual([
      { seq: 1, stream: 'STDOUT', text: 'one\n', cursor: encodeLogToken(run.runId, 1) },
      { seq: 2, stream: 'STDERR', text: 'two\n', cursor: encodeLogToken(run.runId, 2) },
    ]);
    expect(first.cursor).toBe(first.chunks[1].cursor);
    const rest = (await gqlOk(LOGS, { id: run.runId, after: first.cursor })).run.logs;
    expect(rest).toMatchObject({ hasMore: false, text: 'three\nfour\nfive\n' });
    const empty = (await gqlOk(LOGS, { id: run.runId, after: rest.cursor })).run.logs;
    expect(empty).toEqual({ cursor: rest.cursor, hasMore: false, complete: false, text: '', chunks: [] });
    // The same position continues the REST read.
    const rest2 = (await (await t.fetch(`/api/v6/${run.runId}/logs?last_seen=${first.cursor}`)).json()) as { log: string };
    expect(rest2.log).toBe('three\nfour\nfive\n');
  });

  it('is complete once the run is STOPPED with every line stored', async () => {
    const run = await createRun(t.services, { status: 'STOPPED' });
    const before = (await gqlOk(LOGS, { id: run.runId })).run.logs;
    expect(before).toMatchObject({ complete: false, hasMore: false });
    await t.database.db.update(runs).set({ logsComplete: true }).where(eq(runs.runId, run.runId));
    expect((await gqlOk(LOGS, { id: run.runId })).run.logs.complete).toBe(true);
  });

  it('refuses a cursor of another run and a page size out of range', async () => {
    const run = await createRun(t.services, { status: 'RUNNING' });
    const bad = await t.gql(LOGS, { id: run.runId, after: encodeLogToken('local-other', 3) });
    expect(bad.errors?.[0]?.message).toMatch(/^after is not a position in the logs of run /);
    const zero = await t.gql(LOGS, { id: run.runId, first: 0 });
    expect(zero.errors?.[0]?.message).toBe('first must be between 1 and 1000');
  });
});
