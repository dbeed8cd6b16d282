// GET /api/v6/{run_id}/logs (spec/rest-v6.md "Logs") with the worker loops running
// in-process on the local engine: real output, collected into run_logs, paged back.
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLogs, type TaskDefinitionRow } from '../../src/db/schema.js';
import { encodeLogToken } from '../../src/domain/logService.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition, createRun } from '../helpers/factories.js';
import { pidOfLocalRef, processGroupMembers } from '../helpers/processes.js';
import { waitFinished } from '../helpers/wait.js';
import { executeRest } from '../helpers/execute.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const MiB = 1024 * 1024;

let t: TestApp;
let hello: TaskDefinitionRow;

beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local' });
  hello = await createDefinition(t.services, { alias: 'hello-flotilla', command: 'echo "hello $USERNAME"' });
});
afterAll(async () => {
  await t?.close();
});

async function execute(body: Record<string, unknown> = {}, def = hello): Promise<string> {
  return (await executeRest(t, def.definitionId, body)).run_id as string;
}

async function logs(runId: string, lastSeen?: string): Promise<{ status: number; body: any }> {
  const q = lastSeen === undefined ? '' : `?last_seen=${encodeURIComponent(lastSeen)}`;
  const res = await t.fetch(`/api/v6/${runId}/logs${q}`);
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  return { status: res.status, body: await res.json() };
}

/** Waits until the run is STOPPED and its output is fully collected. */
async function finished(runId: string, timeout = 20_000): Promise<void> {
  await waitFinished(t.services, runId, timeout);
}

describe('before any worker runs', () => {
  it('a run not yet RUNNING answers an empty page', async () => {
    expect(t.workers).toBeUndefined();
    const queued = await execute();
    expect(await logs(queued)).toEqual({ status: 200, body: { log: '', last_seen: '' } });
    const pending = await createRun(t.services, { definition: hello, status: 'PENDING' });
    expect(await logs(pending.runId)).toEqual({ status: 200, body: { log: '', last_seen: '' } });
    const raw = await t.fetch(`/api/v6/${queued}/logs?raw_text=true`);
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await raw.text()).toBe('');
  });

  it('an unknown run → 404', async () => {
    expect(await logs('local-0000000000000000000000000000')).toEqual({
      status: 404,
      body: { error: 'Run with id local-0000000000000000000000000000 not found' },
    });
    const raw = await t.fetch('/api/v6/local-nope/logs?raw_text=true');
    expect(raw.status).toBe(404);
    expect(await raw.json()).toEqual({ error: 'Run with id local-nope not found' });
  });

  it('a token of another run, or garbage, → 400', async () => {
    const a = await execute();
    const b = await execute();
    for (const token of [
      encodeLogToken(b, 1),
      'garbage',
      'Zm9vOjE',
      encodeLogToken(a, -1),
      Buffer.from(`${a}:1.5`).toString('base64url'),
      Buffer.from(`${a}:`).toString('base64url'),
      `${a}:1`,
    ]) {
      const res = await logs(a, token);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/^last_seen token .* is not a position in the logs of run /);
    }
    expect((await t.fetch(`/api/v6/${a}/logs?raw_text=maybe`)).status).toBe(400);
  });
});

describe('with the workers running', () => {
  beforeAll(() => {
    t.startWorkers();
  });

  it('hello world: the log holds the line; passing last_seen back returns nothing new', async () => {
    const runId = await execute({ env: [{ name: 'USERNAME', value: 'yourusername' }] });
    await finished(runId);
    expect(await t.services.runs.get(runId)).toMatchObject({ status: 'STOPPED', exitCode: 0 });
    const first = await logs(runId);
    expect(first.status).toBe(200);
    expect(Object.keys(first.body)).toEqual(['log', 'last_seen']);
    expect(first.body.log).toBe('hello yourusername\n');
    expect(first.body.last_seen).not.toBe('');
    expect(await logs(runId, first.body.last_seen)).toEqual({ status: 200, body: { log: '', last_seen: first.body.last_seen } });
    // A token from an earlier page is still good: it answers what came after it.
    expect((await logs(runId, '')).body).toEqual(first.body);
  });

  it('stdout and stderr both reach the log', async () => {
    const runId = await execute({ command: 'echo to-out; echo to-err >&2' });
    await finished(runId);
    const { body } = await logs(runId);
    expect(body.log.split('\n').filter(Boolean).sort()).toEqual(['to-err', 'to-out']);
  });

  it('raw_text=true streams the whole log as text/plain; with last_seen, only what came after', async () => {
    const runId = await execute({ command: 'for i in $(seq 1 2000); do echo "raw line $i"; done' });
    await finished(runId);
    const expected = Array.from({ length: 2000 }, (_, i) => `raw line ${i + 1}\n`).join('');
    const res = await t.fetch(`/api/v6/${runId}/logs?raw_text=true`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe(expected);
    const [firstChunk] = await t.database.db.select().from(runLogs).where(eq(runLogs.runId, runId)).orderBy(asc(runLogs.seq)).limit(1);
    const after = await t.fetch(`/api/v6/${runId}/logs?raw_text=TRUE&last_seen=${encodeLogToken(runId, firstChunk!.seq)}`);
    expect(await after.text()).toBe(expected.slice(firstChunk!.text.length));
  });

  it('a retried run keeps its earlier output, and a token stays good while it waits to run again', async () => {
    const runId = await execute({ command: 'echo "attempt $FLOTILLA_RUN_ID"; sleep 600' });
    const line = `attempt ${runId}\n`;
    await expect.poll(async () => (await logs(runId)).body.log, { timeout: 20_000, interval: 100 }).toBe(line);
    const token = (await logs(runId)).body.last_seen as string;
    const first = pidOfLocalRef((await t.services.runs.get(runId)).engineRef);

    // Only the retry loop runs, so the run stays QUEUED for its second attempt.
    await t.stopWorkers();
    await t.services.runUpdates.transition(runId, 'NEEDS_RETRY', { lastError: 'node lost', exitReason: 'node lost' }, 'node lost');
    t.startWorkers(['retry']);
    await expect.poll(() => t.services.runs.get(runId).then((r) => `${r.status}/${r.attempt}`), { timeout: 10_000, interval: 50 }).toBe('QUEUED/2');
    await expect.poll(() => processGroupMembers(first), { timeout: 5000, interval: 50 }).toEqual([]);
    expect(await logs(runId)).toEqual({ status: 200, body: { log: line, last_seen: token } });
    expect(await logs(runId, token)).toEqual({ status: 200, body: { log: '', last_seen: token } });
    expect(await (await t.fetch(`/api/v6/${runId}/logs?raw_text=true`)).text()).toBe(line);

    // The second attempt's output follows, and the token answers exactly that.
    await t.stopWorkers();
    t.startWorkers();
    await expect.poll(async () => (await logs(runId, token)).body.log, { timeout: 20_000, interval: 100 }).toBe(line);
    expect(await (await t.fetch(`/api/v6/${runId}/logs?raw_text=true`)).text()).toBe(line + line);
    expect((await t.fetch(`/api/v6/task/${hello.definitionId}/history/${runId}`, { method: 'DELETE' })).status).toBe(200);
  }, 60_000);

  it('100,000 lines paged with last_seen while the run writes: each line exactly once, in order, pages ≤ 1 MiB', async () => {
    const N = 100_000;
    const pad = 'x'.repeat(24);
    // Written in bursts, so pages are read while output is still arriving.
    const runId = await execute({
      command: `for i in $(seq 1 ${N}); do printf 'line %06d ${pad}\\n' $i; if [ $((i % 20000)) -eq 0 ]; then sleep 0.3; fi; done`,
    });
    const pages: string[] = [];
    let token: string | undefined;
    let sawRunningPage = false;
    const deadline = Date.now() + 90_000;
    for (;;) {
      expect(Date.now()).toBeLessThan(deadline);
      const { status, body } = await logs(runId, token);
      expect(status).toBe(200);
      expect(Buffer.byteLength(body.log)).toBeLessThanOrEqual(MiB);
      if (body.log === '') {
        // Nothing new: the token must not move.
        if (token !== undefined && token !== '') expect(body.last_seen).toBe(token);
        const row = await t.services.runs.get(runId);
        if (row.status === 'STOPPED' && row.logsComplete) {
          // Collection is complete: one more read after it must still be empty.
          const last = await logs(runId, token);
          expect(last.body.log).toBe('');
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if ((await t.services.runs.get(runId)).status === 'RUNNING') sawRunningPage = true;
      expect(body.log.endsWith('\n')).toBe(true);
      expect(body.last_seen).not.toBe(token);
      pages.push(body.log);
      token = body.last_seen;
    }
    expect(sawRunningPage).toBe(true);
    const lines = pages.join('').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(N);
    for (let i = 0; i < N; i++) {
      if (lines[i] !== `line ${String(i + 1).padStart(6, '0')} ${pad}`) throw new Error(`line ${i + 1} is ${JSON.stringify(lines[i])}`);
    }

    // Stored once, densely numbered from 1.
    const rows = await t.database.db.select({ seq: runLogs.seq }).from(runLogs).where(eq(runLogs.runId, runId)).orderBy(asc(runLogs.seq));
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));

    // Read again from the start: the ~3.7 MB log comes in several pages of at most 1 MiB.
    const again: string[] = [];
    token = undefined;
    for (;;) {
      const { body } = await logs(runId, token);
      if (body.log === '') break;
      expect(Buffer.byteLength(body.log)).toBeLessThanOrEqual(MiB);
      again.push(body.log);
      token = body.last_seen;
    }
    expect(again.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...again.map((p) => Buffer.byteLength(p)))).toBeGreaterThan(MiB / 2);
    expect(again.join('')).toBe(pages.join(''));
  }, 120_000);
});
