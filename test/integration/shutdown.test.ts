// Shutdown is bounded: SIGTERM to the process group of a real `flotilla dev`, `serve` or
// `worker` ends it within FLOTILLA_SHUTDOWN_TIMEOUT (plus the watchdog's second and some
// slack for a loaded machine), whatever it was doing: the engine API unreachable or
// swallowing requests mid-submit, logs being collected, a GraphQL subscription open, or a
// migration waiting for its lock. A second signal always ends it at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../engines/fakeKube/server.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { TEST_DATABASE_URL, withDatabase } from '../helpers/env.js';
import { record, wsClient } from '../helpers/live.js';

const BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));
const TIMEOUT_MS = 2000;
/** The timeout, the watchdog's grace, and room for a loaded CI machine to exit and reap. */
const BOUND_MS = TIMEOUT_MS + 1000 + 4000;

interface Proc {
  child: ChildProcess;
  url?: string;
  out(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Proc[] = [];
let dir: string;
let blackHole: Server;
const heldSockets = new Set<Socket>();
let blackHoleUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-shutdown-'));
  // An "API server" that accepts connections and never answers: every engine call hangs.
  blackHole = createServer((socket) => {
    heldSockets.add(socket);
    socket.on('close', () => heldSockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  blackHoleUrl = `http://127.0.0.1:${(blackHole.address() as { port: number }).port}`;
  writeKubeconfig(join(dir, 'blackhole.kubeconfig'), [{ name: 'fake', server: blackHoleUrl }], 'fake');
  // Nothing listens on port 1: connection refused.
  writeKubeconfig(join(dir, 'refused.kubeconfig'), [{ name: 'fake', server: 'http://127.0.0.1:1' }], 'fake');
});
afterEach(() => {
  for (const p of started.splice(0)) {
    try {
      process.kill(-p.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
/** Local runs are detached process groups that outlive the process that started them. */
function killLocalRuns(): void {
  for (const runs of readdirSync(dir).filter((d) => d.startsWith('runs-'))) {
    for (const run of readdirSync(join(dir, runs))) {
      try {
        process.kill(-(JSON.parse(readFileSync(join(dir, runs, run, 'pid'), 'utf8')) as { pid: number }).pid, 'SIGKILL');
      } catch {
        // no pid file, or gone already
      }
    }
  }
}

afterAll(async () => {
  killLocalRuns();
  for (const s of heldSockets) s.destroy();
  await new Promise<void>((r) => blackHole.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function start(role: 'dev' | 'serve' | 'worker', env: Record<string, string>, ready: RegExp | null): Promise<Proc> {
  const child = spawn(process.execPath, [BIN, role], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      FLOTILLA_SHUTDOWN_TIMEOUT: `${TIMEOUT_MS}ms`,
      FLOTILLA_DATA_DIR: mkdtempSync(join(dir, 'data-')),
      FLOTILLA_LOCAL_WORKDIR: mkdtempSync(join(dir, 'runs-')),
      WORKER_SUBMIT_INTERVAL: '200ms',
      WORKER_STATUS_INTERVAL: '500ms',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as under a supervisor: the signal goes to the whole group.
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const p: Proc = { child, out: () => out, exited };
  started.push(p);
  if (!ready) return Promise.resolve(p);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`flotilla ${role} not ready:\n${out}`)), 90_000);
    const onData = () => {
      const m = ready.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      p.url = m[1];
      resolve(p);
    };
    child.stdout!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`flotilla ${role} exited before it was ready:\n${out}`));
    });
  });
}

const DEV_READY = /flotilla dev ready on (http:\/\/[\d.:]+)/;
const SERVE_READY = /"url":"(http:[^"]+)".*flotilla API listening/;
const WORKER_READY = /workers started/;

/** SIGTERM to the process group; resolves with how long the process took to go. */
async function terminate(p: Proc): Promise<number> {
  const t0 = Date.now();
  process.kill(-p.child.pid!, 'SIGTERM');
  const result = await Promise.race([p.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), BOUND_MS + 5000))]);
  const ms = Date.now() - t0;
  if (result === 'hung') throw new Error(`still running ${ms} ms after SIGTERM:\n${p.out().slice(-3000)}`);
  return ms;
}

async function api(p: Proc, path: string, method = 'GET', body?: unknown): Promise<any> {
  const res = await fetch(`${p.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

async function executeOn(p: Proc, command: string): Promise<string> {
  const def = await api(p, '/api/v6/task', 'POST', { alias: `sd-${randomBytes(4).toString('hex')}`, image: 'x', group_name: 'shutdown', command });
  const run = await api(p, `/api/v6/task/${def.definition_id}/execute`, 'PUT', { run_tags: { owner_id: 'shutdown' } });
  return run.run_id as string;
}

const kube = (file: string) => ({ FLOTILLA_ENGINES: 'kubernetes', FLOTILLA_ENGINE: 'kubernetes', KUBECONFIG: join(dir, file) });

describe('flotilla dev exits within FLOTILLA_SHUTDOWN_TIMEOUT after SIGTERM', () => {
  it('with the Kubernetes API unreachable (connection refused)', async () => {
    const p = await start('dev', kube('refused.kubeconfig'), DEV_READY);
    await executeOn(p, 'echo hi');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await terminate(p)).toBeLessThan(BOUND_MS);
  }, 120_000);

  it('mid-submit, against an API server that never answers', async () => {
    const p = await start('dev', kube('blackhole.kubeconfig'), DEV_READY);
    const runId = await executeOn(p, 'echo hi');
    // The submitter has claimed the run and is waiting on the engine.
    await expect.poll(async () => (await api(p, `/api/v6/history/${runId}`)).status, { timeout: 20_000 }).toBe('QUEUED');
    await new Promise((r) => setTimeout(r, 1500));
    expect(heldSockets.size).toBeGreaterThan(0);
    expect(await terminate(p)).toBeLessThan(BOUND_MS);
  }, 120_000);

  it('mid-log-collection (local engine, a job writing without pause)', async () => {
    const p = await start('dev', { FLOTILLA_ENGINES: 'local', FLOTILLA_ENGINE: 'local' }, DEV_READY);
    const runId = await executeOn(p, 'while true; do echo line $RANDOM; done');
    await expect.poll(async () => (await api(p, `/api/v6/${runId}/logs`)).log?.length ?? 0, { timeout: 30_000 }).toBeGreaterThan(1000);
    expect(await terminate(p)).toBeLessThan(BOUND_MS);
    killLocalRuns();
  }, 120_000);

  it('during a long GraphQL subscription', async () => {
    const p = await start('dev', kube('blackhole.kubeconfig'), DEV_READY);
    const runId = await executeOn(p, 'sleep 600');
    const client = wsClient(p.url!.replace(/^http/, 'ws') + '/graphql');
    const sub = record(client, `subscription($id: ID!) { runStatus(runId: $id) { status } }`, { id: runId });
    sub.completed.catch(() => {});
    await sub.received(1);
    try {
      expect(await terminate(p)).toBeLessThan(BOUND_MS);
    } finally {
      await client.dispose();
    }
  }, 120_000);

  it('during start-up and migration of a fresh embedded database', async () => {
    const p = await start('dev', { FLOTILLA_ENGINES: 'local' }, null);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await terminate(p)).toBeLessThan(BOUND_MS);
  }, 120_000);

  it('while nobody reads its stdout (a full pipe): exits by itself, not by the watchdog', async () => {
    // The hang seen from outside: the log writer retried EAGAIN forever on the main thread.
    const p = await start('dev', { FLOTILLA_ENGINES: 'local', LOG_LEVEL: 'debug' }, DEV_READY);
    p.child.stdout!.pause();
    const before = Date.now();
    // Debug logging of GraphQL requests fills the 64 KiB pipe quickly.
    for (let i = 0; i < 400 && Date.now() - before < 20_000; i++) {
      await fetch(`${p.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ health }' }) });
    }
    expect(await terminate(p)).toBeLessThan(BOUND_MS);
    expect((await p.exited).signal).toBeNull();
  }, 120_000);

  it('a second SIGTERM ends it at once, even while the first is still shutting down', async () => {
    // A long timeout and a hanging engine: the first signal alone would take a while.
    const p = await start('dev', { ...kube('blackhole.kubeconfig'), FLOTILLA_SHUTDOWN_TIMEOUT: '60s' }, DEV_READY);
    await executeOn(p, 'echo hi');
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(-p.child.pid!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    try {
      process.kill(-p.child.pid!, 'SIGTERM');
    } catch {
      // the first signal was enough
    }
    await p.exited;
    expect(Date.now() - t0).toBeLessThan(3000);
  }, 120_000);
});

describe.skipIf(!TEST_DATABASE_URL)('flotilla serve and worker on Postgres exit within the bound', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('serve with an open subscription, worker mid-submit against a silent API server', async () => {
    const serve = await start('serve', { DATABASE_URL: db.url!, ...kube('blackhole.kubeconfig') }, SERVE_READY);
    const worker = await start('worker', { DATABASE_URL: db.url!, ...kube('blackhole.kubeconfig') }, WORKER_READY);
    const runId = await executeOn(serve, 'sleep 600');
    const client = wsClient(serve.url!.replace(/^http/, 'ws') + '/graphql');
    const sub = record(client, `subscription($id: ID!) { runStatus(runId: $id) { status } }`, { id: runId });
    sub.completed.catch(() => {});
    await sub.received(1);
    await new Promise((r) => setTimeout(r, 1500));
    try {
      const [a, b] = await Promise.all([terminate(serve), terminate(worker)]);
      expect(a).toBeLessThan(BOUND_MS);
      expect(b).toBeLessThan(BOUND_MS);
    } finally {
      await client.dispose();
    }
  }, 120_000);

  it('worker and serve mid-log-collection (local engine, a job writing without pause), and with the engine API unreachable', async () => {
    const local = { DATABASE_URL: db.url!, FLOTILLA_ENGINES: 'local', FLOTILLA_ENGINE: 'local', FLOTILLA_LOCAL_WORKDIR: mkdtempSync(join(dir, 'runs-')) };
    const serve = await start('serve', local, SERVE_READY);
    const worker = await start('worker', local, WORKER_READY);
    const runId = await executeOn(serve, 'while true; do echo line $RANDOM; done');
    await expect.poll(async () => (await api(serve, `/api/v6/${runId}/logs`)).log?.length ?? 0, { timeout: 30_000 }).toBeGreaterThan(1000);
    const [a, b] = await Promise.all([terminate(serve), terminate(worker)]);
    expect(a).toBeLessThan(BOUND_MS);
    expect(b).toBeLessThan(BOUND_MS);
    killLocalRuns();

    const refused = await start('worker', { DATABASE_URL: db.url!, ...kube('refused.kubeconfig') }, WORKER_READY);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await terminate(refused)).toBeLessThan(BOUND_MS);
  }, 180_000);

  it('dev waiting on the migration lock', async () => {
    const name = `flotilla_sd_${randomBytes(5).toString('hex')}`;
    const admin = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const url = withDatabase(TEST_DATABASE_URL!, name);
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    try {
      // Another process is migrating: the lock `migrate()` takes is held.
      await holder`select pg_advisory_lock(7271828)`;
      const dev = await start('dev', { DATABASE_URL: url, FLOTILLA_ENGINES: 'local' }, null);
      await new Promise((r) => setTimeout(r, 3000));
      expect(dev.out()).not.toMatch(/ready/);
      expect(await terminate(dev)).toBeLessThan(BOUND_MS);
    } finally {
      await holder.end();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await admin.end();
    }
  }, 120_000);
});
