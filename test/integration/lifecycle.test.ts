// A run's whole life on the local engine with the worker loops in-process: exit codes,
// the deadline sweep, the reserved env reaching the process, retries up to max_attempts,
// and the run_events timeline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskDefinitionRow } from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition } from '../helpers/factories.js';
import { pidOfLocalRef, processGroupMembers } from '../helpers/processes.js';
import { executeRest } from '../helpers/execute.js';

let t: TestApp;
let def: TaskDefinitionRow;

beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local', workers: true });
  def = await createDefinition(t.services, { alias: 'lifecycle', command: 'true', env: [{ name: 'FROM_DEF', value: 'd' }] });
});
afterAll(async () => {
  await t?.close();
});

async function execute(body: Record<string, unknown>): Promise<any> {
  return executeRest(t, def.definitionId, body);
}

async function run(runId: string): Promise<any> {
  return (await t.fetch(`/api/v6/history/${runId}`)).json();
}

async function stopped(runId: string, timeout = 20_000): Promise<any> {
  await expect.poll(() => run(runId).then((r) => r.status), { timeout, interval: 50 }).toBe('STOPPED');
  return run(runId);
}

async function logText(runId: string): Promise<string> {
  await expect.poll(() => t.services.runs.get(runId).then((r) => r.logsComplete), { timeout: 20_000, interval: 50 }).toBe(true);
  return (await t.fetch(`/api/v6/${runId}/logs?raw_text=true`)).text();
}

/** Waits for attempt `attempt` to be RUNNING with a live process; returns its process group. */
async function runningAttempt(runId: string, attempt: number): Promise<number> {
  await expect
    .poll(
      async () => {
        const row = await t.services.runs.get(runId);
        return `${row.status}/${row.attempt}/${row.engineRef ? 'ref' : 'noref'}`;
      },
      { timeout: 20_000, interval: 50 },
    )
    .toBe(`RUNNING/${attempt}/ref`);
  const pid = pidOfLocalRef((await t.services.runs.get(runId)).engineRef);
  await expect.poll(() => processGroupMembers(pid).length, { timeout: 5000, interval: 50 }).toBeGreaterThan(0);
  return pid;
}

const transitions = async (runId: string) =>
  (await t.services.runs.events(runId)).filter((e) => e.kind === 'status').map((e) => `${e.fromStatus ?? 'new'}→${e.toStatus}`);

describe('exit codes', () => {
  it('exit 0 → STOPPED, exit 0, Exited successfully, with times', async () => {
    const { run_id } = await execute({ command: 'echo done' });
    const r = await stopped(run_id);
    expect(r).toMatchObject({ status: 'STOPPED', exit_code: 0, exit_reason: 'Exited successfully' });
    expect(Date.parse(r.started_at)).toBeGreaterThanOrEqual(Date.parse(r.queued_at));
    expect(Date.parse(r.finished_at)).toBeGreaterThanOrEqual(Date.parse(r.started_at));
    expect(await transitions(run_id)).toEqual(['new→QUEUED', 'QUEUED→PENDING', 'PENDING→RUNNING', 'RUNNING→STOPPED']);
    expect(await logText(run_id)).toBe('done\n');
  });

  it('exit 3 → STOPPED with exit_code 3', async () => {
    const { run_id } = await execute({ command: 'echo failing >&2; exit 3' });
    expect(await stopped(run_id)).toMatchObject({ status: 'STOPPED', exit_code: 3, exit_reason: 'Error: exited with code 3' });
    const status = await t.fetch(`/api/v6/${run_id}/status`);
    expect(status.headers.get('etag')).toBe('"STOPPED-3"');
  });
});

describe('deadline', () => {
  it('active_deadline_seconds 1 on sleep 30 → STOPPED, exit 1, the timeout reason; the process is ended', async () => {
    const { run_id } = await execute({ command: 'sleep 30', active_deadline_seconds: 1 });
    const pid = await runningAttempt(run_id, 1);
    const r = await stopped(run_id, 10_000);
    expect(r).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'JobRun exceeded specified timeout of 1 seconds' });
    expect(Date.parse(r.finished_at) - Date.parse(r.started_at)).toBeGreaterThanOrEqual(1000);
    expect(Date.parse(r.finished_at) - Date.parse(r.started_at)).toBeLessThan(10_000);
    await expect.poll(() => processGroupMembers(pid), { timeout: 3000, interval: 50 }).toEqual([]);
    // The exit the engine reports when the killed process ends does not replace the reason.
    await new Promise((res) => setTimeout(res, 400));
    expect(await run(run_id)).toMatchObject({ exit_code: 1, exit_reason: 'JobRun exceeded specified timeout of 1 seconds' });
    const last = (await t.services.runs.events(run_id)).filter((e) => e.kind === 'status').at(-1);
    expect(last).toMatchObject({ fromStatus: 'RUNNING', toStatus: 'STOPPED', reason: 'JobRun exceeded specified timeout of 1 seconds' });
  });
});

describe('environment', () => {
  it('the reserved vars are in the run env and reach the process, with the definition and request env', async () => {
    const { run_id, env } = await execute({
      command: 'echo "$FLOTILLA_RUN_ID|$FLOTILLA_SERVER_MODE|$FLOTILLA_RUN_OWNER_ID|$AWS_ROLE_SESSION_NAME|$FROM_DEF|$FROM_REQ"',
      env: [{ name: 'FROM_REQ', value: 'r' }],
    });
    expect(env.slice(0, 4)).toEqual([
      { name: 'FLOTILLA_RUN_ID', value: run_id },
      { name: 'FLOTILLA_SERVER_MODE', value: 'test' },
      { name: 'FLOTILLA_RUN_OWNER_ID', value: 'alice' },
      { name: 'AWS_ROLE_SESSION_NAME', value: run_id },
    ]);
    expect(await stopped(run_id)).toMatchObject({ exit_code: 0 });
    expect(await logText(run_id)).toBe(`${run_id}|test|alice|${run_id}|d|r\n`);
  });
});

describe('retries', () => {
  it('a lost process → NEEDS_RETRY → QUEUED → … → STOPPED after max_attempts, every step in the timeline', async () => {
    expect(t.config.workers.maxAttempts).toBe(3);
    const { run_id } = await execute({ command: 'echo "attempt $FLOTILLA_RUN_ID"; sleep 600' });
    const pids: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const pid = await runningAttempt(run_id, attempt);
      expect(pids).not.toContain(pid);
      pids.push(pid);
      // Wait for this attempt's line to be collected, then lose the process as a crash would.
      await expect
        .poll(
          () =>
            t
              .fetch(`/api/v6/${run_id}/logs?raw_text=true`)
              .then((r) => r.text())
              .then((s) => s.split('\n').filter(Boolean).length),
          { timeout: 10_000, interval: 50 },
        )
        .toBe(attempt);
      process.kill(-pid, 'SIGKILL');
    }
    const r = await stopped(run_id);
    expect(r).toMatchObject({ status: 'STOPPED', exit_reason: 'Lost: the process running it ended', attempt_count: 3 });
    expect(r).not.toHaveProperty('exit_code');
    expect(await transitions(run_id)).toEqual([
      'new→QUEUED',
      'QUEUED→PENDING',
      'PENDING→RUNNING',
      'RUNNING→NEEDS_RETRY',
      'NEEDS_RETRY→QUEUED',
      'QUEUED→PENDING',
      'PENDING→RUNNING',
      'RUNNING→NEEDS_RETRY',
      'NEEDS_RETRY→QUEUED',
      'QUEUED→PENDING',
      'PENDING→RUNNING',
      'RUNNING→NEEDS_RETRY',
      'NEEDS_RETRY→STOPPED',
    ]);
    const events = await t.services.runs.events(run_id);
    expect(events.filter((e) => e.toStatus === 'QUEUED' && e.fromStatus === 'NEEDS_RETRY').map((e) => e.reason)).toEqual([
      'retry 2 of 3: Lost: the process running it ended',
      'retry 3 of 3: Lost: the process running it ended',
    ]);
    // Each attempt's output is kept, once.
    expect(await logText(run_id)).toBe(`attempt ${run_id}\n`.repeat(3));
    const timeline = (await (await t.fetch(`/api/v6/${run_id}/events`)).json()) as any;
    expect(timeline.total).toBe(events.length);
  }, 60_000);

  it('NEEDS_RETRY set by the service: the old process is terminated and a new attempt runs', async () => {
    const { run_id } = await execute({ command: 'echo "run $FLOTILLA_RUN_ID"; sleep 600' });
    const first = await runningAttempt(run_id, 1);
    await expect.poll(() => t.fetch(`/api/v6/${run_id}/logs?raw_text=true`).then((r) => r.text()), { timeout: 10_000, interval: 50 }).toBe(`run ${run_id}\n`);
    const moved = await t.services.runUpdates.transition(run_id, 'NEEDS_RETRY', { lastError: 'node lost', exitReason: 'node lost' }, 'node lost');
    expect(moved?.status).toBe('NEEDS_RETRY');
    await expect.poll(() => processGroupMembers(first), { timeout: 5000, interval: 50 }).toEqual([]);
    const second = await runningAttempt(run_id, 2);
    expect(second).not.toBe(first);
    const row = await t.services.runs.get(run_id);
    expect(row).toMatchObject({ status: 'RUNNING', attempt: 2, exitReason: null, exitCode: null });
    await expect
      .poll(() => t.fetch(`/api/v6/${run_id}/logs?raw_text=true`).then((r) => r.text()), { timeout: 10_000, interval: 50 })
      .toBe(`run ${run_id}\n`.repeat(2));
    const stop = await t.fetch(`/api/v6/task/${def.definitionId}/history/${run_id}`, { method: 'DELETE' });
    expect(stop.status).toBe(200);
    expect(await stopped(run_id)).toMatchObject({ exit_code: 1, exit_reason: 'Task terminated by user', attempt_count: 2 });
    await expect.poll(() => processGroupMembers(second), { timeout: 3000, interval: 50 }).toEqual([]);
    expect(await transitions(run_id)).toEqual([
      'new→QUEUED',
      'QUEUED→PENDING',
      'PENDING→RUNNING',
      'RUNNING→NEEDS_RETRY',
      'NEEDS_RETRY→QUEUED',
      'QUEUED→PENDING',
      'PENDING→RUNNING',
      'RUNNING→STOPPED',
    ]);
  }, 60_000);
});
