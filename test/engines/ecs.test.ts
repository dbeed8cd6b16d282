// The ECS engine against moto_server (scripts/ci/moto.sh), plus the pure status mapping.
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEcsEngine, ecsSetup, type EcsEngineConfig } from '../../src/engines/ecs/index.js';
import { classifyAwsError } from '../../src/engines/ecs/aws.js';
import { updateFromMessage } from '../../src/engines/ecs/events.js';
import { decodeLogCursor, encodeLogCursor } from '../../src/engines/ecs/logs.js';
import { queuePolicy } from '../../src/engines/ecs/setup.js';
import { taskStatus } from '../../src/engines/ecs/status.js';
import type { Engine, EngineRun, LogChunk, StatusUpdate } from '../../src/engines/types.js';
import { PermanentEngineError, RetryableEngineError } from '../../src/errors.js';
import { collectLogs, engineConformance, makeEngineRun } from './conformance.js';
import {
  MOTO_URL,
  announceMoto,
  awsOptions,
  exited,
  forgetTasks,
  motoEngineConfig,
  recordCalls,
  sendToQueue,
  setTaskState,
  taskStateChange,
  throttle,
  uniqueName,
  writeTaskLogs,
} from './ecsHelpers.js';

announceMoto('test/engines/ecs.test.ts');

const text = (chunks: LogChunk[]) => chunks.map((c) => c.text).join('');
const lines = (n: number, prefix = 'line') => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);

/** A run as the submit worker would hand it over, with engine facts filled in after submit. */
async function submitted(engine: Engine, overrides: Partial<EngineRun> = {}): Promise<EngineRun> {
  const run = makeEngineRun('ecs', { image: 'public.ecr.aws/docker/library/busybox:latest', ...overrides });
  const result = await engine.submit(run);
  run.engineRef = result.engineRef;
  run.status = result.status;
  return run;
}

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!MOTO_URL)('ECS engine against moto', () => {
  let config: EcsEngineConfig;
  let ecs: ECSClient;
  let logsClient: CloudWatchLogsClient;
  let ecsCalls: ReturnType<typeof recordCalls>;
  let engine: Engine;

  beforeAll(async () => {
    config = await motoEngineConfig('flotilla-ecs-engine');
    ecs = new ECSClient(awsOptions());
    logsClient = new CloudWatchLogsClient(awsOptions());
    ecsCalls = recordCalls(ecs);
    engine = createEcsEngine(config, { clients: { ecs, logs: logsClient } });
  });
  afterAll(async () => {
    await engine?.close();
    ecs?.destroy();
    logsClient?.destroy();
    if (config) await forgetTasks(config.cluster);
  });

  describe('task definitions', () => {
    it('registers one revision per definition version, reuses it from memory, and re-registers on a new version', async () => {
      const definitionId = `defs-${uniqueName('d')}`;
      const before = ecsCalls.count('RegisterTaskDefinitionCommand');
      const a = await submitted(engine, { definitionId, definitionVersion: 1 });
      await submitted(engine, { definitionId, definitionVersion: 1, cpu: 1024, memory: 2048 });
      expect(ecsCalls.count('RegisterTaskDefinitionCommand') - before).toBe(1);
      const c = await submitted(engine, { definitionId, definitionVersion: 2 });
      expect(ecsCalls.count('RegisterTaskDefinitionCommand') - before).toBe(2);

      const described = await ecs.send(new DescribeTasksCommand({ cluster: config.cluster, tasks: [a.engineRef!, c.engineRef!] }));
      const revisions = Object.fromEntries(described.tasks!.map((t) => [t.taskArn, t.taskDefinitionArn]));
      expect(revisions[a.engineRef!]).toMatch(new RegExp(`task-definition/flotilla-${definitionId}:1$`));
      expect(revisions[c.engineRef!]).toMatch(new RegExp(`task-definition/flotilla-${definitionId}:2$`));

      const def = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: `flotilla-${definitionId}` }));
      expect(def.taskDefinition?.containerDefinitions?.[0]).toMatchObject({
        name: 'main',
        logConfiguration: {
          logDriver: 'awslogs',
          options: { 'awslogs-group': config.logGroup, 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'flotilla' },
        },
      });
    });

    it('after a restart (cold cache) reuses the latest revision when it was built the same way', async () => {
      const definitionId = `cold-${uniqueName('d')}`;
      await submitted(engine, { definitionId, definitionVersion: 5 });
      const restarted = createEcsEngine(config, { clients: { ecs, logs: logsClient } });
      const before = ecsCalls.count('RegisterTaskDefinitionCommand');
      const run = await submitted(restarted, { definitionId, definitionVersion: 5 });
      expect(ecsCalls.count('RegisterTaskDefinitionCommand')).toBe(before);
      const [task] = (await ecs.send(new DescribeTasksCommand({ cluster: config.cluster, tasks: [run.engineRef!] }))).tasks!;
      expect(task?.taskDefinitionArn).toMatch(/:1$/);
      await restarted.close();
    });
  });

  describe('submit', () => {
    it('is idempotent on the run id: a repeated submit returns the task already running', async () => {
      const run = makeEngineRun('ecs', { command: 'sleep 30' });
      const runTasksBefore = ecsCalls.count('RunTaskCommand');
      const first = await engine.submit(run);
      // The worker died before recording the ARN: the run still has no engineRef.
      const second = await engine.submit(run);
      expect(second.engineRef).toBe(first.engineRef);
      expect(ecsCalls.count('RunTaskCommand') - runTasksBefore).toBe(1);
      const sent = ecsCalls.calls.filter((c) => c.command === 'RunTaskCommand').at(-1)!.input as Record<string, unknown>;
      expect(sent).toMatchObject({ clientToken: run.runId, startedBy: run.runId, cluster: config.cluster, launchType: 'FARGATE' });
      // What ECS received: the command through bash and the run's env.
      const [task] = (await ecs.send(new DescribeTasksCommand({ cluster: config.cluster, tasks: [first.engineRef] }))).tasks!;
      expect(task?.overrides?.containerOverrides?.[0]).toMatchObject({
        name: 'main',
        command: ['bash', '-c', 'sleep 30'],
        environment: [{ name: 'FLOTILLA_RUN_ID', value: run.runId }],
      });
    });

    it('a retried attempt gets a new task, not the failed one', async () => {
      const run = await submitted(engine);
      await setTaskState(run.engineRef!, { lastStatus: 'STOPPED', exitCode: null, stoppedReason: 'CannotPullContainerError: nope' });
      const retry = await engine.submit({ ...run, attempt: 2, status: 'QUEUED' });
      expect(retry.engineRef).not.toBe(run.engineRef);
      expect(retry.status).toBe('RUNNING');
    });

    it('classifies failures: throttling and missing capacity are retryable, a bad request is permanent', async () => {
      const throttled = new ECSClient(awsOptions());
      throttle(throttled, 'RunTaskCommand', 1);
      const e1 = createEcsEngine(config, { clients: { ecs: throttled } });
      await expect(e1.submit(makeEngineRun('ecs'))).rejects.toBeInstanceOf(RetryableEngineError);
      await e1.close();
      throttled.destroy();

      // moto answers RunTask on an EC2 cluster without container instances with a server error;
      // AWS says "No Container Instances were found in your cluster". Both mean: try later.
      const noCapacity = createEcsEngine({ ...config, launchType: 'EC2', subnets: [] });
      await expect(noCapacity.submit(makeEngineRun('ecs'))).rejects.toBeInstanceOf(RetryableEngineError);
      await noCapacity.close();

      const noCluster = createEcsEngine({ ...config, cluster: uniqueName('no-such-cluster') });
      await expect(noCluster.submit(makeEngineRun('ecs'))).rejects.toBeInstanceOf(PermanentEngineError);
      await noCluster.close();
    });
  });

  describe('status', () => {
    it('follows a task through DescribeTasks: PENDING, RUNNING, STOPPED with the exit code and reasons', async () => {
      const run = await submitted(engine);
      await setTaskState(run.engineRef!, { lastStatus: 'PROVISIONING' });
      expect((await engine.reconcile([run]))[0]).toMatchObject({ runId: run.runId, status: 'PENDING', engineRef: run.engineRef });
      await setTaskState(run.engineRef!, { lastStatus: 'RUNNING' });
      expect((await engine.reconcile([run]))[0]).toMatchObject({ status: 'RUNNING' });
      await setTaskState(run.engineRef!, { ...exited(3), containerReason: 'Error' });
      expect((await engine.reconcile([run]))[0]).toMatchObject({
        status: 'STOPPED',
        exitCode: 3,
        exitReason: 'EssentialContainerExited - Essential container in task exited - Error',
      });
    });

    it('exit 0 is "Exited successfully"; a task ECS no longer knows is missing', async () => {
      const run = await submitted(engine);
      await setTaskState(run.engineRef!, exited(0));
      const gone = { ...run, runId: 'ecs-gone', engineRef: `arn:aws:ecs:us-east-1:123456789012:task/${config.cluster}/00000000000000000000000000000000` };
      const [ok, missing] = await engine.reconcile([run, gone]);
      expect(ok).toMatchObject({ status: 'STOPPED', exitCode: 0, exitReason: 'Exited successfully' });
      expect(missing).toEqual({ runId: 'ecs-gone', missing: true });
    });

    it('an image that cannot be pulled is NEEDS_RETRY with the backend reason', async () => {
      const run = await submitted(engine);
      const reason = 'CannotPullContainerError: pull image manifest has been retried 5 time(s): not found';
      await setTaskState(run.engineRef!, { lastStatus: 'STOPPED', exitCode: null, stopCode: 'TaskFailedToStart', stoppedReason: reason });
      const [update] = await engine.reconcile([run]);
      expect(update).toMatchObject({ status: 'NEEDS_RETRY', exitCode: null, exitReason: `TaskFailedToStart - ${reason}` });
    });

    it('reconciling 500 running tasks costs one DescribeTasks call per 100 tasks', async () => {
      const family = (await ecs.send(new DescribeTasksCommand({ cluster: config.cluster, tasks: [(await submitted(engine)).engineRef!] }))).tasks![0]!
        .taskDefinitionArn!;
      const runs: EngineRun[] = [];
      for (let i = 0; i < 5; i++) {
        // Straight to ECS (moto lets one RunTask start 100): the engine is only asked to track them.
        const out = await ecs.send(
          new RunTaskCommand({
            cluster: config.cluster,
            taskDefinition: family,
            count: 100,
            launchType: 'FARGATE',
            networkConfiguration: { awsvpcConfiguration: { subnets: config.subnets, securityGroups: config.securityGroups } },
          }),
        );
        for (const task of out.tasks!) runs.push(makeEngineRun('ecs', { engineRef: task.taskArn!, status: 'RUNNING' }));
      }
      const counted = new ECSClient(awsOptions());
      const calls = recordCalls(counted);
      const tracker = createEcsEngine(config, { clients: { ecs: counted } });
      const updates = await tracker.reconcile(runs);
      expect(updates).toHaveLength(500);
      expect(updates.every((u) => !('missing' in u) && u.status === 'RUNNING')).toBe(true);
      expect(calls.count('DescribeTasksCommand')).toBe(5);
      expect(calls.calls.every((c) => c.command === 'DescribeTasksCommand' && (c.input as { tasks: string[] }).tasks.length <= 100)).toBe(true);
      await tracker.close();
      counted.destroy();
    }, 60_000);
  });

  describe('status through SQS events', () => {
    let queueConfig: EcsEngineConfig;
    let sqs: SQSClient;
    let setup: Awaited<ReturnType<typeof ecsSetup>>;

    beforeAll(async () => {
      queueConfig = { ...config, eventsQueue: uniqueName('flotilla-ecs-events') };
      setup = await ecsSetup(queueConfig);
      sqs = new SQSClient(awsOptions());
    });
    afterAll(() => sqs?.destroy());

    it('setup creates the queue, rule, policy and log group once; a second run changes nothing', async () => {
      expect(setup.changes.length).toBeGreaterThan(0);
      expect(setup.queueUrl).toContain(queueConfig.eventsQueue);
      const again = await ecsSetup(queueConfig);
      expect(again.changes).toEqual([]);
      expect(again.queueArn).toBe(setup.queueArn);
      const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: setup.queueUrl, AttributeNames: ['Policy'] }));
      const policy = JSON.parse(attrs.Attributes!.Policy!) as { Statement: Record<string, unknown>[] };
      expect(policy.Statement).toHaveLength(1);
      expect(policy.Statement[0]).toMatchObject({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: setup.queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': setup.ruleArn } },
      });
    });

    it("maps the events of Flotilla's tasks, ignores everything else, and empties the queue", async () => {
      const watcher = createEcsEngine(queueConfig);
      const run = await submitted(watcher);
      const clusterArn = `arn:aws:ecs:us-east-1:123456789012:cluster/${config.cluster}`;
      const ours = {
        taskArn: run.engineRef,
        clusterArn,
        group: `family:flotilla-${run.definitionId}`,
        startedBy: run.runId,
        overrides: { containerOverrides: [{ name: 'main', environment: [{ name: 'FLOTILLA_RUN_ID', value: run.runId }] }] },
      };
      await sendToQueue(setup.queueUrl, 'not json');
      await sendToQueue(setup.queueUrl, taskStateChange({ ...ours, group: 'family:someone-else', startedBy: 'ecs-svc/123' }));
      await sendToQueue(setup.queueUrl, taskStateChange({ ...ours, clusterArn: `${clusterArn}-other` }));
      await sendToQueue(setup.queueUrl, taskStateChange({ ...ours, lastStatus: 'RUNNING', startedAt: new Date().toISOString() }));
      await sendToQueue(
        setup.queueUrl,
        taskStateChange({
          ...ours,
          lastStatus: 'STOPPED',
          stopCode: 'EssentialContainerExited',
          stoppedReason: 'Essential container in task exited',
          stoppedAt: new Date().toISOString(),
          containers: [{ name: 'main', lastStatus: 'STOPPED', exitCode: 2 }],
        }),
      );
      const updates: StatusUpdate[] = [];
      const stop = watcher.watch!((u) => updates.push(u));
      await until('two updates', () => (updates.length >= 2 ? true : undefined));
      await new Promise((r) => setTimeout(r, 300));
      await stop();
      expect(updates.map((u) => [u.runId, u.status])).toEqual(
        expect.arrayContaining([
          [run.runId, 'RUNNING'],
          [run.runId, 'STOPPED'],
        ]),
      );
      expect(updates).toHaveLength(2);
      expect(updates.find((u) => u.status === 'STOPPED')).toMatchObject({
        exitCode: 2,
        exitReason: 'EssentialContainerExited - Essential container in task exited',
      });
      const left = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: setup.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      expect(left.Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
      await watcher.close();
    });

    it('an event EventBridge routes through the rule reaches the watcher (NEEDS_RETRY on CannotPullContainerError)', async () => {
      // A queue of its own: the previous watcher's aborted long poll may still hold the old one.
      const routed = { ...config, eventsQueue: uniqueName('flotilla-ecs-routed') };
      await ecsSetup(routed);
      const watcher = createEcsEngine(routed);
      const run = await submitted(watcher);
      const events = new EventBridgeClient(awsOptions());
      await events.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: 'aws.ecs',
              DetailType: 'ECS Task State Change',
              Resources: [run.engineRef!],
              Detail: JSON.stringify({
                taskArn: run.engineRef,
                clusterArn: `arn:aws:ecs:us-east-1:123456789012:cluster/${config.cluster}`,
                group: `family:flotilla-${run.definitionId}`,
                startedBy: run.runId,
                lastStatus: 'STOPPED',
                stopCode: 'TaskFailedToStart',
                stoppedReason: 'CannotPullContainerError: ref pull has been retried 1 time(s)',
                containers: [{ name: 'main', lastStatus: 'STOPPED' }],
              }),
            },
          ],
        }),
      );
      events.destroy();
      const updates: StatusUpdate[] = [];
      const stop = watcher.watch!((u) => updates.push(u));
      const update = await until('the routed event', () => updates[0]);
      await stop();
      expect(update).toMatchObject({ runId: run.runId, status: 'NEEDS_RETRY', exitReason: expect.stringContaining('CannotPullContainerError') });
      await watcher.close();
    });
  });

  describe('logs', () => {
    it('follows the CloudWatch stream while the task runs and ends after it stopped, each line once', async () => {
      const run = await submitted(engine);
      await writeTaskLogs(config.logGroup, run.engineRef!, lines(3));
      const chunks: LogChunk[] = [];
      const ac = new AbortController();
      const reading = (async () => {
        for await (const chunk of engine.logs(run, null, ac.signal)) chunks.push(chunk);
      })();
      await until('the first lines', () => (text(chunks).includes('line 3\n') ? true : undefined));
      await writeTaskLogs(config.logGroup, run.engineRef!, ['line 4', 'line 5']);
      await setTaskState(run.engineRef!, exited(0));
      await reading;
      expect(text(chunks)).toBe(
        lines(5)
          .map((l) => l + '\n')
          .join(''),
      );
      for (const c of chunks) expect(c.stream).toBe('stdout');
    });

    it('resumes from a cursor in the middle of a page without repeating or losing a line', async () => {
      const run = await submitted(engine);
      const many = lines(3000, 'x'.repeat(90));
      await writeTaskLogs(config.logGroup, run.engineRef!, many);
      await setTaskState(run.engineRef!, exited(0));
      const all = await collectLogs(engine, run);
      expect(all.length).toBeGreaterThan(3);
      for (const c of all) expect(Buffer.byteLength(c.text)).toBeLessThanOrEqual(64 * 1024);
      expect(text(all)).toBe(many.map((l) => l + '\n').join(''));
      // The second chunk's cursor points inside the first page (token + skip).
      expect(decodeLogCursor(all[1]!.cursor).skip).toBeGreaterThan(0);
      const rest = await collectLogs(engine, run, all[1]!.cursor);
      expect(text([...all.slice(0, 2), ...rest])).toBe(text(all));
      const none = await collectLogs(engine, run, all.at(-1)!.cursor);
      expect(none).toEqual([]);
    });

    it('backs off when CloudWatch throttles GetLogEvents and still yields every line once', async () => {
      const run = await submitted(engine);
      await writeTaskLogs(config.logGroup, run.engineRef!, lines(10));
      await setTaskState(run.engineRef!, exited(0));
      const throttledLogs = new CloudWatchLogsClient(awsOptions());
      const { attempts, passed } = throttle(throttledLogs, 'GetLogEventsCommand', 3);
      const reader = createEcsEngine(config, { clients: { ecs, logs: throttledLogs } });
      const chunks = await collectLogs(reader, run);
      expect(text(chunks)).toBe(
        lines(10)
          .map((l) => l + '\n')
          .join(''),
      );
      expect(attempts).toHaveLength(3);
      // 50 ms, then 100 ms, then 200 ms (±20 % jitter) between the throttled attempts and the next.
      const gaps = [attempts[1]! - attempts[0]!, attempts[2]! - attempts[1]!, passed[0]! - attempts[2]!];
      expect(gaps[0]).toBeGreaterThanOrEqual(35);
      expect(gaps[1]).toBeGreaterThanOrEqual(75);
      expect(gaps[2]).toBeGreaterThanOrEqual(155);
      await reader.close();
      throttledLogs.destroy();
    });

    it('keeps one reader per run: a newer reader replaces the older one', async () => {
      const run = await submitted(engine);
      await writeTaskLogs(config.logGroup, run.engineRef!, ['only']);
      const older = engine.logs(run, null, new AbortController().signal)[Symbol.asyncIterator]();
      expect((await older.next()).value?.text).toBe('only\n');
      const newer = engine.logs(run, null, new AbortController().signal)[Symbol.asyncIterator]();
      expect((await newer.next()).value?.text).toBe('only\n');
      await expect(older.next()).rejects.toThrow(/another log reader/);
      await newer.return?.(undefined);
    });
  });

  describe('terminate', () => {
    it('stops the task with the reason; repeating it, or a task that is gone, is fine', async () => {
      const run = await submitted(engine, { command: 'sleep 600' });
      await engine.terminate(run, 'Task terminated by - ada@example.com');
      await engine.terminate(run, 'Task terminated by - ada@example.com');
      const [task] = (await ecs.send(new DescribeTasksCommand({ cluster: config.cluster, tasks: [run.engineRef!] }))).tasks!;
      expect(task).toMatchObject({ lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stoppedReason: 'Task terminated by - ada@example.com' });
      expect((await engine.reconcile([run]))[0]).toMatchObject({ status: 'STOPPED' });
      await engine.terminate({ ...run, engineRef: `arn:aws:ecs:us-east-1:123456789012:task/${config.cluster}/ffffffffffffffffffffffffffffffff` }, 'x');
      await engine.terminate(makeEngineRun('ecs'), 'never submitted');
    });
  });

  it('describes itself', async () => {
    expect(await engine.describe()).toEqual({ clusters: [config.cluster], capabilities: ['fargate'] });
  });
});

describe.skipIf(!MOTO_URL)('ECS engine: conformance', () => {
  let config: EcsEngineConfig;
  engineConformance('ecs', {
    image: 'public.ecr.aws/docker/library/busybox:latest',
    async setup() {
      config = await motoEngineConfig('flotilla-ecs-conformance');
      return createEcsEngine(config);
    },
    async teardown() {
      if (config) await forgetTasks(config.cluster);
    },
    // moto runs nothing: write what the command would print, then report the exit as the agent would.
    async play(run, script) {
      if (script.output.length > 0) await writeTaskLogs(config.logGroup, run.engineRef!, script.output);
      await setTaskState(run.engineRef!, exited(script.exitCode));
    },
    timeoutMs: 15_000,
  });
});

// The mapping runs everywhere: it needs no peer.
describe('ECS task → run status', () => {
  const arn = 'arn:aws:ecs:us-east-1:123456789012:task/batch/0123456789abcdef';
  const task = (fields: Parameters<typeof taskStatus>[1]) => taskStatus('ecs-1', { taskArn: arn, ...fields });

  it.each([
    ['PROVISIONING', 'PENDING'],
    ['PENDING', 'PENDING'],
    ['ACTIVATING', 'PENDING'],
    ['RUNNING', 'RUNNING'],
    ['DEACTIVATING', 'PENDING'],
  ] as const)('lastStatus %s → %s', (lastStatus, status) => {
    expect(task({ lastStatus })).toMatchObject({ runId: 'ecs-1', status, engineRef: arn, podName: '0123456789abcdef' });
  });

  it('a task on its way out after it started is still RUNNING', () => {
    expect(task({ lastStatus: 'STOPPING', startedAt: new Date() }).status).toBe('RUNNING');
  });

  it('exit codes and reasons', () => {
    const stoppedAt = new Date('2024-01-01T00:00:10Z');
    expect(task({ lastStatus: 'STOPPED', stoppedAt, containers: [{ name: 'main', exitCode: 0 }] })).toMatchObject({
      status: 'STOPPED',
      exitCode: 0,
      exitReason: 'Exited successfully',
      finishedAt: stoppedAt,
    });
    expect(
      task({
        lastStatus: 'STOPPED',
        stopCode: 'EssentialContainerExited',
        stoppedReason: 'Essential container in task exited',
        containers: [
          { name: 'sidecar', exitCode: 0 },
          { name: 'main', exitCode: 2, reason: 'Error' },
        ],
      }),
    ).toMatchObject({ status: 'STOPPED', exitCode: 2, exitReason: 'EssentialContainerExited - Essential container in task exited - Error' });
    expect(task({ lastStatus: 'STOPPED', containers: [{ name: 'main', exitCode: 1 }] }).exitReason).toBe('Error');
    expect(
      task({ lastStatus: 'STOPPED', containers: [{ name: 'main', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' }] }),
    ).toMatchObject({ status: 'STOPPED', exitCode: 137, exitReason: 'OOMKilled' });
  });

  it.each([
    ['TaskFailedToStart', 'CannotPullContainerError: pull access denied'],
    ['TaskFailedToStart', 'CannotCreateContainerError: Error response from daemon'],
    ['TaskFailedToStart', 'CannotStartContainerError: exec format error'],
    ['TaskFailedToStart', 'ResourceInitializationError: unable to pull secrets or registry auth'],
    ['SpotInterruption', 'Your Spot Task was interrupted.'],
  ])('no exit code and %s "%s" → NEEDS_RETRY', (stopCode, stoppedReason) => {
    expect(task({ lastStatus: 'STOPPED', stopCode, stoppedReason, containers: [{ name: 'main' }] })).toMatchObject({
      status: 'NEEDS_RETRY',
      exitCode: null,
      exitReason: `${stopCode} - ${stoppedReason}`,
    });
  });

  it('stopped without an exit code for another reason is STOPPED with that reason', () => {
    expect(task({ lastStatus: 'STOPPED', stopCode: 'UserInitiated', stoppedReason: 'Task terminated by user', containers: [{ name: 'main' }] })).toMatchObject({
      status: 'STOPPED',
      exitCode: null,
      exitReason: 'UserInitiated - Task terminated by user',
    });
  });

  it('event messages: only ECS task state changes of Flotilla tasks on our cluster count', () => {
    const detail = {
      taskArn: arn,
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/batch',
      group: 'family:flotilla-def-1',
      startedBy: 'ecs-1',
      lastStatus: 'STOPPED',
      stoppedAt: '2024-01-01T00:00:10.000Z',
      containers: [{ name: 'main', exitCode: 0, cpu: '0' }],
    };
    expect(updateFromMessage(taskStateChange(detail), 'batch')).toMatchObject({
      runId: 'ecs-1',
      status: 'STOPPED',
      exitCode: 0,
      finishedAt: new Date('2024-01-01T00:00:10.000Z'),
    });
    expect(updateFromMessage(taskStateChange(detail), 'other')).toBeUndefined();
    expect(updateFromMessage(taskStateChange({ ...detail, group: 'service:web' }), 'batch')).toBeUndefined();
    expect(updateFromMessage(taskStateChange({ ...detail, startedBy: undefined }), 'batch')).toBeUndefined();
    expect(updateFromMessage(JSON.stringify({ source: 'aws.ecs', 'detail-type': 'ECS Container Instance State Change', detail }), 'batch')).toBeUndefined();
    expect(updateFromMessage('{', 'batch')).toBeUndefined();
  });

  it('AWS errors: throttling, server faults and "No Container Instances" retry; bad requests do not', () => {
    const err = (name: string, message: string, status: number, fault: 'client' | 'server' = 'client') =>
      Object.assign(new Error(message), { name, $fault: fault, $metadata: { httpStatusCode: status } });
    expect(classifyAwsError(err('ThrottlingException', 'Rate exceeded', 400), 'RunTask')).toBeInstanceOf(RetryableEngineError);
    expect(classifyAwsError(err('ServerException', 'boom', 500, 'server'), 'RunTask')).toBeInstanceOf(RetryableEngineError);
    expect(classifyAwsError(err('InvalidParameterException', 'No Container Instances were found in your cluster.', 400), 'RunTask')).toBeInstanceOf(
      RetryableEngineError,
    );
    expect(classifyAwsError(err('ClientException', 'Container.image should not be null or empty.', 400), 'RunTask')).toBeInstanceOf(PermanentEngineError);
    expect(classifyAwsError(err('InvalidParameterException', 'Invalid setting for container', 400), 'RunTask')).toBeInstanceOf(PermanentEngineError);
    expect(classifyAwsError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'RunTask')).toBeInstanceOf(RetryableEngineError);
  });

  it('the queue policy keeps statements that are not ours and replaces our own', () => {
    const other = { Sid: 'someone', Effect: 'Allow', Principal: '*', Action: 'sqs:ReceiveMessage', Resource: 'q' };
    const first = queuePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [other] }), 'arn:q', 'flotilla-ecs-batch', 'arn:rule:1');
    const second = JSON.parse(queuePolicy(first, 'arn:q', 'flotilla-ecs-batch', 'arn:rule:2')) as { Statement: { Sid: string; Condition?: unknown }[] };
    expect(second.Statement.map((s) => s.Sid)).toEqual(['someone', 'flotilla-flotilla-ecs-batch']);
    expect(second.Statement[1]!.Condition).toEqual({ ArnEquals: { 'aws:SourceArn': 'arn:rule:2' } });
  });

  it('log cursors: token and skip round-trip; a bare forward token is accepted', () => {
    expect(decodeLogCursor(encodeLogCursor({ token: 'f/0001', skip: 7 }))).toEqual({ token: 'f/0001', skip: 7 });
    expect(decodeLogCursor(null)).toEqual({ token: null, skip: 0 });
    expect(decodeLogCursor('f/00000000000000000000000000000000000000000000000000000042')).toEqual({
      token: 'f/00000000000000000000000000000000000000000000000000000042',
      skip: 0,
    });
  });
});
