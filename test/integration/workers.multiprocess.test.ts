// Real worker processes against real Postgres: what happens when a worker dies, and when
// several workers compete for one queue. Needs TEST_DATABASE_URL (PGlite is one process).
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';
import { startFlotilla, type FlotillaProcess } from '../helpers/processes.js';

if (!TEST_DATABASE_URL) {
  console.warn('workers.multiprocess: skipped — separate worker processes need a shared Postgres; set TEST_DATABASE_URL (CI does).');
}

describe.skipIf(!TEST_DATABASE_URL)('worker processes on real Postgres', () => {
  let t: TestApp;
  let workdir: string;
  const procs: FlotillaProcess[] = [];

  const workerEnv = () => ({
    DATABASE_URL: t.database.url!,
    ...(TEST_REDIS_URL ? { REDIS_URL: TEST_REDIS_URL } : {}),
    FLOTILLA_ENGINE: 'local',
    FLOTILLA_LOCAL_WORKDIR: join(workdir, 'runs'),
    WORKER_SUBMIT_INTERVAL: '200ms',
    WORKER_STATUS_INTERVAL: '300ms',
    WORKER_RETRY_INTERVAL: '300ms',
    WORKER_SWEEP_INTERVAL: '500ms',
    WORKER_LEASE: '2s',
  });

  async function worker(): Promise<FlotillaProcess> {
    const p = await startFlotilla('worker', workerEnv());
    procs.push(p);
    return p;
  }

  beforeAll(async () => {
    t = await createTestApp();
    workdir = mkdtempSync(join(tmpdir(), 'flotilla-mp-'));
    await t.fetch('/api/v6/task', { method: 'POST', json: { alias: 'mp', image: 'none', command: 'true' } });
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(workdir, { recursive: true, force: true });
  });

  async function execute(command: string): Promise<string> {
    const res = await t.fetch('/api/v6/task/alias/mp/execute', { method: 'PUT', json: { run_tags: { owner_id: 'mp' }, command } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { run_id: string }).run_id;
  }

  async function run(id: string): Promise<Record<string, any>> {
    return (await (await t.fetch(`/api/v6/history/${id}`)).json()) as Record<string, any>;
  }

  it('a worker killed with SIGKILL mid-run is replaced and the run still ends correctly, logged once', async () => {
    const first = await worker();
    const id = await execute('echo before; sleep 3; echo after');
    await expect.poll(async () => (await run(id)).status, { timeout: 15_000, interval: 100 }).toBe('RUNNING');
    await expect.poll(async () => ((await (await t.fetch(`/api/v6/${id}/logs`)).json()) as any).log, { timeout: 10_000 }).toContain('before');
    await first.kill('SIGKILL');
    await worker();
    await expect.poll(async () => (await run(id)).status, { timeout: 30_000, interval: 200 }).toBe('STOPPED');
    const final = await run(id);
    expect(final.exit_code).toBe(0);
    await expect.poll(async () => await (await t.fetch(`/api/v6/${id}/logs?raw_text=true`)).text(), { timeout: 15_000, interval: 200 }).toBe('before\nafter\n');
  }, 60_000);

  it('a run whose process died with its worker is retried, not left RUNNING', async () => {
    const first = await worker();
    const id = await execute('sleep 30');
    await expect.poll(async () => (await run(id)).status, { timeout: 15_000, interval: 100 }).toBe('RUNNING');
    const pid = Number(
      String((await t.services.runs.get(id)).engineRef)
        .split(':')
        .pop(),
    );
    await first.kill('SIGKILL');
    process.kill(-pid, 'SIGKILL'); // the machine "rebooted": the job is gone too
    await worker();
    // Lost → NEEDS_RETRY → QUEUED (attempt 2) → RUNNING again on the new worker.
    await expect.poll(async () => (await run(id)).attempt_count, { timeout: 30_000, interval: 200 }).toBe(2);
    await expect.poll(async () => (await run(id)).status, { timeout: 15_000, interval: 200 }).toBe('RUNNING');
    await t.fetch(`/api/v6/task/x/history/${id}`, { method: 'DELETE' });
  }, 60_000);

  it('two workers and 200 queued runs: every run is submitted exactly once', async () => {
    const launches = join(workdir, 'launches');
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(await execute(`echo "$FLOTILLA_RUN_ID" >> ${launches}`));
    await Promise.all([worker(), worker()]);
    await expect
      .poll(
        async () => {
          const res = (await (await t.fetch('/api/v6/history?alias=mp&status=STOPPED&limit=1')).json()) as { total: number };
          return res.total;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBeGreaterThanOrEqual(200);
    const launched = existsSync(launches) ? readFileSync(launches, 'utf8').trim().split('\n') : [];
    const counts = new Map<string, number>();
    for (const l of launched) counts.set(l, (counts.get(l) ?? 0) + 1);
    for (const id of ids) expect(counts.get(id), id).toBe(1);
    expect(launched.length).toBe(200);
  }, 90_000);

  it('`flotilla worker` against the embedded database refuses to start and names DATABASE_URL', async () => {
    await expect(startFlotilla('worker', { FLOTILLA_DATA_DIR: join(workdir, 'embedded') }, 20_000)).rejects.toThrow(/DATABASE_URL/);
  });
});
