// DELETE /api/v6/task/{definition_id}/history/{run_id} with the worker loops running
// in-process on the local engine: real processes are started and stopped.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import type { TaskDefinitionRow } from '../../src/db/schema.js';
import { createServices } from '../../src/domain/services.js';
import { registryOf } from '../../src/engines/registry.js';
import type { Engine, EngineRun } from '../../src/engines/types.js';
import { silentLogger } from '../../src/logger.js';
import { newWorkerId } from '../../src/workers/context.js';
import { startWorkers } from '../../src/workers/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition } from '../helpers/factories.js';
import { pidOfLocalRef, processGroupMembers } from '../helpers/processes.js';
import { executeRest } from '../helpers/execute.js';

const JSON_TYPE = 'application/json; charset=utf-8';

let t: TestApp;
let sleeper: TaskDefinitionRow;

beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local' });
  sleeper = await createDefinition(t.services, { alias: 'sleeper', command: 'sleep 600' });
});
afterAll(async () => {
  await t?.close();
});

async function execute(body: Record<string, unknown> = {}, def = sleeper): Promise<any> {
  return executeRest(t, def.definitionId, body);
}

async function run(runId: string): Promise<any> {
  const res = await t.fetch(`/api/v6/history/${runId}`);
  expect(res.status).toBe(200);
  return res.json();
}

async function stop(runId: string, headers: Record<string, string> = {}, definitionId = sleeper.definitionId) {
  const res = await t.fetch(`/api/v6/task/${definitionId}/history/${runId}`, { method: 'DELETE', headers });
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  return { status: res.status, body: (await res.json()) as any };
}

/** What a run went through, for failure messages. */
async function timeline(runId: string): Promise<string> {
  const row = await t.services.runs.get(runId);
  const events = await t.services.runs.events(runId);
  return JSON.stringify({
    status: row.status,
    lastError: row.lastError,
    attempt: row.attempt,
    claimedBy: row.claimedBy,
    events: events.map((e) => [e.fromStatus, e.toStatus, e.reason, e.kind]),
  });
}

async function running(runId: string): Promise<{ run: any; pid: number }> {
  try {
    await expect.poll(() => run(runId).then((r) => r.status), { timeout: 20_000, interval: 100 }).toBe('RUNNING');
  } catch (err) {
    throw new Error(`run ${runId} did not reach RUNNING: ${await timeline(runId)}`, { cause: err });
  }
  const r = await run(runId);
  const pid = pidOfLocalRef(r.engine_ref ?? (await t.services.runs.get(runId)).engineRef);
  await expect.poll(() => processGroupMembers(pid).length, { timeout: 5000, interval: 50 }).toBeGreaterThan(0);
  return { run: r, pid };
}

describe('a QUEUED run stopped before any worker claims it', () => {
  it('is STOPPED at once and never starts, even once workers run', async () => {
    expect(t.workers).toBeUndefined();
    const queued = await execute();
    expect(await stop(queued.run_id)).toEqual({ status: 200, body: { terminated: true } });
    expect(await run(queued.run_id)).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });

    t.startWorkers();
    // Control: a run queued now is launched, so the workers are really claiming.
    const control = await execute({ command: 'true' });
    await expect.poll(() => run(control.run_id).then((r) => r.status), { timeout: 20_000, interval: 100 }).toBe('STOPPED');
    await new Promise((r) => setTimeout(r, 500));

    const row = await t.services.runs.get(queued.run_id);
    expect(row).toMatchObject({ status: 'STOPPED', exitCode: 1, exitReason: 'Task terminated by user', engineRef: null, startedAt: null, attempt: 1 });
    expect(existsSync(join(t.localWorkdir!, queued.run_id))).toBe(false);
    expect(await run(queued.run_id)).not.toHaveProperty('started_at');
    const events = await t.services.runs.events(queued.run_id);
    expect(events.map((e) => `${e.fromStatus ?? 'new'}→${e.toStatus}`)).toEqual(['new→QUEUED', 'QUEUED→STOPPED']);
  });
});

describe('stopping a running run', () => {
  beforeAll(() => {
    t.startWorkers();
  });

  it('sleep 600 → STOPPED, exit 1, "Task terminated by user" within a second, and the process is gone', async () => {
    const { run_id } = await execute();
    const { pid } = await running(run_id);
    const started = Date.now();
    expect(await stop(run_id)).toEqual({ status: 200, body: { terminated: true } });
    await expect
      .poll(() => run(run_id), { timeout: 1000, interval: 20 })
      .toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });
    await expect.poll(() => processGroupMembers(pid), { timeout: 1000, interval: 20 }).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1000);
    const final = await run(run_id);
    expect(final.finished_at).toEqual(expect.any(String));
    // The exit the engine saw when the process died does not overwrite the stop.
    await new Promise((r) => setTimeout(r, 400));
    expect(await run(run_id)).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });
  });

  it('a header whose name contains -email names who stopped it', async () => {
    for (const header of ['X-Forwarded-Email', 'X-Auth-Request-Email']) {
      const { run_id } = await execute();
      await running(run_id);
      expect(await stop(run_id, { [header]: 'ops@example.com' })).toEqual({ status: 200, body: { terminated: true } });
      expect(await run(run_id)).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by - ops@example.com' });
    }
  });

  it('stopping twice answers 200 both times and keeps the first stop', async () => {
    const { run_id } = await execute();
    const { pid } = await running(run_id);
    expect(await stop(run_id, { 'x-forwarded-email': 'first@example.com' })).toEqual({ status: 200, body: { terminated: true } });
    expect(await stop(run_id, { 'x-forwarded-email': 'second@example.com' })).toEqual({ status: 200, body: { terminated: true } });
    expect(await run(run_id)).toMatchObject({ status: 'STOPPED', exit_reason: 'Task terminated by - first@example.com' });
    const stops = (await t.services.runs.events(run_id)).filter((e) => e.toStatus === 'STOPPED');
    expect(stops).toHaveLength(1);
    await expect.poll(() => processGroupMembers(pid), { timeout: 2000, interval: 50 }).toEqual([]);
  });

  it('a run that already finished is answered 200 and keeps its exit', async () => {
    const done = await execute({ command: 'exit 0' });
    await expect.poll(() => run(done.run_id).then((r) => r.status), { timeout: 20_000, interval: 100 }).toBe('STOPPED');
    expect(await stop(done.run_id)).toEqual({ status: 200, body: { terminated: true } });
    expect(await run(done.run_id)).toMatchObject({ status: 'STOPPED', exit_code: 0, exit_reason: 'Exited successfully' });
  });

  it('a process that ignores SIGTERM is killed after the grace period', async () => {
    const { run_id } = await execute({ command: 'trap "" TERM; while true; do sleep 0.1; done' });
    const { pid } = await running(run_id);
    await stop(run_id);
    expect(await run(run_id)).toMatchObject({ status: 'STOPPED', exit_code: 1 });
    // FLOTILLA_LOCAL_GRACE is 1 s in tests.
    await expect.poll(() => processGroupMembers(pid), { timeout: 4000, interval: 50 }).toEqual([]);
  });

  it('an unknown run → 404', async () => {
    expect(await stop('local-0000000000000000000000000000')).toEqual({
      status: 404,
      body: { error: 'Run with id local-0000000000000000000000000000 not found' },
    });
    expect(await stop('nope', {}, 'no-such-definition')).toEqual({ status: 404, body: { error: 'Run with id nope not found' } });
  });
});

describe('children', () => {
  beforeAll(() => {
    t.startWorkers();
  });

  it('runs whose env has PARENT_FLOTILLA_RUN_ID=<run_id> are stopped too, down the tree', async () => {
    const parent = await execute();
    const child = await execute({ env: [{ name: 'PARENT_FLOTILLA_RUN_ID', value: parent.run_id }] });
    const grandchild = await execute({ env: [{ name: 'PARENT_FLOTILLA_RUN_ID', value: child.run_id }] });
    const finishedChild = await execute({ command: 'exit 0', env: [{ name: 'PARENT_FLOTILLA_RUN_ID', value: parent.run_id }] });
    const unrelated = await execute({ env: [{ name: 'PARENT_FLOTILLA_RUN_ID', value: 'local-someoneelse' }] });
    const pids = await Promise.all([parent, child, grandchild, unrelated].map((r) => running(r.run_id).then((x) => x.pid)));
    await expect.poll(() => run(finishedChild.run_id).then((r) => r.status), { timeout: 20_000, interval: 100 }).toBe('STOPPED');

    expect(await stop(parent.run_id, { 'x-forwarded-email': 'boss@example.com' })).toEqual({ status: 200, body: { terminated: true } });
    for (const r of [parent, child, grandchild]) {
      expect(await run(r.run_id)).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by - boss@example.com' });
    }
    for (const pid of pids.slice(0, 3)) await expect.poll(() => processGroupMembers(pid), { timeout: 2000, interval: 50 }).toEqual([]);
    expect(await run(finishedChild.run_id)).toMatchObject({ status: 'STOPPED', exit_code: 0 });
    expect(await run(unrelated.run_id)).toMatchObject({ status: 'RUNNING' });
    expect(processGroupMembers(pids[3]!).length).toBeGreaterThan(0);

    await stop(unrelated.run_id);
    await expect.poll(() => processGroupMembers(pids[3]!), { timeout: 2000, interval: 50 }).toEqual([]);
  });

  it('a QUEUED child is stopped and never starts', async () => {
    await t.stopWorkers();
    try {
      const parent = await execute();
      const child = await execute({ env: [{ name: 'PARENT_FLOTILLA_RUN_ID', value: parent.run_id }] });
      await stop(parent.run_id);
      expect(await run(child.run_id)).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });
      t.startWorkers();
      await new Promise((r) => setTimeout(r, 500));
      expect(await t.services.runs.get(child.run_id)).toMatchObject({ status: 'STOPPED', engineRef: null, startedAt: null });
    } finally {
      t.startWorkers();
    }
  });
});

describe('a stop that races a submit in flight', () => {
  /** An engine whose submit waits until the test lets it return: the launch is in flight. */
  function gatedEngine() {
    let open!: () => void;
    let entered!: (run: EngineRun) => void;
    const gate = new Promise<void>((r) => (open = r));
    const submitting = new Promise<EngineRun>((r) => (entered = r));
    const terminated: string[] = [];
    const engine: Engine = {
      name: 'local',
      async submit(run) {
        entered(run);
        await gate;
        return { engineRef: `gated-${run.runId}`, status: 'RUNNING', startedAt: new Date() };
      },
      async reconcile(runs) {
        return runs.map((r) => ({ runId: r.runId, status: 'RUNNING' as const }));
      },
      async *logs() {},
      async terminate(run) {
        terminated.push(`${run.runId}:${run.engineRef}`);
      },
      async describe() {
        return { clusters: ['gated'], capabilities: [] };
      },
      async close() {},
    };
    return { engine, open, submitting, terminated };
  }

  it('a QUEUED run stopped while a worker is launching it: the launch is terminated, the run stays STOPPED', async () => {
    await t.stopWorkers();
    const gated = gatedEngine();
    const engines = registryOf([gated.engine]);
    const services = createServices({ db: t.database.db, bus: t.bus, config: t.config, logger: silentLogger, engines });
    const { app } = createApp({ config: t.config, services, bus: t.bus, logger: silentLogger });
    const workers = startWorkers(
      { workerId: newWorkerId(), db: t.database.db, bus: t.bus, config: t.config, logger: silentLogger, updates: services.runUpdates, engines },
      ['submit'],
    );
    try {
      const executed = (await (
        await app.fetch(
          new Request(`http://flotilla.test/api/v6/task/${sleeper.definitionId}/execute`, {
            method: 'PUT',
            body: JSON.stringify({ run_tags: { owner_id: 'alice' } }),
          }),
        )
      ).json()) as { run_id: string };
      const inFlight = await gated.submitting;
      expect(inFlight.runId).toBe(executed.run_id);

      const res = await app.fetch(new Request(`http://flotilla.test/api/v6/task/${sleeper.definitionId}/history/${executed.run_id}`, { method: 'DELETE' }));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ terminated: true });
      gated.open();

      await expect.poll(() => gated.terminated, { timeout: 10_000, interval: 50 }).toEqual([`${executed.run_id}:gated-${executed.run_id}`]);
      expect(await t.services.runs.get(executed.run_id)).toMatchObject({
        status: 'STOPPED',
        exitCode: 1,
        exitReason: 'Task terminated by user',
        startedAt: null,
      });
      const events = await t.services.runs.events(executed.run_id);
      expect(events.filter((e) => e.kind === 'status').map((e) => `${e.fromStatus ?? 'new'}→${e.toStatus}`)).toEqual(['new→QUEUED', 'QUEUED→STOPPED']);
    } finally {
      gated.open();
      await workers.stop();
      t.startWorkers();
    }
  });
});
