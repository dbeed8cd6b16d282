// The classic sequence, over a real HTTP connection: wait for STOPPED on
// /api/v6/history/{id}, then read /api/v6/{id}/logs once. The run's process ends before the
// collector has stored its last lines (here the collector is slowed on purpose, as a
// loaded machine slows it), so the log read must wait for the collector, bounded by
// LOG_COMPLETE_WAIT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskDefinitionRow } from '../../src/db/schema.js';
import { createLocalEngine } from '../../src/engines/local/index.js';
import type { Engine, LogChunk } from '../../src/engines/types.js';
import { listenFetch, type HttpServer } from '../../src/httpServer.js';
import { silentLogger } from '../../src/logger.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition } from '../helpers/factories.js';

/** Holds every chunk of output back until `holdMs` after it was read from the engine. */
function slowedLocalEngine(workdir: string, holdMs: number): Engine {
  const local = createLocalEngine({ workdir, graceMs: 1000 }, { logger: silentLogger });
  return {
    ...local,
    async *logs(run, cursor, signal): AsyncIterable<LogChunk> {
      for await (const chunk of local.logs(run, cursor, signal)) {
        await new Promise((r) => setTimeout(r, holdMs));
        yield chunk;
      }
    },
  };
}

interface Ctx {
  t: TestApp;
  http: HttpServer;
  def: TaskDefinitionRow;
  workdir: string;
}

async function setUp(env: Record<string, string>, holdMs: number, workers?: Parameters<TestApp['startWorkers']>[0]): Promise<Ctx> {
  const workdir = mkdtempSync(join(tmpdir(), 'flotilla-logs-complete-'));
  const t = await createTestApp(env, { engines: [slowedLocalEngine(workdir, holdMs)] });
  // A real socket in front of the app, as the outside check used.
  const http = await listenFetch(
    (req) => {
      const u = new URL(req.url);
      return t.fetch(u.pathname + u.search, {
        method: req.method,
        headers: req.headers,
        body: req.method === 'GET' ? undefined : req.body,
        duplex: 'half',
      } as RequestInit);
    },
    '127.0.0.1',
    0,
  );
  t.startWorkers(workers);
  const def = await createDefinition(t.services, { alias: `logs-complete-${Math.random().toString(36).slice(2, 8)}`, command: 'echo "hello $USERNAME"' });
  return { t, http, def, workdir };
}

async function tearDown(c: Ctx | undefined): Promise<void> {
  if (!c) return;
  await c.http.close();
  await c.t.close();
  rmSync(c.workdir, { recursive: true, force: true });
}

async function execute(c: Ctx, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${c.http.url}/api/v6/task/${c.def.definitionId}/execute`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ run_tags: { owner_id: 'alice' }, ...body }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { run_id: string }).run_id;
}

/** What a classic script does: poll the run until STOPPED. */
async function waitStopped(c: Ctx, runId: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${c.http.url}/api/v6/history/${runId}`);
    if (((await res.json()) as { status: string }).status === 'STOPPED') return;
    expect(Date.now()).toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('a log read right after STOPPED, with a slow collector', () => {
  let c: Ctx | undefined;
  beforeAll(async () => {
    c = await setUp({ LOG_COMPLETE_WAIT: '10s' }, 1500);
  });
  afterAll(() => tearDown(c));

  it('hello world: one read after STOPPED has the line', async () => {
    const runId = await execute(c!, { env: [{ name: 'USERNAME', value: 'yourusername' }] });
    await waitStopped(c!, runId);
    // The race is real here: the collector has not stored the line yet.
    expect((await c!.t.services.runs.get(runId)).logsComplete).toBe(false);
    const started = Date.now();
    const res = await fetch(`${c!.http.url}/api/v6/${runId}/logs`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { log: string; last_seen: string };
    expect(body.log).toBe('hello yourusername\n');
    expect(body.last_seen).not.toBe('');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('seq 1 5000: paging until an empty page right after STOPPED gets every line; so does raw_text', async () => {
    const runId = await execute(c!, { command: 'seq 1 5000' });
    const runId2 = await execute(c!, { command: 'seq 1 5000' });
    const expected = Array.from({ length: 5000 }, (_, i) => `${i + 1}\n`).join('');

    await waitStopped(c!, runId);
    expect((await c!.t.services.runs.get(runId)).logsComplete).toBe(false);
    let text = '';
    let token = '';
    for (;;) {
      const res = await fetch(`${c!.http.url}/api/v6/${runId}/logs${token ? `?last_seen=${encodeURIComponent(token)}` : ''}`);
      const body = (await res.json()) as { log: string; last_seen: string };
      if (body.log === '') break;
      text += body.log;
      token = body.last_seen;
    }
    expect(text).toBe(expected);

    await waitStopped(c!, runId2);
    const raw = await fetch(`${c!.http.url}/api/v6/${runId2}/logs?raw_text=true`);
    expect(raw.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await raw.text()).toBe(expected);
  });

  it('GraphQL Run.logs waits too, unless waitForComplete: false', async () => {
    const query = `query($id: ID!, $wait: Boolean) { run(runId: $id) { status logs(waitForComplete: $wait) { text complete } } }`;
    const noWait = await execute(c!, { command: 'echo one; echo two' });
    await waitStopped(c!, noWait);
    const quick = await c!.t.gql(query, { id: noWait, wait: false });
    expect(quick.errors).toBeUndefined();
    expect(quick.data.run).toMatchObject({ status: 'STOPPED', logs: { complete: false } });

    const waited = await execute(c!, { command: 'echo one; echo two' });
    await waitStopped(c!, waited);
    const full = await c!.t.gql(query, { id: waited });
    expect(full.errors).toBeUndefined();
    expect(full.data.run).toEqual({ status: 'STOPPED', logs: { text: 'one\ntwo\n', complete: true } });
  });
});

describe('the wait is bounded', () => {
  let c: Ctx | undefined;
  beforeAll(async () => {
    // No log collector at all: the logs of a STOPPED run never become complete.
    c = await setUp({ LOG_COMPLETE_WAIT: '400ms' }, 0, ['submit', 'status']);
  });
  afterAll(() => tearDown(c));

  it('answers with what is stored LOG_COMPLETE_WAIT after the run finished, and at once after that', async () => {
    const runId = await execute(c!, { command: 'echo lost' });
    await waitStopped(c!, runId);
    const finishedAt = (await c!.t.services.runs.get(runId)).finishedAt!.getTime();
    const started = Date.now();
    const res = await fetch(`${c!.http.url}/api/v6/${runId}/logs`);
    const answered = Date.now();
    expect(await res.json()).toEqual({ log: '', last_seen: '' });
    // The wait counts from when the run finished, not from the read.
    expect(answered - finishedAt).toBeGreaterThanOrEqual(380);
    expect(answered - started).toBeLessThan(5000);

    // Past that bound no collector is coming: a later read does not wait again.
    const again = Date.now();
    const later = await fetch(`${c!.http.url}/api/v6/${runId}/logs`);
    expect(await later.json()).toEqual({ log: '', last_seen: '' });
    expect(Date.now() - again).toBeLessThan(200);
  });
});
