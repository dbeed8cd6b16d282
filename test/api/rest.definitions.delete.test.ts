// Deleting a task never loses track of a live job: unfinished runs make DELETE a 409 that
// names them, `force` stops them through the normal stop path, and the definition is
// archived (out of lists, alias free, runs and logs readable by id) until a purge.
// Real processes on the local engine, worker loops in-process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { pidOfLocalRef, processGroupMembers } from '../helpers/processes.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local', workers: true });
});
afterAll(async () => {
  await t?.close();
});

async function call(path: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; body: any }> {
  const res = await t.fetch(path, init);
  return { status: res.status, body: await res.json() };
}

async function define(alias: string, command: string): Promise<string> {
  const { status, body } = await call('/api/v6/task', { method: 'POST', json: { alias, image: 'x', group_name: 'deletes', command } });
  expect(status).toBe(200);
  return body.definition_id as string;
}

async function execute(definitionId: string): Promise<string> {
  const { status, body } = await call(`/api/v6/task/${definitionId}/execute`, { method: 'PUT', json: { run_tags: { owner_id: 'tester' } } });
  expect(status).toBe(200);
  return body.run_id as string;
}

async function running(runId: string): Promise<number> {
  await expect.poll(async () => (await t.services.runs.get(runId)).status, { timeout: 20_000, interval: 50 }).toBe('RUNNING');
  const pid = pidOfLocalRef((await t.services.runs.get(runId)).engineRef);
  await expect.poll(() => processGroupMembers(pid).length, { timeout: 10_000 }).toBeGreaterThan(0);
  return pid;
}

describe('DELETE /api/v6/task/{id} with a running job', () => {
  it('is refused with 409 naming the run; the job keeps running and stays visible', async () => {
    const id = await define('del-refused', 'echo started; sleep 300');
    const runId = await execute(id);
    const pid = await running(runId);

    const refused = await call(`/api/v6/task/${id}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toContain(runId);
    expect(refused.body.error).toContain('force=true');
    expect((await call(`/api/v6/task/${id}`)).status).toBe(200);
    expect((await call(`/api/v6/history/${runId}`)).body.status).toBe('RUNNING');
    expect(processGroupMembers(pid).length).toBeGreaterThan(0);

    // Clean up through the force path.
    expect(await call(`/api/v6/task/${id}?force=true`, { method: 'DELETE' })).toEqual({ status: 200, body: { deleted: true } });
  });

  it('?force=true stops the job through the stop path, then archives: run, events and logs stay readable by id', async () => {
    const id = await define('del-forced', 'echo started; sleep 300');
    const runId = await execute(id);
    const pid = await running(runId);
    await expect.poll(async () => (await call(`/api/v6/${runId}/logs`)).body.log, { timeout: 10_000 }).toContain('started');

    const res = await t.fetch(`/api/v6/task/${id}?force=true`, { method: 'DELETE', headers: { 'x-user-email': 'ops@example.com' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: true });

    // The job is gone from the machine, and the run says why.
    await expect.poll(() => processGroupMembers(pid).length, { timeout: 15_000 }).toBe(0);
    const run = await call(`/api/v6/history/${runId}`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'STOPPED', exit_code: 1 });
    const events = await call(`/api/v6/${runId}/events`);
    expect(events.status).toBe(200);
    expect((await call(`/api/v6/${runId}/logs`)).body.log).toContain('started');
    expect((await call(`/api/v6/task/${id}/history`)).body.history.map((r: { run_id: string }) => r.run_id)).toEqual([runId]);

    // Archived: not readable as a task, not listed, alias free, not executable.
    expect((await call(`/api/v6/task/${id}`)).status).toBe(404);
    expect((await call(`/api/v6/task?alias=del-forced`)).body.total).toBe(0);
    expect((await call(`/api/v6/task/${id}/execute`, { method: 'PUT', json: { run_tags: { owner_id: 'tester' } } })).status).toBe(404);
    const again = await define('del-forced', 'echo new');
    expect(again).not.toBe(id);
    expect((await call(`/api/v6/task/alias/del-forced`)).body.definition_id).toBe(again);
    // A second delete of the archived one is 404.
    expect((await call(`/api/v6/task/${id}`, { method: 'DELETE' })).status).toBe(404);

    // Purge removes it, its runs and their logs for real.
    expect(await call(`/api/v6/task/${id}?purge=true`, { method: 'DELETE' })).toEqual({ status: 200, body: { deleted: true } });
    expect((await call(`/api/v6/history/${runId}`)).status).toBe(404);
    expect((await call(`/api/v6/task/${id}?purge=true`, { method: 'DELETE' })).status).toBe(404);
  });

  it('a definition whose runs all finished is archived at once; purge of one with a running job is 409', async () => {
    const id = await define('del-finished', 'echo done');
    const runId = await execute(id);
    await expect.poll(async () => (await t.services.runs.get(runId)).status, { timeout: 20_000 }).toBe('STOPPED');
    expect(await call(`/api/v6/task/${id}`, { method: 'DELETE' })).toEqual({ status: 200, body: { deleted: true } });
    expect((await call(`/api/v6/history/${runId}`)).body.status).toBe('STOPPED');

    const busy = await define('del-purge-busy', 'sleep 300');
    const busyRun = await execute(busy);
    await running(busyRun);
    const refused = await call(`/api/v6/task/${busy}?purge=true`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toContain(busyRun);
    // The refusal changed nothing: still live, still listed.
    expect((await call(`/api/v6/task/${busy}`)).status).toBe(200);
    expect(await call(`/api/v6/task/${busy}?purge=true&force=true`, { method: 'DELETE' })).toEqual({ status: 200, body: { deleted: true } });
    expect((await call(`/api/v6/history/${busyRun}`)).status).toBe(404);
  });

  it('names the field when force or purge is not true/false', async () => {
    const id = await define('del-bad-flag', 'true');
    expect(await call(`/api/v6/task/${id}?force=yes`, { method: 'DELETE' })).toEqual({
      status: 400,
      body: { error: 'force must be true or false, got [yes]' },
    });
    expect((await call(`/api/v6/task/${id}?purge=1`, { method: 'DELETE' })).body.error).toBe('purge must be true or false, got [1]');
    expect((await call(`/api/v6/task/${id}`)).status).toBe(200);
  });
});

describe('deleteTaskDefinition (GraphQL)', () => {
  const DELETE = `mutation($id: ID!, $force: Boolean) {
    deleteTaskDefinition(id: $id, force: $force) {
      __typename
      ... on DeleteTaskDefinitionSuccess { deletedId }
      ... on ConflictError { message }
    }
  }`;

  it('is a ConflictError naming the run without force; with force: true the run is stopped and the definition archived', async () => {
    const id = await define('gql-del-running', 'sleep 300');
    const runId = await execute(id);
    const pid = await running(runId);
    const refused = (await t.gql(DELETE, { id })).data.deleteTaskDefinition;
    expect(refused.__typename).toBe('ConflictError');
    expect(refused.message).toContain(runId);

    expect((await t.gql(DELETE, { id, force: true })).data.deleteTaskDefinition).toEqual({ __typename: 'DeleteTaskDefinitionSuccess', deletedId: id });
    await expect.poll(() => processGroupMembers(pid).length, { timeout: 15_000 }).toBe(0);
    const read = await t.gql(`query($run: ID!) { run(id: $run) { status definition { definitionId archivedAt } } }`, { run: runId });
    expect(read.data.run.status).toBe('STOPPED');
    expect(read.data.run.definition.definitionId).toBe(id);
    expect(read.data.run.definition.archivedAt).not.toBeNull();
    const listed = await t.gql(`{ taskDefinitions(filter: { alias: "gql-del-running" }) { totalCount } }`);
    expect(listed.data.taskDefinitions.totalCount).toBe(0);
  });
});
