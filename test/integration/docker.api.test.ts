// The docker engine end to end: REST in, real containers on a real dockerd, results back out
// through REST. With TEST_DATABASE_URL the workers are a real `flotilla worker` process (so
// it can be killed with SIGKILL); on the embedded database (one process only) the same
// scenarios run with the worker loops in-process. CI starts the daemon:
//   eval "$(scripts/ci/dockerd.sh start)"   → TEST_DOCKER_HOST, TEST_DOCKER_IMAGE
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { connectDocker, type DockerConnection } from '../../src/engines/docker/connection.js';
import { containerName } from '../../src/engines/docker/createBody.js';
import { createEngine } from '../../src/engines/registry.js';
import { silentLogger } from '../../src/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';
import { startFlotilla, type FlotillaProcess } from '../helpers/processes.js';
import { executeRest } from '../helpers/execute.js';
import { record, serveTestApp, wsClient } from '../helpers/live.js';

const HOST = process.env.TEST_DOCKER_HOST || undefined;
const IMAGE = process.env.TEST_DOCKER_IMAGE || 'flotilla-test:latest';
const START = 'eval "$(scripts/ci/dockerd.sh start)"';
const OWNER = 'docker-api-test';
const MAX_ATTEMPTS = 2;
// No registry answers on port 1: the pull fails at once, the same way on every machine.
const MISSING_IMAGE = '127.0.0.1:1/flotilla/does-not-exist:1';

if (!HOST) {
  if (process.env.CI) {
    throw new Error(`TEST_DOCKER_HOST is not set, but CI is: the docker API tests must run in CI. Start the private daemon first: ${START}`);
  }
  console.warn(`docker.api: skipped — TEST_DOCKER_HOST is not set (no Docker daemon to run containers on). To run it: ${START}`);
}

/** What both the API process and the workers are configured with. */
const SHARED_ENV = {
  FLOTILLA_ENGINES: 'docker',
  DOCKER_HOST: HOST ?? '',
  MAX_ATTEMPTS: String(MAX_ATTEMPTS),
  WORKER_LEASE: '2s',
};

/** The worker loops: a `flotilla worker` process on Postgres, in-process on PGlite. */
interface WorkerHandle {
  kind: string;
  start(): Promise<void>;
  /** SIGKILL (process) or an abrupt stop (in-process), then a fresh worker with a new id. */
  crashAndRestart(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

function processWorkers(t: TestApp): WorkerHandle {
  let current: FlotillaProcess | undefined;
  let past = '';
  const env = () => ({
    ...SHARED_ENV,
    DATABASE_URL: t.database.url!,
    ...(TEST_REDIS_URL ? { REDIS_URL: TEST_REDIS_URL } : {}),
    WORKER_SUBMIT_INTERVAL: '200ms',
    WORKER_STATUS_INTERVAL: '300ms',
    WORKER_RETRY_INTERVAL: '300ms',
    WORKER_SWEEP_INTERVAL: '500ms',
  });
  const handle: WorkerHandle = {
    kind: 'a flotilla worker process',
    async start() {
      current ??= await startFlotilla('worker', env());
    },
    async crashAndRestart() {
      await current?.kill('SIGKILL');
      past += current?.output() ?? '';
      current = undefined;
      await handle.start();
    },
    async stop() {
      await current?.kill('SIGTERM');
      past += current?.output() ?? '';
      current = undefined;
    },
    output: () => past + (current?.output() ?? ''),
  };
  return handle;
}

function inProcessWorkers(t: TestApp): WorkerHandle {
  return {
    kind: 'in-process worker loops',
    async start() {
      t.startWorkers();
    },
    async crashAndRestart() {
      // One process cannot SIGKILL itself; stopping the loops drops every lease and
      // follower, and the new loops (new worker id) resume from what is stored.
      await t.stopWorkers();
      t.startWorkers();
    },
    stop: () => t.stopWorkers(),
    output: () => '',
  };
}

describe.skipIf(!HOST)(`docker engine through the REST API (${TEST_DATABASE_URL ? 'worker process, Postgres' : 'in-process workers, PGlite'})`, () => {
  let t: TestApp;
  let workers: WorkerHandle;
  let docker: DockerConnection;

  async function removeOurContainers(): Promise<void> {
    const list = await docker.docker.listContainers({ all: true, filters: { label: [`owner=${OWNER}`] } });
    await Promise.all(
      list.map((c) =>
        docker.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
  }

  beforeAll(async () => {
    docker = connectDocker(HOST);
    await removeOurContainers();
    const env = { ...SHARED_ENV, FLOTILLA_ENGINE: 'docker' };
    // The API's own engine, built the way `flotilla serve` builds it: stop terminates with it.
    const engine = await createEngine('docker', loadConfig({ ...env, FLOTILLA_ENGINE: 'docker' }, 'test'), silentLogger);
    t = await createTestApp(env, { engines: [engine] });
    workers = TEST_DATABASE_URL ? processWorkers(t) : inProcessWorkers(t);
    await workers.start();
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail' && workers.output()) {
      console.error(`worker output:\n${workers.output().split('\n').slice(-60).join('\n')}`);
    }
  });
  afterAll(async () => {
    await workers?.stop();
    await t?.close();
    if (docker) {
      await removeOurContainers();
      docker.close();
    }
  });

  async function define(fields: Record<string, unknown>): Promise<string> {
    const alias = `docker-api-${Math.random().toString(16).slice(2, 10)}`;
    const res = await t.fetch('/api/v6/task', { method: 'POST', json: { alias, group_name: 'docker-api', image: IMAGE, ...fields } });
    expect(res.status, await res.clone().text()).toBe(200);
    return ((await res.json()) as { definition_id: string }).definition_id;
  }

  async function execute(definitionId: string, body: Record<string, unknown> = {}): Promise<string> {
    return (await executeRest(t, definitionId, body, OWNER)).run_id as string;
  }

  async function run(id: string): Promise<Record<string, any>> {
    const res = await t.fetch(`/api/v6/history/${id}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, any>;
  }

  /** What a run went through, for failure messages. */
  async function timeline(id: string): Promise<string> {
    const row = await t.services.runs.get(id);
    const events = await t.services.runs.events(id);
    return JSON.stringify({
      status: row.status,
      exitCode: row.exitCode,
      exitReason: row.exitReason,
      attempt: row.attempt,
      lastError: row.lastError,
      logsComplete: row.logsComplete,
      events: events.map((e) => [e.fromStatus, e.toStatus, e.reason]),
    });
  }

  async function waitFor(id: string, status: string, timeout = 30_000): Promise<Record<string, any>> {
    try {
      await expect.poll(async () => (await run(id)).status, { timeout, interval: 100 }).toBe(status);
    } catch (err) {
      throw new Error(`run ${id} did not reach ${status} with ${workers.kind}: ${await timeline(id)}`, { cause: err });
    }
    return run(id);
  }

  /** Waits until the collector has stored everything the run wrote. */
  async function logsComplete(id: string, timeout = 20_000): Promise<void> {
    try {
      await expect.poll(async () => (await t.services.runs.get(id)).logsComplete, { timeout, interval: 100 }).toBe(true);
    } catch (err) {
      throw new Error(`logs of ${id} were not completed: ${await timeline(id)}`, { cause: err });
    }
  }

  async function restLog(id: string): Promise<string> {
    const res = await t.fetch(`/api/v6/${id}/logs`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { log: string }).log;
  }

  async function containerExists(id: string): Promise<boolean> {
    try {
      await docker.docker.getContainer(containerName(id)).inspect();
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      throw err;
    }
  }

  /** Containers the daemon created for a run since `sinceSeconds`, from its event log. */
  async function createEventsFor(id: string, sinceSeconds: number): Promise<number> {
    // dockerode's types only describe the callback form for options with `until`.
    const getEvents = docker.docker.getEvents as unknown as (opts: object) => Promise<NodeJS.ReadableStream>;
    const stream = await getEvents.call(docker.docker, {
      since: sinceSeconds,
      until: Math.floor(Date.now() / 1000),
      filters: { type: ['container'], event: ['create'], label: [`flotilla-run-id=${id}`] },
    });
    let text = '';
    for await (const data of stream) text += (data as Buffer).toString('utf8');
    return text.split('\n').filter((l) => l.trim() !== '').length;
  }

  it('hello world with the image shell: STOPPED, exit 0, both streams in the log, container released', async () => {
    const def = await define({
      command: 'echo "hello ${USERNAME}"; echo "warning for ${USERNAME}" >&2',
      env: [{ name: 'USERNAME', value: 'flotilla' }],
    });
    const id = await execute(def);
    const final = await waitFor(id, 'STOPPED');
    expect(final).toMatchObject({ exit_code: 0, exit_reason: 'Exited successfully', engine: 'docker', attempt_count: 1 });
    expect(final.started_at).toBeTruthy();
    expect(final.finished_at).toBeTruthy();
    await logsComplete(id);
    const log = await restLog(id);
    expect(log).toContain('hello flotilla\n');
    expect(log).toContain('warning for flotilla\n');
    const chunks = (await t.services.logs.page(id, 0)).chunks;
    expect(
      chunks
        .filter((c) => c.stream === 'stdout')
        .map((c) => c.text)
        .join(''),
    ).toBe('hello flotilla\n');
    expect(
      chunks
        .filter((c) => c.stream === 'stderr')
        .map((c) => c.text)
        .join(''),
    ).toBe('warning for flotilla\n');
    // Finished and collected: the container is released.
    await expect.poll(() => containerExists(id), { timeout: 10_000, interval: 100 }).toBe(false);
  }, 60_000);

  it('a non-zero exit is STOPPED with that exit code', async () => {
    const def = await define({ command: 'echo failing; exit 3' });
    const id = await execute(def);
    const final = await waitFor(id, 'STOPPED');
    expect(final.exit_code).toBe(3);
    expect(final.exit_reason).not.toBe('Exited successfully');
    await logsComplete(id);
    expect(await restLog(id)).toBe('failing\n');
  }, 60_000);

  it('runs that end before their submit is recorded keep their logs', async () => {
    // The daemon's die event can reach the status watch before the submitter records the
    // submit; the run is then STOPPED by the engine, not by a user, and nothing may remove
    // the container before its logs are read.
    const def = await define({ command: 'echo "done $FLOTILLA_RUN_ID"' });
    const ids = await Promise.all(Array.from({ length: 6 }, () => execute(def)));
    for (const id of ids) {
      expect(await waitFor(id, 'STOPPED')).toMatchObject({ exit_code: 0, exit_reason: 'Exited successfully' });
      await logsComplete(id);
      expect(await restLog(id), await timeline(id)).toBe(`done ${id}\n`);
    }
  }, 60_000);

  it('more memory than the limit is 137 OOMKilled', async () => {
    // 16 MB is raised to the 512 MB minimum; tail holds all of /dev/zero's one endless line.
    const def = await define({ command: 'head -c 700m /dev/zero | tail', memory: 16 });
    const id = await execute(def);
    const final = await waitFor(id, 'STOPPED', 60_000);
    expect(final).toMatchObject({ memory: 512, exit_code: 137, exit_reason: 'OOMKilled' });
    // Adaptive resources: the next run of the same command asks for p99 512 MB × 1.75.
    const next = await run(await execute(def));
    expect(next).toMatchObject({ memory: 896, memory_limit: 896 });
    expect(next.resource_reason).toMatch(/^memory 896 MB: 1 OOM-killed run in 3 days, p99 512 MB × 1\.75/);
    await waitFor(next.run_id, 'STOPPED', 60_000);
  }, 150_000);

  it('an image that does not exist is retried, then STOPPED after max attempts with the daemon reason', async () => {
    const def = await define({ image: MISSING_IMAGE, command: 'echo never' });
    const id = await execute(def);
    const final = await waitFor(id, 'STOPPED', 45_000);
    expect(final.attempt_count).toBe(MAX_ATTEMPTS);
    expect(final.exit_reason).toMatch(/^CannotPullContainerError: /);
    // The daemon's own words, naming the registry it could not reach.
    expect(final.exit_reason).toContain('127.0.0.1:1');
    const moves = (await t.services.runs.events(id)).filter((e) => e.toStatus).map((e) => `${e.fromStatus ?? ''}>${e.toStatus}`);
    expect(
      moves.filter((m) => m === 'QUEUED>NEEDS_RETRY'),
      moves.join(' '),
    ).toHaveLength(MAX_ATTEMPTS);
    expect(
      moves.filter((m) => m === 'NEEDS_RETRY>QUEUED'),
      moves.join(' '),
    ).toHaveLength(MAX_ATTEMPTS - 1);
    expect(moves.at(-1)).toBe('NEEDS_RETRY>STOPPED');
    expect(await containerExists(id)).toBe(false);
  }, 60_000);

  it('DELETE stops a running container: STOPPED, exit 1, Task terminated by user, container gone', async () => {
    const def = await define({ command: 'sleep 600' });
    const id = await execute(def);
    await waitFor(id, 'RUNNING');
    expect(await containerExists(id)).toBe(true);
    const res = await t.fetch(`/api/v6/task/${def}/history/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const final = await run(id);
    expect(final).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });
    expect(await containerExists(id)).toBe(false);
    // The container's death, reported afterwards by the daemon, does not overwrite the stop.
    await logsComplete(id);
    expect(await run(id)).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });
  }, 60_000);

  it('a worker killed mid-run and restarted: the run ends, one container, no duplicate log line', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    // Numbered lines until the test drops /tmp/finish into the container, so the run is
    // still going however long the new worker takes to start.
    const def = await define({ command: 'i=1; while [ ! -e /tmp/finish ]; do echo "line $i"; i=$((i+1)); sleep 0.3; done; echo "line $i"' });
    const id = await execute(def);
    await waitFor(id, 'RUNNING');
    await expect.poll(() => restLog(id), { timeout: 15_000, interval: 100 }).toContain('line 2\n');
    await workers.crashAndRestart();
    const highest = (log: string) => Math.max(0, ...[...log.matchAll(/^line (\d+)$/gm)].map((m) => Number(m[1])));
    const atRestart = highest(await restLog(id));
    // The restarted worker takes over the following while the run is still going.
    await expect.poll(async () => highest(await restLog(id)), { timeout: 20_000, interval: 100 }).toBeGreaterThan(atRestart + 2);
    expect((await run(id)).status).toBe('RUNNING');
    const listed = await docker.docker.listContainers({ all: true, filters: { label: [`flotilla-run-id=${id}`] } });
    expect(listed).toHaveLength(1);
    const exec = await docker.docker.getContainer(containerName(id)).exec({ Cmd: ['touch', '/tmp/finish'] });
    await exec.start({ Detach: true });
    const final = await waitFor(id, 'STOPPED');
    expect(final).toMatchObject({ exit_code: 0, exit_reason: 'Exited successfully', attempt_count: 1 });
    await logsComplete(id);
    const log = await restLog(id);
    const count = highest(log);
    expect(count).toBeGreaterThan(atRestart + 2);
    expect(log).toBe(Array.from({ length: count }, (_, i) => `line ${i + 1}\n`).join(''));
    expect(await createEventsFor(id, since)).toBe(1);
  }, 90_000);

  // Output is bytes (see README "A line the database refuses"): none of these may cost the
  // lines around them, in the stored log or live through runLogs.
  it('NUL, invalid UTF-8, a lone CR, a 50 MB line and 1 MB of /dev/urandom: every line around them arrives, live and stored', async () => {
    const served = await serveTestApp(t);
    const client = wsClient(served.wsUrl);
    try {
      const cases: [string, (text: string) => void][] = [
        [`echo before; printf 'a\\000b\\n'; echo after`, (x) => expect(x).toBe('before\na\uFFFDb\nafter\n')],
        [`echo before; printf 'x\\377\\376y\\n'; echo after`, (x) => expect(x).toBe('before\nx\uFFFD\uFFFDy\nafter\n')],
        [`echo before; printf 'progress 10%%\\rprogress 100%%\\n'; echo after`, (x) => expect(x).toBe('before\nprogress 10%\rprogress 100%\nafter\n')],
        [
          `echo before; head -c 50000000 /dev/zero | tr '\\0' x; echo; echo after`,
          (x) => {
            expect(x.startsWith('before\n') && x.endsWith('\nafter\n')).toBe(true);
            expect(x.slice(7, -6).replaceAll('\n', '')).toBe('x'.repeat(50_000_000));
          },
        ],
        [`echo before; head -c 1000000 /dev/urandom; echo; echo after`, (x) => expect(x.startsWith('before\n') && x.endsWith('\nafter\n')).toBe(true)],
      ];
      for (const [command, check] of cases) {
        const id = await execute(await define({ command }));
        const sub = record<{ runLogs: { text: string } }>(client, `subscription($id: ID!) { runLogs(runId: $id) { text } }`, { id });
        await waitFor(id, 'STOPPED', 120_000);
        await logsComplete(id, 120_000);
        await sub.completed;
        const live = sub.payloads.map((p) => p.data!.runLogs.text).join('');
        const stored = await (await t.fetch(`/api/v6/${id}/logs?raw_text=true`)).text();
        check(stored);
        check(live);
        expect(live).toBe(stored);
      }
    } finally {
      await client.dispose();
      await served.close();
    }
  }, 600_000);
});
