// The ECS engine through the public API: runs executed over REST, submitted and tracked by a
// worker against moto (scripts/ci/moto.sh), read back over REST. With TEST_DATABASE_URL the
// worker is a real `flotilla worker` process configured only by environment variables, as in
// production; on the embedded database (one process) the same loops run in-process on an
// engine the registry built from the same variables.
//
// moto runs nothing, so the tests act as the ECS agent (task state through the moto route),
// the awslogs driver (log events in the task's stream) and EventBridge (state-change events
// on the queue `ecsSetup` made).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DescribeTasksCommand, ECSClient } from '@aws-sdk/client-ecs';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ecsSetup, type EcsSetupResult } from '../../src/engines/ecs/index.js';
import { createEngine, registryOf } from '../../src/engines/registry.js';
import { silentLogger } from '../../src/logger.js';
import { newWorkerId } from '../../src/workers/context.js';
import { startWorkers } from '../../src/workers/index.js';
import {
  MOTO_URL,
  REGION,
  announceMoto,
  awsOptions,
  createCluster,
  defaultSubnet,
  exited,
  forgetTasks,
  prepareMoto,
  sendToQueue,
  setTaskState,
  taskStateChange,
  uniqueName,
  writeTaskLogs,
} from '../engines/ecsHelpers.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';
import { startFlotilla } from '../helpers/processes.js';

announceMoto('test/integration/ecs.api.test.ts');

const BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: REGION, AWS_EC2_METADATA_DISABLED: 'true' };
const PULL_FAILURE = 'CannotPullContainerError: pull image manifest has been retried 5 time(s): not found';

type Json = Record<string, any>;

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!MOTO_URL)('ECS runs through the REST API and a worker', () => {
  let t: TestApp;
  let cluster: string;
  let setup: EcsSetupResult;
  let ecsEnv: Record<string, string>;
  let definitionId: string;
  let alias: string;
  let ecs: ECSClient;
  let sqs: SQSClient;
  const savedEnv: Record<string, string | undefined> = {};

  beforeAll(async () => {
    // In-process engines take credentials from the SDK's default chain, as in production.
    for (const [k, v] of Object.entries(AWS_ENV)) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
    await prepareMoto();
    cluster = uniqueName('flotilla-ecs-api');
    await createCluster(cluster);
    ecsEnv = {
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL: MOTO_URL!,
      FLOTILLA_ENGINES: 'ecs',
      FLOTILLA_ENGINE: 'ecs',
      FLOTILLA_ECS_CLUSTER: cluster,
      FLOTILLA_ECS_LAUNCH_TYPE: 'FARGATE',
      FLOTILLA_ECS_SUBNETS: await defaultSubnet(),
      FLOTILLA_ECS_SECURITY_GROUPS: 'sg-flotilla-test',
      FLOTILLA_ECS_LOG_GROUP: `/flotilla/${cluster}`,
      FLOTILLA_ECS_EVENTS_QUEUE: uniqueName('flotilla-ecs-api-events'),
      MAX_ATTEMPTS: '2',
    };
    setup = await ecsSetup(loadConfig(ecsEnv, 'worker').ecs);
    ecsEnv.FLOTILLA_ECS_EVENTS_QUEUE = setup.queueUrl;
    // The API process stops runs on ECS, so it has the engine too (no event watching there).
    const apiEngine = await createEngine('ecs', loadConfig(ecsEnv, 'serve'), silentLogger);
    t = await createTestApp(ecsEnv, { engines: [apiEngine] });
    ecs = new ECSClient(awsOptions());
    sqs = new SQSClient(awsOptions());
    alias = uniqueName('ecs-api');
    const res = await t.fetch('/api/v6/task', {
      method: 'POST',
      json: { alias, group_name: 'ecs-api', image: 'public.ecr.aws/docker/library/busybox:latest', command: 'echo hello', memory: 512, cpu: 256 },
    });
    expect(res.status).toBe(200);
    definitionId = ((await res.json()) as Json).definition_id;
  });

  afterAll(async () => {
    await t?.close();
    ecs?.destroy();
    sqs?.destroy();
    if (cluster) await forgetTasks(cluster);
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  /** A worker with `env` on top of the ECS variables: a process on Postgres, else in-process. */
  async function startEcsWorker(env: Record<string, string>): Promise<{ stop(): Promise<void> }> {
    const workerEnv = {
      ...ecsEnv,
      WORKER_SUBMIT_INTERVAL: '200ms',
      WORKER_RETRY_INTERVAL: '200ms',
      WORKER_SWEEP_INTERVAL: '1s',
      ...env,
    };
    if (TEST_DATABASE_URL) {
      const p = await startFlotilla('worker', {
        ...AWS_ENV,
        ...workerEnv,
        DATABASE_URL: t.database.url!,
        ...(TEST_REDIS_URL ? { REDIS_URL: TEST_REDIS_URL } : {}),
      });
      // The registry built the ECS engine from the variables alone.
      expect(p.output()).toContain('"engines":["ecs"]');
      return { stop: async () => void (await p.kill('SIGTERM')) };
    }
    const config = loadConfig({ ...workerEnv, LOG_LEVEL: 'silent' }, 'worker');
    const engines = registryOf([await createEngine('ecs', config, silentLogger)]);
    const workers = startWorkers({
      workerId: newWorkerId(),
      db: t.database.db,
      bus: t.bus,
      config,
      logger: silentLogger,
      updates: t.services.runUpdates,
      engines,
    });
    return {
      async stop() {
        await workers.stop();
        await engines.close();
      },
    };
  }

  async function execute(): Promise<string> {
    const res = await t.fetch(`/api/v6/task/alias/${alias}/execute`, { method: 'PUT', json: { run_tags: { owner_id: 'ecs-api' } } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ status: 'QUEUED', engine: 'ecs' });
    return body.run_id as string;
  }

  const run = async (id: string): Promise<Json> => (await (await t.fetch(`/api/v6/history/${id}`)).json()) as Json;
  const logText = async (id: string): Promise<string> => ((await (await t.fetch(`/api/v6/${id}/logs`)).json()) as Json).log as string;
  const rawLogs = async (id: string): Promise<string> => (await t.fetch(`/api/v6/${id}/logs?raw_text=true`)).text();

  async function describeTask(arn: string) {
    const out = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [arn], include: ['TAGS'] }));
    return out.tasks![0]!;
  }

  /** Waits for RUNNING on `attempt` and checks what ECS started: the run's task, ARN recorded. */
  async function runningTask(id: string, attempt = 1): Promise<string> {
    await expect
      .poll(
        async () => {
          const r = await run(id);
          return [r.status, r.attempt_count];
        },
        { timeout: 20_000, interval: 100 },
      )
      .toEqual(['RUNNING', attempt]);
    const row = await t.services.runs.get(id);
    const arn = row.engineRef!;
    expect(arn).toMatch(new RegExp(`^arn:aws:ecs:${REGION}:\\d{12}:task/${cluster}/[0-9a-f-]+$`));
    expect((await run(id)).pod_name).toBe(arn.split('/').pop());
    const task = await describeTask(arn);
    expect(task).toMatchObject({ startedBy: id, group: `family:flotilla-${definitionId}`, launchType: 'FARGATE' });
    expect(task.tags).toEqual(expect.arrayContaining([{ key: 'flotilla-attempt', value: String(attempt) }]));
    return arn;
  }

  /** The EventBridge "ECS Task State Change" for a stopped task of this run, as the rule delivers it. */
  function stoppedEvent(id: string, arn: string, fields: Record<string, unknown>): string {
    return taskStateChange({
      taskArn: arn,
      clusterArn: setup.clusterArn,
      group: `family:flotilla-${definitionId}`,
      startedBy: id,
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stoppedAt: new Date().toISOString(),
      overrides: { containerOverrides: [{ name: 'main', environment: [{ name: 'FLOTILLA_RUN_ID', value: id }] }] },
      ...fields,
    });
  }

  /** The worker has taken every message off the queue (handled ones are deleted). */
  async function queueDrained(): Promise<void> {
    await expect
      .poll(
        async () => {
          const out = await sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: setup.queueUrl,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          );
          return Number(out.Attributes?.ApproximateNumberOfMessages) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible);
        },
        { timeout: 15_000, interval: 100 },
      )
      .toBe(0);
  }

  /** Once the collector has finished the run's logs, they are exactly `expected`, each line once. */
  async function logsComplete(id: string, expected: string): Promise<void> {
    await expect.poll(async () => (await t.services.runs.get(id)).logsComplete, { timeout: 20_000, interval: 200 }).toBe(true);
    expect(await logText(id)).toBe(expected);
    expect(await rawLogs(id)).toBe(expected);
  }

  describe('status pushed through SQS events (reconcile idle)', () => {
    let worker: Awaited<ReturnType<typeof startEcsWorker>>;
    beforeAll(async () => {
      // The reconcile pass runs once at start-up (nothing to do yet) and not again in these tests.
      worker = await startEcsWorker({ WORKER_STATUS_INTERVAL: '60m' });
    });
    afterAll(async () => {
      await worker?.stop();
    });

    it('execute → RUNNING on a task → STOPPED with the exit code and reason from the event; logs once each', async () => {
      const id = await execute();
      const arn = await runningTask(id);

      await writeTaskLogs(setup.logGroup, arn, ['hello from ecs', 'second line']);
      await expect.poll(() => logText(id), { timeout: 15_000, interval: 200 }).toBe('hello from ecs\nsecond line\n');
      await writeTaskLogs(setup.logGroup, arn, ['last line']);

      // ECS itself still says RUNNING: only the event can end the run.
      await sendToQueue(
        setup.queueUrl,
        stoppedEvent(id, arn, {
          stopCode: 'EssentialContainerExited',
          stoppedReason: 'Essential container in task exited',
          containers: [{ name: 'main', lastStatus: 'STOPPED', exitCode: 3, reason: 'Error' }],
        }),
      );
      await expect.poll(async () => (await run(id)).status, { timeout: 15_000, interval: 100 }).toBe('STOPPED');
      expect((await describeTask(arn)).lastStatus).toBe('RUNNING');
      expect(await run(id)).toMatchObject({ exit_code: 3, exit_reason: 'EssentialContainerExited - Essential container in task exited - Error' });
      await setTaskState(arn, { ...exited(3), containerReason: 'Error' });
      await logsComplete(id, 'hello from ecs\nsecond line\nlast line\n');
      await queueDrained();
    }, 60_000);

    it('log events holding a NUL, a lone CR and replacement characters: every line around them arrives, the NUL stored as U+FFFD', async () => {
      // CloudWatch Logs holds UTF-8 text events only: the awslogs driver has already turned
      // undecodable bytes into text, so raw bytes cannot reach us on this engine.
      const id = await execute();
      const arn = await runningTask(id);
      await writeTaskLogs(setup.logGroup, arn, ['before', 'a\u0000b', 'progress 10%\rprogress 100%', 'x\uFFFDy', 'after']);
      await sendToQueue(
        setup.queueUrl,
        stoppedEvent(id, arn, { stopCode: 'EssentialContainerExited', containers: [{ name: 'main', lastStatus: 'STOPPED', exitCode: 0 }] }),
      );
      await expect.poll(async () => (await run(id)).status, { timeout: 15_000, interval: 100 }).toBe('STOPPED');
      await setTaskState(arn, exited(0));
      await logsComplete(id, 'before\na\uFFFDb\nprogress 10%\rprogress 100%\nx\uFFFDy\nafter\n');
      await queueDrained();
    }, 60_000);

    it('CannotPullContainerError → NEEDS_RETRY → a new task; a late copy of the old event is ignored; STOPPED after MAX_ATTEMPTS', async () => {
      const id = await execute();
      const first = await runningTask(id, 1);
      const failed = (arn: string) =>
        stoppedEvent(id, arn, { stopCode: 'TaskFailedToStart', stoppedReason: PULL_FAILURE, containers: [{ name: 'main', lastStatus: 'STOPPED' }] });

      await setTaskState(first, { lastStatus: 'STOPPED', exitCode: null, stopCode: 'TaskFailedToStart', stoppedReason: PULL_FAILURE });
      await sendToQueue(setup.queueUrl, failed(first));
      const second = await runningTask(id, 2);
      expect(second).not.toBe(first);

      // SQS delivers at least once and EventBridge does not order: the first task's end again.
      await sendToQueue(setup.queueUrl, failed(first));
      await queueDrained();
      await new Promise((r) => setTimeout(r, 500));
      expect(await run(id)).toMatchObject({ status: 'RUNNING', attempt_count: 2 });
      expect((await t.services.runs.get(id)).engineRef).toBe(second);

      await setTaskState(second, { lastStatus: 'STOPPED', exitCode: null, stopCode: 'TaskFailedToStart', stoppedReason: PULL_FAILURE });
      await sendToQueue(setup.queueUrl, failed(second));
      await expect.poll(async () => (await run(id)).status, { timeout: 20_000, interval: 100 }).toBe('STOPPED');
      const final = await run(id);
      expect(final).toMatchObject({ attempt_count: 2, exit_reason: `TaskFailedToStart - ${PULL_FAILURE}` });
      expect(final.exit_code ?? null).toBeNull();
      const reasons = ((await (await t.fetch(`/api/v6/${id}/events`)).json()) as Json).pod_events.map((e: Json) => e.reason);
      // Two attempts, each failed once: the late copy left no trace.
      const attempt = ['StatusQueued', 'StatusRunning', 'TaskFailedToStart', 'StatusNeedsRetry'];
      expect(reasons).toEqual([...attempt, ...attempt, 'StatusStopped']);
    }, 90_000);
  });

  describe('status from DescribeTasks reconcile alone (no events queue)', () => {
    let worker: Awaited<ReturnType<typeof startEcsWorker>>;
    beforeAll(async () => {
      worker = await startEcsWorker({ FLOTILLA_ECS_EVENTS_QUEUE: '', WORKER_STATUS_INTERVAL: '300ms' });
    });
    afterAll(async () => {
      await worker?.stop();
    });

    it('execute → RUNNING → the task exits 3 → STOPPED with exit code 3 and the reason; logs once each', async () => {
      const id = await execute();
      const arn = await runningTask(id);
      await writeTaskLogs(setup.logGroup, arn, ['alpha', 'beta']);
      await expect.poll(() => logText(id), { timeout: 15_000, interval: 200 }).toBe('alpha\nbeta\n');
      await writeTaskLogs(setup.logGroup, arn, ['gamma']);
      await setTaskState(arn, { ...exited(3), containerReason: 'Error' });
      await expect.poll(async () => (await run(id)).status, { timeout: 15_000, interval: 100 }).toBe('STOPPED');
      expect(await run(id)).toMatchObject({ exit_code: 3, exit_reason: 'EssentialContainerExited - Essential container in task exited - Error' });
      await logsComplete(id, 'alpha\nbeta\ngamma\n');
    }, 60_000);

    it('exit 0 is STOPPED "Exited successfully"', async () => {
      const id = await execute();
      const arn = await runningTask(id);
      await setTaskState(arn, exited(0));
      await expect.poll(async () => (await run(id)).status, { timeout: 15_000, interval: 100 }).toBe('STOPPED');
      expect(await run(id)).toMatchObject({ exit_code: 0, exit_reason: 'Exited successfully' });
    }, 60_000);

    it('DELETE …/history/{run_id} calls StopTask: the run is STOPPED exit 1 "Task terminated by user" and stays so', async () => {
      const id = await execute();
      const arn = await runningTask(id);
      const res = await t.fetch(`/api/v6/task/${definitionId}/history/${id}`, { method: 'DELETE' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ terminated: true });
      expect(await run(id)).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });
      expect(await describeTask(arn)).toMatchObject({ lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stoppedReason: 'Task terminated by user' });
      // The worker sees the stopped task (its log reader ends on it); the user's stop is what stays.
      await logsComplete(id, '');
      expect(await run(id)).toMatchObject({ status: 'STOPPED', exit_code: 1, exit_reason: 'Task terminated by user' });
    }, 60_000);
  });

  describe('flotilla ecs setup', () => {
    const cliEnv = () => ({ ...AWS_ENV, ...ecsEnv, FLOTILLA_ECS_CLUSTER: cluster, FLOTILLA_ECS_LOG_GROUP: `/flotilla/${cluster}/cli` });

    it('creates the queue, rule, policy and log group, tells how to set the queue, and changes nothing the second time', async () => {
      // A cluster of its own, so the rule is new whatever ran before on this moto.
      const own = uniqueName('flotilla-ecs-cli');
      await createCluster(own);
      const env: Record<string, string> = { ...cliEnv(), FLOTILLA_ECS_CLUSTER: own };
      delete env.FLOTILLA_ECS_EVENTS_QUEUE;
      // Queue unset: the default queue, and the hint to set the variable to its URL.
      const first = await runCli(['ecs', 'setup'], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain(`ECS setup for cluster ${own} (arn:aws:ecs:${REGION}:`);
      expect(first.stdout).toContain(`put EventBridge rule flotilla-ecs-${own}`);
      expect(first.stdout).toContain(`created log group /flotilla/${cluster}/cli`);
      const queueUrl = /^queue: +(\S+)$/m.exec(first.stdout)?.[1];
      expect(queueUrl).toMatch(/\/flotilla-ecs-events$/);
      expect(first.stdout).toContain(`FLOTILLA_ECS_EVENTS_QUEUE=${queueUrl}`);

      // A named queue: created the first time, found the second; the variable is set, so no hint.
      const queue = uniqueName('flotilla-ecs-cli-events');
      const named = { ...env, FLOTILLA_ECS_EVENTS_QUEUE: queue };
      const a = await runCli(['ecs', 'setup'], named);
      expect(a.code, a.stderr).toBe(0);
      expect(a.stdout).toContain(`created SQS queue ${queue}`);
      expect(a.stdout).not.toContain('FLOTILLA_ECS_EVENTS_QUEUE=');
      const b = await runCli(['ecs', 'setup', '--json'], named);
      expect(b.code, b.stderr).toBe(0);
      const result = JSON.parse(b.stdout) as EcsSetupResult;
      expect(result.changes).toEqual([]);
      expect(result.queueUrl).toMatch(new RegExp(`/${queue}$`));
      expect(result.ruleName).toBe(`flotilla-ecs-${own}`);
      const c = await runCli(['ecs', 'setup'], named);
      expect(c.stdout).toContain('nothing to change');
    }, 60_000);

    it('a cluster that does not exist is a clear error that names FLOTILLA_ECS_CLUSTER', async () => {
      const out = await runCli(['ecs', 'setup'], { ...cliEnv(), FLOTILLA_ECS_CLUSTER: uniqueName('no-such-cluster') });
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(/flotilla ecs setup: ECS cluster "no-such-cluster-[0-9a-f]+" does not exist.*FLOTILLA_ECS_CLUSTER/);
      expect(out.stderr).not.toMatch(/\n\s+at /);
    }, 30_000);
  });
});
