// The kubernetes engine against the protocol-level fake API server (test/engines/fakeKube):
// the shared conformance suite, every scripted pod lifecycle, API faults, watch recovery,
// and the counted-requests proof that status tracking costs O(clusters), not O(runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentEngineError, RetryableEngineError } from '../../src/errors.js';
import { createKubernetesEngine, type KubernetesEngineConfig } from '../../src/engines/kubernetes/index.js';
import { buildJobManifest } from '../../src/engines/kubernetes/jobManifest.js';
import { createLineFilter, normalizeTimestamp, parseCursor } from '../../src/engines/kubernetes/logs.js';
import { createTokenBucket } from '../../src/engines/kubernetes/rateLimit.js';
import { mapRunState } from '../../src/engines/kubernetes/status.js';
import type { Engine, EngineRun, MissingRun, StatusUpdate } from '../../src/engines/types.js';
import { collectLogs, engineConformance, makeEngineRun, waitForEnd } from './conformance.js';
import { startFakeKube, writeKubeconfig, type FakeKube } from './fakeKube/server.js';
import type { KubeObject } from './fakeKube/store.js';

const FAST: KubernetesEngineConfig = { qps: 10_000, burst: 10_000, startFailureGraceMs: 0, watchRestartDelayMs: 20, logPollMs: 20 };

function engineFor(fake: FakeKube, extra: KubernetesEngineConfig = {}): Engine {
  return createKubernetesEngine({ kubeconfig: fake.kubeconfigPath, ...FAST, ...extra });
}

async function launch(engine: Engine, command: string | null, extra: Partial<EngineRun> = {}): Promise<EngineRun> {
  const run = makeEngineRun('kubernetes', { command, image: 'busybox:1.36', ...extra });
  const submitted = await engine.submit(run);
  run.engineRef = submitted.engineRef;
  run.namespace = submitted.namespace ?? null;
  run.status = submitted.status;
  return run;
}

const scenario = (name: string): Partial<EngineRun> => ({ labels: { 'flotilla-test-scenario': name } });

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const isUpdate = (u: StatusUpdate | MissingRun | undefined): u is StatusUpdate => !!u && !('missing' in u);

// ---------------------------------------------------------------------------------------------

let conformanceFake: FakeKube;
engineConformance('kubernetes', {
  async setup() {
    conformanceFake = await startFakeKube({ stepMs: 5 });
    return engineFor(conformanceFake);
  },
  teardown: () => conformanceFake.close(),
  image: 'busybox:1.36',
  timeoutMs: 10_000,
});

describe('kubernetes engine: scripted pod lifecycles', () => {
  let fake: FakeKube;
  let engine: Engine;
  beforeAll(async () => {
    fake = await startFakeKube({ stepMs: 5 });
    engine = engineFor(fake);
  });
  afterAll(async () => {
    await engine.close();
    await fake.close();
  });

  it('success: STOPPED 0 "Pod <pod> Exited Successfully", with the pod, node and pod events', async () => {
    const run = await launch(engine, 'echo hello; echo world');
    const events: string[] = [];
    const end = await until(async () => {
      const [u] = await engine.reconcile([run]);
      if (!isUpdate(u)) return undefined;
      events.push(...(u.events ?? []).map((e) => e.reason));
      return u.status === 'STOPPED' ? u : undefined;
    }, 'STOPPED');
    const pod = fake.podsOf(run.runId)[0]!.metadata.name;
    expect(end).toMatchObject({
      status: 'STOPPED',
      exitCode: 0,
      exitReason: `Pod ${pod} Exited Successfully`,
      podName: pod,
      instance: { dnsName: 'ip-10-0-0-1.ec2.internal' },
    });
    expect(end.startedAt).toBeInstanceOf(Date);
    expect(end.finishedAt).toBeInstanceOf(Date);
    // Every pod event reaches the timeline once, however many reconciles saw it.
    const [again] = await engine.reconcile([run]);
    if (isUpdate(again)) events.push(...(again.events ?? []).map((e) => e.reason));
    expect(events).toEqual(['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']);
  });

  it('failure: the container exit code and reason', async () => {
    const run = await launch(engine, 'echo oops; exit 3');
    expect(await waitForEnd(engine, run, 5000)).toMatchObject({ status: 'STOPPED', exitCode: 3, exitReason: 'Error' });
  });

  it('OOMKilled → 137 OOMKilled', async () => {
    const run = await launch(engine, 'echo allocating', scenario('oom-killed'));
    expect(await waitForEnd(engine, run, 5000)).toMatchObject({ status: 'STOPPED', exitCode: 137, exitReason: 'OOMKilled' });
  });

  it('ImagePullBackOff → NEEDS_RETRY with the backend reason, after the Job is deleted', async () => {
    const run = await launch(engine, 'echo never', scenario('image-pull-backoff'));
    const end = await waitForEnd(engine, run, 5000);
    expect(end.status).toBe('NEEDS_RETRY');
    expect(end.exitReason).toMatch(/^(ErrImagePull|ImagePullBackOff): /);
    expect(fake.job(run.runId)).toBeUndefined();
    // The retry (next attempt) can create the Job again under the same name.
    const retry = { ...run, attempt: 2 };
    await expect(engine.submit(retry)).resolves.toMatchObject({ engineRef: run.runId, status: 'PENDING' });
    await engine.terminate(retry, 'cleanup');
  });

  it('the pod of an earlier attempt, still being deleted, does not speak for the new attempt', async () => {
    const slow = await startFakeKube({ stepMs: 100 });
    const slowEngine = engineFor(slow);
    try {
      const run = await launch(slowEngine, 'echo working', scenario('evicted'));
      expect(await waitForEnd(slowEngine, run, 5000)).toMatchObject({ status: 'NEEDS_RETRY' });
      expect(slow.podsOf(run.runId)).toHaveLength(1); // the evicted pod lingers for a moment
      const retry = await launch(slowEngine, 'echo working', { ...run, attempt: 2, labels: {} });
      const [u] = await slowEngine.reconcile([retry]);
      expect(u).toMatchObject({ status: 'PENDING' });
      expect(slow.job(run.runId)).toBeDefined();
    } finally {
      await slowEngine.close();
      await slow.close();
    }
  });

  it('CreateContainerConfigError → NEEDS_RETRY', async () => {
    const run = await launch(engine, 'echo never', scenario('create-container-config-error'));
    expect(await waitForEnd(engine, run, 5000)).toMatchObject({ status: 'NEEDS_RETRY', exitReason: 'CreateContainerConfigError: secret "missing" not found' });
  });

  it('a start failure inside its grace period stays PENDING', async () => {
    const patient = engineFor(fake, { startFailureGraceMs: 60_000 });
    try {
      const run = await launch(patient, 'echo never', scenario('image-pull-backoff'));
      await until(
        () => fake.podsOf(run.runId)[0]?.status && JSON.stringify(fake.podsOf(run.runId)[0]!.status).includes('ImagePullBackOff'),
        'ImagePullBackOff',
      );
      const [u] = await patient.reconcile([run]);
      expect(u).toMatchObject({ status: 'PENDING' });
      expect(fake.job(run.runId)).toBeDefined();
      await patient.terminate(run, 'cleanup');
    } finally {
      await patient.close();
    }
  });

  it('DeadlineExceeded → 124 with the API message', async () => {
    const run = await launch(engine, 'sleep 600', { activeDeadlineSeconds: 1 });
    expect(await waitForEnd(engine, run, 5000)).toMatchObject({
      status: 'STOPPED',
      exitCode: 124,
      exitReason: 'Job was active longer than specified deadline',
    });
  });

  it('eviction → NEEDS_RETRY with the eviction message, after the Job is deleted', async () => {
    const run = await launch(engine, 'echo working', scenario('evicted'));
    const end = await waitForEnd(engine, run, 5000);
    expect(end.status).toBe('NEEDS_RETRY');
    expect(end.exitReason).toMatch(/^Evicted: The node was low on resource: memory/);
    expect(fake.job(run.runId)).toBeUndefined();
  });

  it('a pod lost with its node → NEEDS_RETRY', async () => {
    const run = await launch(engine, 'echo working', scenario('node-lost'));
    const end = await waitForEnd(engine, run, 5000);
    expect(end.status).toBe('NEEDS_RETRY');
    expect(end.exitReason).toMatch(/BackoffLimitExceeded/);
  });

  it('a pod deleted before its logs were read: STOPPED from the Job, and logs end instead of hanging', async () => {
    const run = await launch(engine, 'echo lost line', scenario('pod-deleted'));
    await until(
      () => fake.job(run.runId)?.status && (fake.job(run.runId)!.status as { succeeded?: number }).succeeded === 1 && fake.podsOf(run.runId).length === 0,
      'pod deletion',
    );
    expect(await waitForEnd(engine, run, 5000)).toMatchObject({ status: 'STOPPED', exitCode: 0 });
    const started = Date.now();
    expect(await collectLogs(engine, run)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('terminate deletes the Job in the background; a missing Job is reported as missing; terminating twice is fine', async () => {
    const run = await launch(engine, 'sleep 600');
    fake.resetCounts();
    await engine.terminate(run, 'Task terminated by user');
    await engine.terminate(run, 'Task terminated by user');
    expect(fake.queries('deleteJob').map((q) => q.get('propagationPolicy'))).toEqual(['Background', 'Background']);
    expect(await engine.reconcile([run])).toEqual([{ runId: run.runId, missing: true }]);
    expect(fake.queries('listJobs')[0]!.get('labelSelector')).toBe('flotilla-run-id');
    expect(fake.queries('listPods')[0]!.get('labelSelector')).toBe('flotilla-run-id');
    expect(fake.queries('listEvents')[0]!.get('fieldSelector')).toBe('involvedObject.kind=Pod');
  });

  it('follows a live log to the end of the command', async () => {
    const run = await launch(engine, 'echo first; sleep 0.3; echo second; sleep 0.2; echo third');
    const chunks = await collectLogs(engine, run);
    expect(chunks.map((c) => c.text).join('')).toBe('first\nsecond\nthird\n');
    expect(chunks.length).toBeGreaterThanOrEqual(2);
  });

  it('resumes a cut log stream inside one timestamp without repeating or losing a line', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`);
    const run = await launch(engine, 'for i in $(seq 1 50); do echo "line $i"; done');
    await waitForEnd(engine, run, 5000);
    // All 50 lines share one timestamp; the stream is cut after 7 and after 20 lines.
    fake.cutLogStreams(7);
    const first = await collectLogs(engine, run, null, 1);
    expect(first[0]!.text).toBe(
      lines
        .slice(0, 7)
        .map((l) => l + '\n')
        .join(''),
    );
    expect(first[0]!.cursor).toMatch(/ 7$/);
    fake.cutLogStreams(20);
    fake.resetCounts();
    const rest = await collectLogs(engine, run, first[0]!.cursor);
    expect([...first, ...rest].map((c) => c.text).join('')).toBe(lines.map((l) => l + '\n').join(''));
    const resumed = fake.queries('podLog')[0]!;
    expect(Object.fromEntries(resumed)).toEqual({ container: 'main', follow: 'true', timestamps: 'true', sinceTime: first[0]!.cursor.slice(0, 19) + 'Z' });
  });

  it('routes runs to clusters by name (kubeconfig context per cluster)', async () => {
    const other = await startFakeKube({ stepMs: 5 });
    const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
    const path = join(dir, 'kubeconfig');
    writeKubeconfig(
      path,
      [
        { name: 'ctx-a', server: fake.url },
        { name: 'ctx-b', server: other.url },
        { name: 'gpu-cluster', server: other.url },
      ],
      'ctx-a',
    );
    const multi = createKubernetesEngine({
      kubeconfig: path,
      ...FAST,
      clusters: { default: { context: 'ctx-a' }, batch: { context: 'ctx-b', namespace: 'batch' } },
    });
    try {
      const onB = await launch(multi, 'echo b', { clusterName: 'batch' });
      expect(onB.namespace).toBe('batch');
      expect(other.store.get('Job', 'batch', onB.runId)).toBeDefined();
      expect(fake.job(onB.runId)).toBeUndefined();
      const onDefault = await launch(multi, 'echo a', { clusterName: 'default' });
      expect(fake.job(onDefault.runId)).toBeDefined();
      // Not configured, but the kubeconfig has a context of that name.
      const byContext = await launch(multi, 'echo gpu', { clusterName: 'gpu-cluster' });
      expect(other.store.get('Job', 'flotilla', byContext.runId)).toBeDefined();
      await expect(multi.submit(makeEngineRun('kubernetes', { clusterName: 'nowhere' }))).rejects.toBeInstanceOf(PermanentEngineError);
      expect((await multi.describe()).clusters).toEqual(['default', 'batch', 'gpu-cluster']);
    } finally {
      await multi.close();
      await other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kubernetes engine: API faults', () => {
  let fake: FakeKube;
  let engine: Engine;
  beforeAll(async () => {
    fake = await startFakeKube({ stepMs: 5 });
    engine = engineFor(fake);
  });
  afterAll(async () => {
    await engine.close();
    await fake.close();
  });

  it.each([429, 500, 503])('%i on create is retryable', async (status) => {
    fake.failNext('createJob', { status });
    const run = makeEngineRun('kubernetes');
    await expect(engine.submit(run)).rejects.toBeInstanceOf(RetryableEngineError);
    // And the next try goes through.
    await expect(engine.submit(run)).resolves.toMatchObject({ engineRef: run.runId });
    await engine.terminate(run, 'cleanup');
  });

  it('422 on create is permanent, with the API message as the reason', async () => {
    const run = makeEngineRun('kubernetes', { image: '' });
    const err = await engine.submit(run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentEngineError);
    expect((err as Error).message).toBe(`Job.batch "${run.runId}" is invalid: spec.template.spec.containers[0].image: Required value`);
  });

  it('403 on create is permanent', async () => {
    fake.failNext('createJob', { status: 403, message: 'jobs.batch is forbidden: User "flotilla" cannot create resource "jobs"' });
    const err = await engine.submit(makeEngineRun('kubernetes')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentEngineError);
    expect((err as Error).message).toMatch(/forbidden/);
  });

  it('a Job left from an earlier attempt is deleted and the submit retried', async () => {
    const run = await launch(engine, 'sleep 600');
    await expect(engine.submit({ ...run, attempt: 2 })).rejects.toBeInstanceOf(RetryableEngineError);
    expect(fake.job(run.runId)).toBeUndefined();
    await expect(engine.submit({ ...run, attempt: 2 })).resolves.toMatchObject({ engineRef: run.runId });
    expect(fake.job(run.runId)!.metadata.annotations!['flotilla/attempt']).toBe('2');
    await engine.terminate(run, 'cleanup');
  });

  it('a network failure is retryable', async () => {
    const gone = await startFakeKube();
    const lost = engineFor(gone);
    await gone.close();
    await expect(lost.submit(makeEngineRun('kubernetes'))).rejects.toBeInstanceOf(RetryableEngineError);
    await lost.close();
  });
});

describe('kubernetes engine: watches', () => {
  let fake: FakeKube;
  let engine: Engine;
  let stop: () => Promise<void>;
  const updates = new Map<string, StatusUpdate[]>();
  const last = (runId: string) => updates.get(runId)?.at(-1);
  const stoppedUpdate = (runId: string) =>
    until(() => (['STOPPED', 'NEEDS_RETRY'].includes(last(runId)?.status ?? '') ? last(runId) : undefined), `end of ${runId}`);

  beforeAll(async () => {
    fake = await startFakeKube({ stepMs: 5 });
    engine = engineFor(fake);
    stop = engine.watch!((u) => updates.set(u.runId, [...(updates.get(u.runId) ?? []), u]));
    await until(() => Object.keys(fake.openWatches()).length === 3, 'three watches');
    for (const route of ['watchJobs', 'watchPods'] as const) expect(fake.queries(route)[0]!.get('labelSelector')).toBe('flotilla-run-id');
    expect(fake.queries('watchEvents')[0]!.get('fieldSelector')).toBe('involvedObject.kind=Pod');
    // Each watch starts where its list ended, not from "now" (nothing is missed in between).
    expect(fake.queries('watchPods')[0]!.get('resourceVersion')).toMatch(/^\d+$/);
  });
  afterAll(async () => {
    await stop();
    await engine.close();
    await fake.close();
  });

  it('pushes PENDING → RUNNING → STOPPED and the pod events, each event once', async () => {
    const run = await launch(engine, 'echo hi; sleep 0.2; exit 4');
    const end = await stoppedUpdate(run.runId);
    expect(end).toMatchObject({ status: 'STOPPED', exitCode: 4, exitReason: 'Error' });
    const seen = updates.get(run.runId)!;
    const statuses = seen.map((u) => u.status).filter((s, i, a) => s !== a[i - 1]);
    expect(statuses).toEqual(['PENDING', 'RUNNING', 'STOPPED']);
    await new Promise((r) => setTimeout(r, 50));
    const reasons = updates
      .get(run.runId)!
      .flatMap((u) => u.events ?? [])
      .map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']));
    expect(new Set(reasons).size).toBe(reasons.length);
  });

  it('NEEDS_RETRY from the watch deletes the Job first', async () => {
    const run = await launch(engine, 'echo never', scenario('image-pull-backoff'));
    expect(await stoppedUpdate(run.runId)).toMatchObject({ status: 'NEEDS_RETRY' });
    expect(fake.job(run.runId)).toBeUndefined();
  });

  it('turns a start failure into NEEDS_RETRY when its grace period ends, with nothing else changing', async () => {
    // Its own cluster: the suite's engine (grace 0) would retry the run at once.
    const own = await startFakeKube({ stepMs: 5 });
    const patient = engineFor(own, { startFailureGraceMs: 1500 });
    const seen: StatusUpdate[] = [];
    const stopPatient = patient.watch!((u) => seen.push(u));
    try {
      const run = await launch(patient, 'echo never', scenario('image-pull-backoff'));
      await until(() => seen.some((u) => u.runId === run.runId && u.status === 'PENDING' && u.podName), 'PENDING with a pod');
      const end = await until(() => seen.find((u) => u.runId === run.runId && u.status === 'NEEDS_RETRY'), 'NEEDS_RETRY', 5000);
      expect(end.exitReason).toMatch(/^ImagePullBackOff: /);
      expect(own.job(run.runId)).toBeUndefined();
    } finally {
      await stopPatient();
      await patient.close();
      await own.close();
    }
  });

  it('recovers from dropped watch streams, resuming from the resourceVersion', async () => {
    const run = await launch(engine, 'sleep 0.4; echo done');
    await until(() => last(run.runId)?.status === 'RUNNING', 'RUNNING');
    fake.resetCounts();
    fake.dropWatches();
    expect(await stoppedUpdate(run.runId)).toMatchObject({ status: 'STOPPED', exitCode: 0 });
    const counts = fake.counts();
    expect(counts).toMatchObject({ watchJobs: 1, watchPods: 1, watchEvents: 1 });
    expect(counts.listJobs ?? 0).toBe(0);
  });

  it('lists afresh after a 410 Gone (ERROR event on the stream, or on reopening)', async () => {
    const run = await launch(engine, 'sleep 0.4; echo done');
    await until(() => last(run.runId)?.status === 'RUNNING', 'RUNNING');
    fake.resetCounts();
    fake.expireWatches();
    await until(() => (fake.counts().listPods ?? 0) >= 1 && Object.keys(fake.openWatches()).length === 3, 'relist after ERROR 410');
    // History compacted while disconnected: reopening from the old version answers 410.
    fake.store.compact();
    fake.dropWatches();
    expect(await stoppedUpdate(run.runId)).toMatchObject({ status: 'STOPPED', exitCode: 0 });
    await until(() => (fake.counts().listPods ?? 0) >= 2, 'relist after compaction');
    expect(fake.counts()).toMatchObject({ listJobs: 2, listPods: 2, listEvents: 2 });
  });

  it('reopens after the API answers a watch with 500 or 410', async () => {
    const run = await launch(engine, 'sleep 0.4; echo done');
    await until(() => last(run.runId)?.status === 'RUNNING', 'RUNNING');
    fake.failNext('watchJobs', { status: 500 });
    fake.failNext('watchPods', { status: 410, times: 1 });
    fake.dropWatches();
    expect(await stoppedUpdate(run.runId)).toMatchObject({ status: 'STOPPED', exitCode: 0 });
    await until(() => Object.keys(fake.openWatches()).length === 3, 'watches back');
  });
});

describe('kubernetes engine: 1,000 running runs', () => {
  let fake: FakeKube;
  let engine: Engine;
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    fake = await startFakeKube({ stepMs: 2 });
    engine = engineFor(fake, { watchTimeoutSeconds: 3600 });
  });
  afterAll(async () => {
    await stop?.();
    await engine.close();
    await fake.close();
  });

  it('costs three watch connections and three list calls per cluster, never a call per run', async () => {
    // The Jobs are what the engine's submit creates, put straight into the fake's store so the
    // test spends its time on status tracking rather than on 1,000 create calls.
    const runs = Array.from({ length: 1000 }, () => makeEngineRun('kubernetes', { command: 'sleep 3600', ...scenario('hold') }));
    for (const run of runs) {
      fake.store.create('Job', buildJobManifest(run, { namespace: fake.namespace, ttlSecondsAfterFinished: 3600 }) as unknown as KubeObject);
      run.engineRef = run.runId;
      run.namespace = fake.namespace;
      run.status = 'PENDING';
    }
    const runningPods = () => fake.store.list('Pod', fake.namespace, (p) => (p.status as { phase?: string } | undefined)?.phase === 'Running').length;
    await until(() => runningPods() === 1000, 'all pods running', 20_000);

    fake.resetCounts();
    const running = new Set<string>();
    stop = engine.watch!((u) => {
      if (u.status === 'RUNNING') running.add(u.runId);
    });
    await until(() => running.size === 1000 && Object.keys(fake.openWatches()).length === 3, 'a RUNNING update for every run', 20_000);
    expect(fake.counts()).toEqual({ listJobs: 1, listPods: 1, listEvents: 1, watchJobs: 1, watchPods: 1, watchEvents: 1 });

    // Steady state: nothing is polled while the runs keep running.
    fake.resetCounts();
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.counts()).toEqual({});
    expect(fake.openWatches()).toEqual({ watchJobs: 1, watchPods: 1, watchEvents: 1 });

    // The safety net: reconciling all 1,000 is one list per kind.
    const reconciled = await engine.reconcile(runs);
    expect(fake.counts()).toEqual({ listJobs: 1, listPods: 1, listEvents: 1 });
    expect(reconciled.filter((u) => isUpdate(u) && u.status === 'RUNNING')).toHaveLength(1000);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------

describe('status mapping (pure)', () => {
  const base = { podNameFallback: 'r-1', now: Date.parse('2024-01-01T00:10:00Z'), startFailureGraceMs: 60_000 };
  const job = (status: V1Job['status'] = {}): V1Job => ({ metadata: { name: 'r-1' }, status });
  const pod = (status: V1Pod['status'], created = '2024-01-01T00:09:30Z'): V1Pod => ({
    metadata: { name: 'r-1-abcde', creationTimestamp: created as unknown as Date },
    spec: { containers: [{ name: 'main' }], nodeName: 'node-1' },
    status,
  });
  const waiting = (reason: string) => ({
    containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message: 'details' } } }],
  });

  it('no pod yet, or a pending pod → PENDING; a running pod → RUNNING', () => {
    expect(mapRunState({ ...base, job: job(), pod: undefined }).update.status).toBe('PENDING');
    expect(mapRunState({ ...base, job: job(), pod: pod({ phase: 'Pending' }) }).update.status).toBe('PENDING');
    expect(mapRunState({ ...base, job: job(), pod: pod({ phase: 'Running' }) }).update).toMatchObject({
      status: 'RUNNING',
      podName: 'r-1-abcde',
      instance: { dnsName: 'node-1' },
    });
  });

  it('a start failure waits for its grace period, then asks for a retry and a terminate', () => {
    const young = mapRunState({ ...base, job: job(), pod: pod({ phase: 'Pending', ...waiting('ImagePullBackOff') }) });
    expect(young).toMatchObject({ terminate: false, update: { status: 'PENDING' }, recheckAt: Date.parse('2024-01-01T00:10:30Z') });
    const old = mapRunState({ ...base, job: job(), pod: pod({ phase: 'Pending', ...waiting('ErrImagePull') }, '2024-01-01T00:00:00Z') });
    expect(old).toMatchObject({ terminate: true, update: { status: 'NEEDS_RETRY', exitReason: 'ErrImagePull: details' } });
  });

  it('a Job that says Complete wins over a pod that lags', () => {
    const out = mapRunState({ ...base, job: job({ succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] }), pod: pod({ phase: 'Running' }) });
    expect(out.update).toMatchObject({ status: 'STOPPED', exitCode: 0, exitReason: 'Pod r-1-abcde Exited Successfully' });
  });

  it('DeadlineExceeded on the Job → 124 with its message, whatever the pod says', () => {
    const out = mapRunState({
      ...base,
      job: job({
        failed: 1,
        conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }],
      }),
      pod: pod({
        phase: 'Failed',
        containerStatuses: [
          { name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 143, reason: 'Error' } } },
        ],
      }),
    });
    expect(out).toMatchObject({ terminate: false, update: { status: 'STOPPED', exitCode: 124, exitReason: 'Job was active longer than specified deadline' } });
  });

  it('a pod killed while being deleted under a Job that has not ended yet (deadline seen first on the pod) stays RUNNING until the Job says why', () => {
    const killed: V1Pod = {
      ...pod({
        phase: 'Failed',
        containerStatuses: [
          { name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 143, reason: 'Error' } } },
        ],
      }),
    };
    killed.metadata!.deletionTimestamp = '2024-01-01T00:09:59Z' as unknown as Date;
    expect(mapRunState({ ...base, job: job({ active: 1 }), pod: killed })).toMatchObject({ terminate: false, update: { status: 'RUNNING' } });
    const failed = job({
      failed: 1,
      conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }],
    });
    expect(mapRunState({ ...base, job: failed, pod: killed }).update).toMatchObject({ status: 'STOPPED', exitCode: 143, exitReason: 'Error' });
  });

  it('a container that exited 0 under a DisruptionTarget still succeeded; ContainerStatusUnknown is a lost node', () => {
    const terminated = (exitCode: number, reason: string) => [
      { name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, reason } } },
    ];
    const disruption = [
      { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint' },
    ];
    expect(
      mapRunState({ ...base, job: job(), pod: pod({ phase: 'Succeeded', conditions: disruption, containerStatuses: terminated(0, 'Completed') }) }).update
        .status,
    ).toBe('STOPPED');
    expect(
      mapRunState({ ...base, job: job(), pod: pod({ phase: 'Failed', conditions: disruption, containerStatuses: terminated(137, 'Error') }) }).update,
    ).toMatchObject({
      status: 'NEEDS_RETRY',
      exitReason: 'DeletionByTaintManager: Taint manager: deleting due to NoExecute taint',
    });
    expect(
      mapRunState({ ...base, job: job(), pod: pod({ phase: 'Failed', containerStatuses: terminated(137, 'ContainerStatusUnknown') }) }).update.status,
    ).toBe('NEEDS_RETRY');
  });
});

describe('log cursor (pure)', () => {
  it('normalises RFC3339Nano so that times compare as strings', () => {
    expect(normalizeTimestamp('2024-01-02T03:04:05Z')).toBe('2024-01-02T03:04:05.000000000Z');
    expect(normalizeTimestamp('2024-01-02T03:04:05.12Z')).toBe('2024-01-02T03:04:05.120000000Z');
    expect(normalizeTimestamp('2024-01-02T03:04:05.123456789Z')).toBe('2024-01-02T03:04:05.123456789Z');
    expect(normalizeTimestamp('2024-01-02T05:04:05.5+02:00')).toBe('2024-01-02T03:04:05.500000000Z');
    expect(normalizeTimestamp('hello')).toBeUndefined();
    expect(normalizeTimestamp('2024-01-02T03:04:05.12Z')! < normalizeTimestamp('2024-01-02T03:04:05.1Z')!).toBe(false);
  });

  it('skips exactly what the cursor covers: earlier times, and n lines at its time', () => {
    const t1 = '2024-01-02T03:04:05.000000001Z';
    const t2 = '2024-01-02T03:04:05.000000002Z';
    const filter = createLineFilter(parseCursor(`${t2} 2`));
    expect([t1, t2, t2, t2, t2].map((t) => filter.accept(t))).toEqual([false, false, false, true, true]);
    expect(filter.position()).toEqual({ ts: t2, n: 4 });
  });

  it('refuses a cursor it did not write', () => {
    expect(() => parseCursor('12345')).toThrow(/not a Kubernetes log cursor/);
  });
});

describe('client-side rate limit', () => {
  it('lets a burst through, then paces to qps', async () => {
    const bucket = createTokenBucket({ qps: 100, burst: 5 });
    const started = performance.now();
    for (let i = 0; i < 5; i++) await bucket.take();
    expect(performance.now() - started).toBeLessThan(20);
    for (let i = 0; i < 10; i++) await bucket.take();
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('gives back the token of an aborted wait', async () => {
    const bucket = createTokenBucket({ qps: 1, burst: 1 });
    await bucket.take();
    const ac = new AbortController();
    const waiting = bucket.take(ac.signal);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });
});
