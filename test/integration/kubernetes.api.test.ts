// The kubernetes engine through the public API: runs executed over REST, submitted and tracked
// by a worker configured only by environment variables (FLOTILLA_ENGINES=kubernetes, KUBECONFIG)
// against the protocol-level fake API server (test/engines/fakeKube), read back over REST and
// GraphQL. With TEST_DATABASE_URL the worker is a real `flotilla worker` process (SIGKILLed to
// show a restart); on the embedded database (one process) the same scenarios run with the
// worker loops in-process on an engine registry built from the same variables, and a restart
// is a fresh registry (so the engine forgets what it reported, as a new process would).
//
// The worker's reconcile pass runs once at start-up only (WORKER_STATUS_INTERVAL=60s): every
// status below arrives through the engine's watches, including after they drop or expire.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createKubernetesEngine } from '../../src/engines/kubernetes/index.js';
import { createEngine, createEngineRegistry, type EngineDeps } from '../../src/engines/registry.js';
import { silentLogger } from '../../src/logger.js';
import { getCluster } from '../../src/store/clusters.js';
import { newWorkerId } from '../../src/workers/context.js';
import { startWorkers } from '../../src/workers/index.js';
import { makeEngineRun } from '../engines/conformance.js';
import { startFakeKube, writeKubeconfig, type FakeKube } from '../engines/fakeKube/server.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { uniqueAlias } from '../helpers/factories.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';
import { startFlotilla, type FlotillaProcess } from '../helpers/processes.js';
import { executeRest } from '../helpers/execute.js';

type Json = Record<string, any>;

const MAX_ATTEMPTS = 2;
const SECOND_NAMESPACE = 'batch-two';

interface WorkerHandle {
  start(): Promise<void>;
  /** SIGKILL (process) or an abrupt stop (in-process); the next start is a new worker with a new engine. */
  kill(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

describe(`kubernetes engine through the REST API (${TEST_DATABASE_URL ? 'worker process, Postgres' : 'in-process workers, PGlite'})`, () => {
  let fake: FakeKube;
  let second: FakeKube;
  let dir: string;
  let t: TestApp;
  let workers: WorkerHandle;
  let sharedEnv: Record<string, string>;
  let definitionId: string;

  const lookup: EngineDeps = { lookupCluster: (name) => getCluster(t.database.db, name) };

  function processWorkers(): WorkerHandle {
    let current: FlotillaProcess | undefined;
    let past = '';
    const env = () => ({
      ...sharedEnv,
      DATABASE_URL: t.database.url!,
      ...(TEST_REDIS_URL ? { REDIS_URL: TEST_REDIS_URL } : {}),
    });
    return {
      async start() {
        current ??= await startFlotilla('worker', env());
        // The registry built the engine from the variables alone.
        expect(current.output()).toContain('"engines":["kubernetes"]');
      },
      async kill() {
        await current?.kill('SIGKILL');
        past += current?.output() ?? '';
        current = undefined;
      },
      async stop() {
        await current?.kill('SIGTERM');
        past += current?.output() ?? '';
        current = undefined;
      },
      output: () => past + (current?.output() ?? ''),
    };
  }

  function inProcessWorkers(): WorkerHandle {
    let running: { stop(): Promise<void> } | undefined;
    return {
      async start() {
        if (running) return;
        const config = loadConfig({ ...sharedEnv, LOG_LEVEL: 'silent' }, 'worker');
        const engines = await createEngineRegistry(config, silentLogger, { enabled: ['kubernetes'], defaultName: 'kubernetes' }, lookup);
        const loops = startWorkers({
          workerId: newWorkerId(),
          db: t.database.db,
          bus: t.bus,
          config,
          logger: silentLogger,
          updates: t.services.runUpdates,
          engines,
        });
        running = {
          async stop() {
            await loops.stop();
            await engines.close();
          },
        };
      },
      async kill() {
        await running?.stop();
        running = undefined;
      },
      async stop() {
        await running?.stop();
        running = undefined;
      },
      output: () => '',
    };
  }

  beforeAll(async () => {
    fake = await startFakeKube({ stepMs: 30 });
    second = await startFakeKube({ stepMs: 30, namespace: SECOND_NAMESPACE, nodeName: 'ip-10-9-9-9.ec2.internal' });
    dir = mkdtempSync(join(tmpdir(), 'flotilla-k8s-api-'));
    const kubeconfig = join(dir, 'kubeconfig');
    // Two contexts: `fake` (current) and `second-context`, each an API server of its own.
    writeKubeconfig(
      kubeconfig,
      [
        { name: 'fake', server: fake.url },
        { name: 'second-context', server: second.url },
      ],
      'fake',
    );
    sharedEnv = {
      FLOTILLA_ENGINES: 'kubernetes',
      FLOTILLA_ENGINE: 'kubernetes',
      KUBECONFIG: kubeconfig,
      MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      // Pod creation times have whole seconds, so the grace runs from up to 1 s before the pod.
      FLOTILLA_K8S_START_FAILURE_GRACE: '1500ms',
      WORKER_LEASE: '2s',
      WORKER_SUBMIT_INTERVAL: '200ms',
      WORKER_STATUS_INTERVAL: '60s',
      WORKER_RETRY_INTERVAL: '200ms',
      // The timeout sweep would race the engine's own deadline in the DeadlineExceeded test.
      WORKER_SWEEP_INTERVAL: '60s',
    };
    // The API's own engine, built as `flotilla serve` builds it: stop deletes the Job with it.
    const apiEngine = await createEngine('kubernetes', loadConfig(sharedEnv, 'test'), silentLogger, lookup);
    t = await createTestApp(sharedEnv, { engines: [apiEngine] });
    workers = TEST_DATABASE_URL ? processWorkers() : inProcessWorkers();
    await workers.start();
    const res = await t.fetch('/api/v6/task', {
      method: 'POST',
      json: { alias: uniqueAlias('k8s-api'), group_name: 'k8s', image: 'busybox:1.36', command: 'echo hello; echo world', memory: 512, cpu: 256 },
    });
    expect(res.status).toBe(200);
    definitionId = ((await res.json()) as Json).definition_id;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail' && workers.output()) console.error(`worker output:\n${workers.output().slice(-20_000)}`);
  });

  afterAll(async () => {
    await workers?.stop();
    await t?.close();
    await fake?.close();
    await second?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // ---- helpers ----

  async function execute(body: Record<string, unknown> = {}): Promise<string> {
    const json = await executeRest(t, definitionId, body, 'k8s-api');
    expect(json).toMatchObject({ status: 'QUEUED', engine: 'kubernetes' });
    return json.run_id as string;
  }

  const scenario = (name: string) => ({ labels: { 'flotilla-test-scenario': name } });
  const run = async (id: string): Promise<Json> => (await (await t.fetch(`/api/v6/history/${id}`)).json()) as Json;
  const logText = async (id: string): Promise<string> => ((await (await t.fetch(`/api/v6/${id}/logs`)).json()) as Json).log as string;
  const podEvents = async (id: string): Promise<Json[]> =>
    (((await (await t.fetch(`/api/v6/${id}/events`)).json()) as Json).pod_events as Json[]).filter((e) => String(e.source_object).startsWith('pod/'));

  async function until(id: string, status: string, timeout = 20_000): Promise<Json> {
    await expect.poll(async () => (await run(id)).status, { timeout, interval: 100 }).toBe(status);
    return run(id);
  }

  /** STOPPED and the collector has finished the logs. */
  async function finished(id: string, timeout = 20_000): Promise<Json> {
    await until(id, 'STOPPED', timeout);
    await expect.poll(async () => (await t.services.runs.get(id)).logsComplete, { timeout: 15_000, interval: 100 }).toBe(true);
    return run(id);
  }

  async function transitions(id: string): Promise<string[]> {
    return (await t.services.runs.events(id)).filter((e) => e.kind === 'status').map((e) => `${e.toStatus}`);
  }

  /** A run that went straight through. A command that ends within one watch turn may never be seen RUNNING. */
  async function wentStraightThrough(id: string): Promise<void> {
    expect(['QUEUED PENDING RUNNING STOPPED', 'QUEUED PENDING STOPPED']).toContain((await transitions(id)).join(' '));
    expect((await run(id)).started_at).toEqual(expect.any(String));
  }

  // ---- conformance behaviours, end to end ----

  it('hello world → STOPPED 0 "Pod <pod> Exited Successfully", logs once each, pod events in the timeline (REST and GraphQL)', async () => {
    const id = await execute();
    const done = await finished(id);
    const pod = fake.podsOf(id)[0]?.metadata.name ?? done.pod_name;
    expect(done).toMatchObject({
      status: 'STOPPED',
      exit_code: 0,
      exit_reason: `Pod ${pod} Exited Successfully`,
      pod_name: pod,
      namespace: 'flotilla',
      cluster: 'default',
      instance: { dns_name: 'ip-10-0-0-1.ec2.internal' },
      attempt_count: 1,
    });
    expect(await logText(id)).toBe('hello\nworld\n');
    await wentStraightThrough(id);

    // The event watch may lag the Job and pod watches: events can land after STOPPED.
    await expect
      .poll(async () => (await podEvents(id)).map((e) => e.reason), { timeout: 10_000 })
      .toEqual(['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']);
    const [scheduled] = await podEvents(id);
    expect(scheduled).toMatchObject({
      event_type: 'Normal',
      source_object: `pod/${pod}`,
      message: `Successfully assigned flotilla/${pod} to ip-10-0-0-1.ec2.internal`,
    });

    const gql = await t.gql(`query($id: ID!) { run(id: $id) { status exitCode events { kind reason detail } } }`, { id });
    expect(gql.errors).toBeUndefined();
    const engineEvents = gql.data.run.events.filter((e: Json) => e.kind === 'ENGINE');
    expect(engineEvents.map((e: Json) => e.reason)).toEqual(['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']);
    expect(engineEvents[0].detail).toMatchObject({ event_type: 'Normal', source_object: `pod/${pod}` });
  });

  it('a NUL and a lone CR in the output: every line around them arrives, the NUL stored as U+FFFD', async () => {
    // The fake plays text (a pod log of real bytes that are not UTF-8 decodes to U+FFFD in
    // the engine's reader, as on the local and docker engines).
    const id = await execute({ command: `echo before; printf 'a\\000b\\n'; printf 'progress 10%%\\rprogress 100%%\\n'; echo after` });
    await finished(id);
    expect(await logText(id)).toBe('before\na\uFFFDb\nprogress 10%\rprogress 100%\nafter\n');
  });

  it('a failing command → STOPPED with its exit code and the container reason', async () => {
    const id = await execute({ command: 'echo oops; exit 3' });
    expect(await finished(id)).toMatchObject({ status: 'STOPPED', exit_code: 3, exit_reason: 'Error' });
    expect(await logText(id)).toBe('oops\n');
  });

  it('stop → the Job is deleted with propagationPolicy=Background; STOPPED 1 "Task terminated by user"', async () => {
    const id = await execute({ command: 'echo started; sleep 600' });
    await until(id, 'RUNNING');
    await expect.poll(() => logText(id), { timeout: 10_000 }).toBe('started\n');
    fake.resetCounts();
    const res = await t.fetch(`/api/v6/task/${definitionId}/history/${id}`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ terminated: true });
    expect(await finished(id)).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });
    expect(fake.job(id)).toBeUndefined();
    expect(fake.queries('deleteJob').map((q) => q.get('propagationPolicy'))).toEqual(['Background']);
    await expect.poll(() => fake.podsOf(id).length, { timeout: 5000 }).toBe(0);
    // The pod's dying exit (143) does not overwrite the user's stop.
    expect(await run(id)).toMatchObject({ exit_code: 1, exit_reason: 'Task terminated by user' });
    expect(await logText(id)).toBe('started\n');
  });

  // ---- scripted scenarios ----

  it('OOMKilled → STOPPED 137 OOMKilled, with the output it printed', async () => {
    const id = await execute({ command: 'echo allocating', ...scenario('oom-killed') });
    expect(await finished(id)).toMatchObject({ status: 'STOPPED', exit_code: 137, exit_reason: 'OOMKilled' });
    expect(await logText(id)).toBe('allocating\n');
  });

  it('ImagePullBackOff → NEEDS_RETRY (Job deleted) → retried → STOPPED after MAX_ATTEMPTS with the pull reason', async () => {
    const id = await execute({ command: 'echo never', ...scenario('image-pull-backoff') });
    const done = await until(id, 'STOPPED', 30_000);
    expect(done.attempt_count).toBe(MAX_ATTEMPTS);
    expect(done.exit_reason).toMatch(/^(ErrImagePull|ImagePullBackOff): /);
    expect(done.exit_code).toBeUndefined();
    const moves = await transitions(id);
    expect(moves.filter((s) => s === 'NEEDS_RETRY')).toHaveLength(MAX_ATTEMPTS);
    expect(moves.filter((s) => s === 'PENDING')).toHaveLength(MAX_ATTEMPTS);
    // The retry deleted the stuck Job before launching again; nothing is left running.
    await expect.poll(() => fake.job(id), { timeout: 5000 }).toBeUndefined();
    // Each attempt's pull failure is in the timeline, from its own pod (the grace period lets
    // the events be read before the Job goes; events of a pod whose Job is gone are not reported).
    await expect.poll(async () => (await podEvents(id)).filter((e) => e.reason === 'Failed').length, { timeout: 10_000 }).toBe(MAX_ATTEMPTS);
    const failed = (await podEvents(id)).filter((e) => e.reason === 'Failed');
    expect(new Set(failed.map((e) => e.source_object)).size).toBe(MAX_ATTEMPTS);
    expect(failed[0]!.message).toMatch(/^Failed to pull image "busybox:1.36"/);
    expect(await logText(id)).toBe('');
  });

  it('DeadlineExceeded → STOPPED 124 with the Job controller message', async () => {
    const id = await execute({ command: 'echo working; sleep 600', active_deadline_seconds: 1 });
    expect(await finished(id)).toMatchObject({ status: 'STOPPED', exit_code: 124, exit_reason: 'Job was active longer than specified deadline' });
    expect(await logText(id)).toBe('working\n');
  });

  it('eviction → NEEDS_RETRY with the eviction reason, retried until MAX_ATTEMPTS', async () => {
    const id = await execute({ command: 'echo working', ...scenario('evicted') });
    const done = await until(id, 'STOPPED', 30_000);
    expect(done.exit_reason).toMatch(/^Evicted: The node was low on resource: memory/);
    expect(done.attempt_count).toBe(MAX_ATTEMPTS);
    const retries = (await t.services.runs.events(id)).filter((e) => e.kind === 'status' && e.toStatus === 'NEEDS_RETRY');
    expect(retries).toHaveLength(MAX_ATTEMPTS);
    expect(retries[0]!.reason).toMatch(/^Evicted: /);
  });

  it('pod deleted before its logs were read (worker down meanwhile) → STOPPED 0; the logs read so far are kept; pod events are not repeated after the restart', async () => {
    const id = await execute({ command: 'echo first; sleep 3; echo second', ...scenario('pod-deleted') });
    await expect.poll(() => logText(id), { timeout: 15_000, interval: 50 }).toBe('first\n');
    await expect
      .poll(async () => (await podEvents(id)).map((e) => e.reason), { timeout: 10_000 })
      .toEqual(['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']);
    const before = await podEvents(id);
    const podName = (await run(id)).pod_name;

    await workers.kill();
    // Meanwhile the command ends, the Job completes and the pod (with its log) is deleted.
    await expect.poll(() => (fake.job(id)?.status as Json | undefined)?.succeeded, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => fake.podsOf(id).length, { timeout: 5000 }).toBe(0);
    await workers.start();

    const done = await finished(id, 30_000);
    expect(done).toMatchObject({ status: 'STOPPED', exit_code: 0, exit_reason: `Pod ${podName} Exited Successfully`, pod_name: podName });
    expect(await logText(id)).toBe('first\n');
    // The new worker's engine saw every pod event again (a fresh watch and list); none is stored twice.
    await new Promise((r) => setTimeout(r, 500));
    expect(await podEvents(id)).toEqual(before);
    const gql = await t.gql(`query($id: ID!) { run(id: $id) { events { kind reason } } }`, { id });
    expect(gql.data.run.events.filter((e: Json) => e.kind === 'ENGINE').map((e: Json) => e.reason)).toEqual([
      'Scheduled',
      'Pulling',
      'Pulled',
      'Created',
      'Started',
    ]);
  });

  it('the same engine event reported twice is stored once', async () => {
    const id = await execute({ command: 'echo once' });
    await finished(id);
    const event = { at: new Date('2026-01-02T03:04:05Z'), eventType: 'Warning', reason: 'Replayed', message: 'seen by two workers', sourceObject: 'pod/x' };
    await t.services.runUpdates.recordEngineEvents(id, [event]);
    await t.services.runUpdates.recordEngineEvents(id, [event, { ...event, message: 'a different event' }]);
    const replayed = (await podEvents(id)).filter((e) => e.reason === 'Replayed');
    expect(replayed.map((e) => e.message)).toEqual(['seen by two workers', 'a different event']);
  });

  // ---- API faults ----

  it('watches that drop and answer 410 while runs are active: statuses still arrive (no reconcile pass runs meanwhile)', async () => {
    const ids = await Promise.all([1, 2, 3].map((n) => execute({ command: `echo run ${n}; sleep 2; echo done ${n}` })));
    for (const id of ids) await until(id, 'RUNNING');
    const watchesBefore = fake.counts().watchJobs ?? 0;
    fake.dropWatches();
    await expect.poll(() => fake.openWatches(), { timeout: 10_000, interval: 50 }).toEqual({ watchJobs: 1, watchPods: 1, watchEvents: 1 });
    // Every resourceVersion the watches hold is now too old: they must list afresh.
    fake.store.compact();
    fake.expireWatches();
    await expect.poll(() => fake.openWatches(), { timeout: 10_000, interval: 50 }).toEqual({ watchJobs: 1, watchPods: 1, watchEvents: 1 });
    expect(fake.counts().watchJobs ?? 0).toBeGreaterThanOrEqual(watchesBefore + 2);
    for (const [i, id] of ids.entries()) {
      expect(await finished(id)).toMatchObject({ status: 'STOPPED', exit_code: 0 });
      expect(await logText(id)).toBe(`run ${i + 1}\ndone ${i + 1}\n`);
      await expect
        .poll(async () => (await podEvents(id)).map((e) => e.reason), { timeout: 10_000 })
        .toEqual(['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']);
    }
  });

  it('429 then 500 on create → the submit is retried and the Job launched exactly once', async () => {
    fake.resetCounts();
    fake.failNext('createJob', { status: 429 });
    fake.failNext('createJob', { status: 500 });
    const id = await execute({ command: 'echo launched' });
    const done = await finished(id, 30_000);
    expect(done).toMatchObject({ status: 'STOPPED', exit_code: 0, attempt_count: 1 });
    expect(fake.counts().createJob).toBe(3);
    expect(fake.podsOf(id)).toHaveLength(1);
    expect(await logText(id)).toBe('launched\n');
    await wentStraightThrough(id);
  });

  // ---- clusters ----

  it('routes to a second registered cluster (another kubeconfig context and namespace) by `cluster`, and by target_cluster', async () => {
    const reg = await t.fetch('/api/v6/clusters', {
      method: 'POST',
      json: { name: 'second', engine: 'kubernetes', namespace: SECOND_NAMESPACE, config: { context: 'second-context' } },
    });
    expect(reg.status).toBe(200);
    fake.resetCounts();

    const id = await execute({ cluster: 'second', command: 'echo on the second cluster' });
    const done = await finished(id);
    const pod = second.podsOf(id)[0]?.metadata.name ?? done.pod_name;
    expect(done).toMatchObject({
      status: 'STOPPED',
      exit_code: 0,
      exit_reason: `Pod ${pod} Exited Successfully`,
      cluster: 'second',
      namespace: SECOND_NAMESPACE,
      instance: { dns_name: 'ip-10-9-9-9.ec2.internal' },
    });
    expect(second.job(id)).toBeDefined();
    expect(fake.counts().createJob ?? 0).toBe(0);
    expect(await logText(id)).toBe('on the second cluster\n');
    await expect
      .poll(async () => (await podEvents(id)).map((e) => e.reason), { timeout: 10_000 })
      .toEqual(['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']);

    // A definition that targets the cluster goes there without naming it; stop reaches it too.
    const def = await t.fetch('/api/v6/task', {
      method: 'POST',
      json: { alias: uniqueAlias('k8s-second'), image: 'busybox:1.36', command: 'sleep 600', target_cluster: 'second' },
    });
    const targeted = ((await def.json()) as Json).definition_id as string;
    const res = await t.fetch(`/api/v6/task/${targeted}/execute`, { method: 'PUT', json: { run_tags: { owner_id: 'k8s-api' } } });
    const long = ((await res.json()) as Json).run_id as string;
    await until(long, 'RUNNING');
    expect(second.job(long)).toBeDefined();
    await t.fetch(`/api/v6/task/${targeted}/history/${long}`, { method: 'DELETE' });
    expect(await finished(long)).toMatchObject({ exit_code: 1, exit_reason: 'Task terminated by user', cluster: 'second' });
    expect(second.job(long)).toBeUndefined();

    // In maintenance it takes no new runs.
    await t.fetch('/api/v6/clusters/second', { method: 'PUT', json: { status: 'maintenance' } });
    const refused = await t.fetch(`/api/v6/task/${definitionId}/execute`, { method: 'PUT', json: { run_tags: { owner_id: 'k8s-api' }, cluster: 'second' } });
    expect(refused.status).toBe(409);
  });
});

describe('kubernetes engine: clusters from the registry lookup', () => {
  let one: FakeKube;
  let two: FakeKube;
  let dir: string;
  beforeAll(async () => {
    one = await startFakeKube({ stepMs: 5 });
    two = await startFakeKube({ stepMs: 5 });
    dir = mkdtempSync(join(tmpdir(), 'flotilla-k8s-lookup-'));
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a registered name is looked up; a changed context is picked up after the refresh interval; a failing registry keeps what works', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    writeKubeconfig(
      kubeconfig,
      [
        { name: 'one', server: one.url },
        { name: 'two', server: two.url },
      ],
      'one',
    );
    let answer: { context?: string } | undefined = { context: 'two' };
    let failing = false;
    let asked = 0;
    const engine = createKubernetesEngine({
      kubeconfig,
      clusterRefreshMs: 1000,
      lookupCluster: async (name) => {
        asked += 1;
        if (failing) throw new Error('database down');
        return name === 'moving' ? answer : undefined;
      },
    });
    try {
      const first = makeEngineRun('kubernetes', { clusterName: 'moving', command: 'echo one' });
      await Promise.all([engine.submit(first), engine.reconcile([first])]);
      expect(two.job(first.runId)).toBeDefined();
      expect(one.job(first.runId)).toBeUndefined();
      // Two calls at once asked the registry once.
      expect(asked).toBe(1);

      answer = { context: 'one' };
      const cached = makeEngineRun('kubernetes', { clusterName: 'moving', command: 'echo cached' });
      await engine.submit(cached);
      expect(two.job(cached.runId)).toBeDefined();

      await new Promise((r) => setTimeout(r, 1100));
      const moved = makeEngineRun('kubernetes', { clusterName: 'moving', command: 'echo moved' });
      await engine.submit(moved);
      expect(one.job(moved.runId)).toBeDefined();

      failing = true;
      await new Promise((r) => setTimeout(r, 1100));
      const during = makeEngineRun('kubernetes', { clusterName: 'moving', command: 'echo during' });
      await engine.submit(during);
      expect(one.job(during.runId)).toBeDefined();
      // A name the engine has never seen cannot be resolved while the registry fails: try later.
      await expect(engine.submit(makeEngineRun('kubernetes', { clusterName: 'unseen' }))).rejects.toMatchObject({ code: 'RETRYABLE_ENGINE' });
      failing = false;
      // Not registered and no such context: permanent.
      await expect(engine.submit(makeEngineRun('kubernetes', { clusterName: 'unseen' }))).rejects.toMatchObject({ code: 'PERMANENT_ENGINE' });
      expect((await engine.describe()).clusters).toEqual(['default', 'moving']);
    } finally {
      await engine.close();
    }
  });
});
