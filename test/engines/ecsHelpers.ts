// Test helpers for the ECS engine against moto_server (started by scripts/ci/moto.sh).
//
// moto keeps tasks RUNNING and never gives a container an exit code, so tests drive a task the
// way the ECS agent would through the route scripts/ci/moto.sh adds to moto's app
// (POST /_flotilla/ecs/task-state), and write log events to the task's stream the way the awslogs
// driver would. moto's own state manager is pinned so DescribeTasks does not walk tasks to STOPPED
// on its own (its default advances one state per describe).
import { randomUUID } from 'node:crypto';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateClusterCommand, ECSClient } from '@aws-sdk/client-ecs';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { EcsEngineConfig } from '../../src/engines/ecs/index.js';
import { logStreamName } from '../../src/engines/ecs/logs.js';

export const MOTO_URL = process.env.TEST_MOTO_URL || undefined;
export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
export const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Says why the moto tests do not run; in CI a missing peer is a failure, not a skip. */
export function announceMoto(file: string): void {
  if (MOTO_URL) return;
  const how = 'start moto with: eval "$(scripts/ci/moto.sh start)"';
  if (process.env.CI) throw new Error(`${file}: TEST_MOTO_URL is not set in CI; ${how}`);
  console.warn(`${file}: skipping the ECS engine tests against moto because TEST_MOTO_URL is not set (${how})`);
}

export const awsOptions = () => ({ endpoint: MOTO_URL, region: REGION, credentials: CREDENTIALS, maxAttempts: 1 });

/** Distinct names per test file and run, so files and reruns against one moto do not collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

async function moto(path: string, body: unknown): Promise<Response> {
  return fetch(`${MOTO_URL}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

/** Checks the task-state route exists and keeps moto from advancing tasks by itself. */
export async function prepareMoto(): Promise<void> {
  const health = await fetch(`${MOTO_URL}/_flotilla/health`).catch(() => undefined);
  if (!health?.ok) {
    throw new Error(`${MOTO_URL} is not the moto started by scripts/ci/moto.sh (no /_flotilla/health); the ECS tests need its task-state route`);
  }
  const res = await moto('/moto-api/state-manager/set-transition', { model_name: 'ecs::task', transition: { progression: 'manual', times: 1_000_000_000 } });
  if (!res.ok) throw new Error(`moto state-manager: ${res.status} ${await res.text()}`);
}

/** Drops a cluster's tasks from moto's memory (an older server without the route just keeps them). */
export async function forgetTasks(cluster: string): Promise<void> {
  await moto('/_flotilla/ecs/forget-tasks', { cluster }).catch(() => undefined);
}

export interface TaskState {
  lastStatus: 'PROVISIONING' | 'PENDING' | 'ACTIVATING' | 'RUNNING' | 'STOPPED';
  exitCode?: number | null;
  containerReason?: string;
  stopCode?: string;
  stoppedReason?: string;
}

/** What the ECS agent would report: sets the task's status, exit code and reasons in moto. */
export async function setTaskState(taskArn: string, state: TaskState): Promise<void> {
  const res = await moto('/_flotilla/ecs/task-state', { task: taskArn, ...state });
  if (!res.ok) throw new Error(`task-state ${taskArn}: ${res.status} ${await res.text()}`);
}

export function exited(exitCode: number): TaskState {
  return { lastStatus: 'STOPPED', exitCode, stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' };
}

/** The default VPC's first subnet (moto creates one per zone); raw EC2 query, no EC2 SDK here. */
export async function defaultSubnet(): Promise<string> {
  const res = await fetch(`${MOTO_URL}/?Action=DescribeSubnets&Version=2016-11-15`, {
    headers: { authorization: `AWS4-HMAC-SHA256 Credential=test/20240101/${REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0` },
  });
  const id = /<subnetId>([^<]+)<\/subnetId>/.exec(await res.text())?.[1];
  if (!id) throw new Error('moto returned no default subnet');
  return id;
}

export async function createCluster(name: string): Promise<void> {
  const ecs = new ECSClient(awsOptions());
  await ecs.send(new CreateClusterCommand({ clusterName: name }));
  ecs.destroy();
}

export async function createLogGroup(name: string): Promise<void> {
  const logs = new CloudWatchLogsClient(awsOptions());
  await logs.send(new CreateLogGroupCommand({ logGroupName: name })).catch((err: Error) => {
    if (err.name !== 'ResourceAlreadyExistsException') throw err;
  });
  logs.destroy();
}

export async function createQueue(name: string): Promise<string> {
  const sqs = new SQSClient(awsOptions());
  const out = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  sqs.destroy();
  return out.QueueUrl!;
}

/** A cluster, log group and queue of their own, and the engine config pointing at them. */
export async function motoEngineConfig(prefix: string, overrides: Partial<EcsEngineConfig> = {}): Promise<EcsEngineConfig> {
  const cluster = uniqueName(prefix);
  await prepareMoto();
  await createCluster(cluster);
  await createLogGroup(cluster);
  return {
    region: REGION,
    endpoint: MOTO_URL,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    cluster,
    launchType: 'FARGATE',
    subnets: [await defaultSubnet()],
    securityGroups: ['sg-flotilla-test'],
    logGroup: cluster,
    logPollMs: 50,
    statusCheckMs: 100,
    logDrainGraceMs: 0,
    throttleBackoffMs: 50,
    logRequestsPerSecond: 200,
    eventsWaitSeconds: 1,
    ...overrides,
  };
}

const lastTimestamp = new Map<string, number>();

/** Writes lines to the task's stream as the awslogs driver would (one event per line). */
export async function writeTaskLogs(logGroup: string, taskArn: string, lines: string[]): Promise<void> {
  const logs = new CloudWatchLogsClient(awsOptions());
  const stream = logStreamName(taskArn);
  try {
    if (!lastTimestamp.has(stream)) {
      await logs.send(new CreateLogStreamCommand({ logGroupName: logGroup, logStreamName: stream })).catch((err: Error) => {
        if (err.name !== 'ResourceAlreadyExistsException') throw err;
      });
    }
    // moto orders a stream by timestamp: keep them strictly increasing per stream.
    let ts = Math.max(Date.now(), (lastTimestamp.get(stream) ?? 0) + 1);
    for (let i = 0; i < lines.length; i += 5000) {
      const logEvents = lines.slice(i, i + 5000).map((message) => ({ timestamp: ts++, message }));
      await logs.send(new PutLogEventsCommand({ logGroupName: logGroup, logStreamName: stream, logEvents }));
    }
    lastTimestamp.set(stream, ts - 1);
  } finally {
    logs.destroy();
  }
}

/** An EventBridge "ECS Task State Change" envelope, as the rule delivers it to SQS. */
export function taskStateChange(detail: Record<string, unknown>): string {
  return JSON.stringify({
    version: '0',
    id: randomUUID(),
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: REGION,
    resources: detail.taskArn ? [detail.taskArn] : [],
    detail,
  });
}

export async function sendToQueue(queueUrl: string, body: string): Promise<void> {
  const sqs = new SQSClient(awsOptions());
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  sqs.destroy();
}

interface MiddlewareClient {
  middlewareStack: { add(middleware: unknown, options: { step: 'initialize'; name: string }): void };
}

/** Records every command a client sends (name and input), counted per command. */
export function recordCalls(client: MiddlewareClient): { calls: { command: string; input: unknown; at: number }[]; count(command: string): number } {
  const calls: { command: string; input: unknown; at: number }[] = [];
  client.middlewareStack.add(
    (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: unknown }) => {
      calls.push({ command: context.commandName ?? '?', input: structuredClone(args.input), at: Date.now() });
      return next(args);
    },
    { step: 'initialize', name: `recordCalls-${randomUUID()}` },
  );
  return { calls, count: (command) => calls.filter((c) => c.command === command).length };
}

/** Answers the next `times` calls of `command` with a ThrottlingException, as AWS does when over the rate. */
export function throttle(client: MiddlewareClient, command: string, times: number): { attempts: number[]; passed: number[] } {
  const attempts: number[] = [];
  const passed: number[] = [];
  let left = times;
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      if (context.commandName === command && left > 0) {
        left -= 1;
        attempts.push(Date.now());
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
      }
      if (context.commandName === command) passed.push(Date.now());
      return next(args);
    },
    { step: 'initialize', name: `throttle-${randomUUID()}` },
  );
  return { attempts, passed };
}
