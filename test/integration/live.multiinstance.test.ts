// Issue 4's guarantees across processes: two `flotilla serve` instances and one
// `flotilla worker` on real Postgres and a private Redis. A subscriber on instance A follows a
// run executed through instance B; late joiners see the same sequence; Redis can die and
// come back mid-run; the CLI follower exits with the run's exit code.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DATABASE_URL } from '../helpers/env.js';
import { startFlotilla, type FlotillaProcess } from '../helpers/processes.js';
import { freePort, haveRedisServer, startRedis } from '../helpers/services.js';

if (!TEST_DATABASE_URL || !haveRedisServer) {
  console.warn('live.multiinstance: skipped — needs TEST_DATABASE_URL (several processes share one Postgres) and redis-server on PATH; CI provides both.');
}

const LINES = 20_000;
const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

interface Follower {
  lines: string[];
  done: Promise<void>;
}

function wsUrl(base: string) {
  return base.replace(/^http/, 'ws') + '/graphql';
}

function followLogs(base: string, runId: string): Follower {
  const client = createClient({ url: wsUrl(base), webSocketImpl: WebSocket, retryAttempts: 0 });
  const lines: string[] = [];
  const done = (async () => {
    try {
      for await (const r of client.iterate<{ runLogs: { text: string } }>({
        query: 'subscription ($id: ID!) { runLogs(runId: $id) { seq text } }',
        variables: { id: runId },
      })) {
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        lines.push(...r.data!.runLogs.text.split('\n').filter(Boolean));
      }
    } finally {
      await client.dispose();
    }
  })();
  return { lines, done };
}

function followStatus(base: string, runId: string): { statuses: string[]; done: Promise<void> } {
  const client = createClient({ url: wsUrl(base), webSocketImpl: WebSocket, retryAttempts: 0 });
  const statuses: string[] = [];
  const done = (async () => {
    try {
      for await (const r of client.iterate<{ runStatus: { status: string } }>({
        query: 'subscription ($id: ID!) { runStatus(runId: $id) { status exitCode } }',
        variables: { id: runId },
      })) {
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        statuses.push(r.data!.runStatus.status);
      }
    } finally {
      await client.dispose();
    }
  })();
  return { statuses, done };
}

describe.skipIf(!TEST_DATABASE_URL || !haveRedisServer)('live across instances (2 serve + 1 worker, Postgres + Redis)', () => {
  let t: TestApp;
  let redisPort: number;
  let redis: ChildProcess;
  let a: FlotillaProcess;
  let b: FlotillaProcess;
  let worker: FlotillaProcess;
  let workdir: string;

  beforeAll(async () => {
    t = await createTestApp();
    workdir = mkdtempSync(join(tmpdir(), 'flotilla-live-'));
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    const env = {
      DATABASE_URL: t.database.url!,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      FLOTILLA_ENGINE: 'local',
      FLOTILLA_LOCAL_WORKDIR: workdir,
      WORKER_SUBMIT_INTERVAL: '200ms',
      WORKER_STATUS_INTERVAL: '500ms',
      LOG_LEVEL: 'info',
    };
    [a, b, worker] = await Promise.all([startFlotilla('serve', env), startFlotilla('serve', env), startFlotilla('worker', env)]);
    const slow = `for i in $(seq 1 ${LINES}); do echo "line $i"; if [ $((i % 500)) -eq 0 ]; then sleep 0.1; fi; done`;
    for (const [alias, command] of [
      ['numbers', slow],
      ['numbers-slower', `for i in $(seq 1 3000); do echo "line $i"; if [ $((i % 100)) -eq 0 ]; then sleep 0.2; fi; done`],
      ['exit-four', 'echo hi; echo oops >&2; exit 4'],
    ]) {
      const res = await fetch(`${b.url}/api/v6/task`, { method: 'POST', body: JSON.stringify({ alias, image: 'none', command }) });
      expect(res.status).toBe(200);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([a?.kill(), b?.kill(), worker?.kill()]);
    redis?.kill('SIGKILL');
    await t?.close();
    rmSync(workdir, { recursive: true, force: true });
  });

  async function execute(alias: string): Promise<string> {
    const res = await fetch(`${b.url}/api/v6/task/alias/${alias}/execute`, { method: 'PUT', body: JSON.stringify({ run_tags: { owner_id: 'live' } }) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { run_id: string }).run_id;
  }

  it('a subscriber on A gets every line, in order, of a run executed through B; late joiners get the same', async () => {
    const runId = await execute('numbers');
    const first = followLogs(a.url!, runId);
    const status = followStatus(a.url!, runId);
    await expect.poll(() => first.lines.length, { timeout: 60_000, interval: 50 }).toBeGreaterThan(LINES / 2);
    const halfway = followLogs(b.url!, runId);
    await Promise.all([first.done, halfway.done, status.done]);
    const after = followLogs(a.url!, runId);
    await after.done;
    const expected = numbered(LINES);
    expect(first.lines).toEqual(expected);
    expect(halfway.lines).toEqual(expected);
    expect(after.lines).toEqual(expected);
    expect(status.statuses[status.statuses.length - 1]).toBe('STOPPED');
    expect(status.statuses).toContain('RUNNING');
  }, 120_000);

  it('killing Redis mid-run and starting it again loses no line for a connected subscriber', async () => {
    const runId = await execute('numbers-slower');
    const follower = followLogs(a.url!, runId);
    await expect.poll(() => follower.lines.length, { timeout: 30_000, interval: 50 }).toBeGreaterThan(300);
    redis.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    redis = await startRedis(redisPort);
    await follower.done;
    expect(follower.lines).toEqual(numbered(3000));
  }, 120_000);

  it('`flotilla run --follow` streams the output and exits with the run exit code', async () => {
    const bin = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'run', 'exit-four', '--owner', 'cli', '--follow', '--url', a.url!], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, err).toBe(4);
    expect(out).toBe('hi\n');
    expect(err).toContain('oops\n');
    expect(err).toMatch(/STOPPED exit 4/);
  }, 60_000);
});
