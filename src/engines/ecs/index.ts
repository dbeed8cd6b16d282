// The ECS engine (docs/engines.md "ecs"): RunTask per run, status from DescribeTasks and from
// EventBridge events on SQS, logs from CloudWatch, StopTask to terminate.
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeTaskDefinitionCommand,
  ECSClient,
  DescribeTasksCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Failure,
  type Task,
} from '@aws-sdk/client-ecs';
import { SQSClient } from '@aws-sdk/client-sqs';
import { PermanentEngineError, RetryableEngineError, errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Engine, EngineRun, LogChunk, MissingRun, RunStatus, StatusUpdate, SubmitResult } from '../types.js';
import { awsClientOptions, awsErrorName, classifyAwsError, type EcsClients } from './aws.js';
import type { EcsEngineConfig } from './config.js';
import { watchTaskEvents } from './events.js';
import { LogRequestGate, followTaskLogs } from './logs.js';
import { buildRunTask, shortRunId } from './runTask.js';
import { runIdOf, taskId, taskStatus } from './status.js';
import { FINGERPRINT_TAG, buildTaskDefinition, taskDefinitionKey } from './taskDefinition.js';

export type { EcsEngineConfig, EcsLaunchType } from './config.js';
export type { EcsClients } from './aws.js';
export { createEcsClients } from './aws.js';
export { ecsSetup, type EcsSetupResult } from './setup.js';

export interface EcsEngineDeps {
  logger?: Logger;
  /** Pre-built SDK clients (tests add middleware to count or fail calls); the engine does not destroy them. */
  clients?: Partial<EcsClients>;
}

const DESCRIBE_BATCH = 100;
const KNOWN_STATUS_LIMIT = 10_000;

export function createEcsEngine(config: EcsEngineConfig, deps: EcsEngineDeps = {}): Engine {
  if (!config.cluster) throw new Error('ECS engine: no cluster configured (set FLOTILLA_ECS_CLUSTER)');
  if (config.launchType === 'FARGATE' && config.subnets.length === 0) {
    throw new Error('ECS engine: the FARGATE launch type needs subnets (set FLOTILLA_ECS_SUBNETS)');
  }
  const log = deps.logger;
  const options = awsClientOptions(config);
  const clients: EcsClients = {
    ecs: deps.clients?.ecs ?? new ECSClient(options),
    sqs: deps.clients?.sqs ?? new SQSClient(options),
    logs: deps.clients?.logs ?? new CloudWatchLogsClient(options),
  };
  const owned = (['ecs', 'sqs', 'logs'] as const).filter((k) => !deps.clients?.[k]);

  const taskDefinitions = new Map<string, Promise<string>>();
  /** Last status seen per run (submit, reconcile, events), so idle log readers rarely ask ECS. */
  const known = new Map<string, { status: RunStatus; at: number }>();
  const readers = new Map<string, AbortController>();
  const watchers = new Set<() => Promise<void>>();
  const closing = new AbortController();
  const gate = new LogRequestGate(config.logRequestsPerSecond ?? 10, config.throttleBackoffMs ?? 500, log);
  let region: Promise<string> | undefined;

  function remember(runId: string, status: RunStatus): void {
    known.delete(runId);
    known.set(runId, { status, at: Date.now() });
    if (known.size > KNOWN_STATUS_LIMIT) known.delete(known.keys().next().value as string);
  }

  /** Long ARNs name their cluster (`task/<cluster>/<id>`); short ones live on the configured cluster. */
  function clusterOf(taskArn: string): string {
    const parts = taskArn.split(':task/')[1]?.split('/') ?? [];
    return parts.length === 2 && parts[0] ? parts[0] : config.cluster;
  }

  async function describeTasks(cluster: string, arns: string[], withTags = false): Promise<{ tasks: Task[]; failures: Failure[] }> {
    try {
      const out = await clients.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns, ...(withTags ? { include: ['TAGS'] } : {}) }));
      return { tasks: out.tasks ?? [], failures: out.failures ?? [] };
    } catch (err) {
      throw classifyAwsError(err, 'DescribeTasks');
    }
  }

  /** Same run and same attempt; without tags (tagging disabled) only a live task counts as this attempt's. */
  function isThisAttempt(task: Task, run: EngineRun): boolean {
    if (runIdOf(task) !== run.runId) return false;
    const attempt = task.tags?.find((t) => t.key === 'flotilla-attempt')?.value;
    return attempt !== undefined ? attempt === String(run.attempt) : task.lastStatus !== 'STOPPED';
  }

  /**
   * The task this attempt of the run already has, if any. RunTask's clientToken makes a repeated
   * RunTask return the same task on AWS; looking first also covers emulators that ignore the token
   * and a resubmit after the token's idempotency window.
   */
  async function findTask(run: EngineRun): Promise<Task | undefined> {
    if (run.engineRef) {
      const { tasks } = await describeTasks(clusterOf(run.engineRef), [run.engineRef], true);
      const task = tasks.find((t) => isThisAttempt(t, run));
      if (task) return task;
    }
    let arns: string[];
    try {
      const out = await clients.ecs.send(new ListTasksCommand({ cluster: config.cluster, startedBy: shortRunId(run.runId) }));
      arns = out.taskArns ?? [];
    } catch (err) {
      throw classifyAwsError(err, 'ListTasks');
    }
    if (arns.length === 0) return undefined;
    const { tasks } = await describeTasks(config.cluster, arns.slice(0, DESCRIBE_BATCH), true);
    return tasks.find((t) => isThisAttempt(t, run));
  }

  async function ensureTaskDefinition(run: EngineRun): Promise<string> {
    const key = taskDefinitionKey(run);
    const cached = taskDefinitions.get(key);
    if (cached) return cached;
    const registering = (async () => {
      region ??= clients.ecs.config.region();
      const resolvedRegion = await region.catch((err: unknown) => {
        region = undefined;
        throw new RetryableEngineError(`ECS engine: no AWS region (set AWS_REGION): ${errorMessage(err)}`, { cause: err });
      });
      const { input, fingerprint } = buildTaskDefinition(run, config, resolvedRegion);
      try {
        // Cold cache: a revision registered before a restart is reused when it was built the same way.
        const latest = await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: input.family, include: ['TAGS'] }));
        const def = latest.taskDefinition;
        if (def?.taskDefinitionArn && def.status === 'ACTIVE' && latest.tags?.find((t) => t.key === FINGERPRINT_TAG)?.value === fingerprint) {
          return def.taskDefinitionArn;
        }
      } catch (err) {
        // ClientException = no such family yet; anything else is worth reporting.
        if (awsErrorName(err) !== 'ClientException') throw classifyAwsError(err, 'DescribeTaskDefinition');
      }
      try {
        const out = await clients.ecs.send(new RegisterTaskDefinitionCommand(input));
        const arn = out.taskDefinition?.taskDefinitionArn;
        if (!arn) throw new RetryableEngineError(`RegisterTaskDefinition for ${input.family} returned no ARN`);
        log?.info({ family: input.family, arn, definitionVersion: run.definitionVersion }, 'registered ECS task definition');
        return arn;
      } catch (err) {
        throw classifyAwsError(err, 'RegisterTaskDefinition');
      }
    })();
    taskDefinitions.set(key, registering);
    registering.catch(() => taskDefinitions.delete(key));
    return registering;
  }

  function submitResult(run: EngineRun, task: Task): SubmitResult {
    const update = taskStatus(run.runId, task);
    remember(run.runId, update.status);
    return {
      engineRef: task.taskArn ?? '',
      status: update.status,
      ...(update.podName ? { podName: update.podName } : {}),
      ...(update.startedAt ? { startedAt: update.startedAt } : {}),
      ...(update.exitCode !== undefined ? { exitCode: update.exitCode } : {}),
      ...(update.exitReason !== undefined ? { exitReason: update.exitReason } : {}),
      ...(update.finishedAt ? { finishedAt: update.finishedAt } : {}),
      ...(update.events ? { events: update.events } : {}),
    };
  }

  async function submit(run: EngineRun): Promise<SubmitResult> {
    const existing = await findTask(run);
    if (existing?.taskArn) return submitResult(run, existing);
    const taskDefinitionArn = await ensureTaskDefinition(run);
    const input = buildRunTask(run, taskDefinitionArn, config);
    let out;
    try {
      out = await clients.ecs.send(new RunTaskCommand(input));
    } catch (err) {
      // Someone deregistered our revision: forget it so the next attempt registers a new one.
      if (/inactive|task ?definition.*(not found|does not exist)/i.test(errorMessage(err))) {
        taskDefinitions.delete(taskDefinitionKey(run));
        throw new RetryableEngineError(`RunTask: ${errorMessage(err)} (the task definition will be registered again)`, { cause: err });
      }
      throw classifyAwsError(err, 'RunTask');
    }
    const task = out.tasks?.[0];
    if (task?.taskArn) return submitResult(run, task);
    const failures = out.failures ?? [];
    const reasons = failures.map((f) => [f.reason, f.detail].filter(Boolean).join(': ')).join('; ') || 'no task and no failure reason';
    // RESOURCE:* (no room on the cluster) and AGENT (agent disconnected) pass; ATTRIBUTE, MISSING… do not.
    const retryable = failures.length === 0 || failures.every((f) => /^RESOURCE:/.test(f.reason ?? '') || f.reason === 'AGENT');
    const message = `RunTask on ${config.cluster} failed: ${reasons}`;
    throw retryable ? new RetryableEngineError(message) : new PermanentEngineError(message);
  }

  async function reconcile(runs: EngineRun[]): Promise<(StatusUpdate | MissingRun)[]> {
    const results = new Map<string, StatusUpdate | MissingRun>();
    const byCluster = new Map<string, EngineRun[]>();
    for (const run of runs) {
      if (!run.engineRef) {
        // Submitted but the ARN never got recorded (crash between RunTask and the write): look it up.
        const task = await findTask(run);
        results.set(run.runId, task ? taskStatus(run.runId, task) : { runId: run.runId, missing: true });
        continue;
      }
      const cluster = clusterOf(run.engineRef);
      byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), run]);
    }
    for (const [cluster, clusterRuns] of byCluster) {
      for (let i = 0; i < clusterRuns.length; i += DESCRIBE_BATCH) {
        const batch = clusterRuns.slice(i, i + DESCRIBE_BATCH);
        const { tasks } = await describeTasks(
          cluster,
          batch.map((r) => r.engineRef as string),
        );
        const byId = new Map(tasks.map((t) => [taskId(t.taskArn ?? ''), t]));
        for (const run of batch) {
          // A task ECS no longer knows comes back as a MISSING failure (AWS) or not at all (moto).
          const task = byId.get(taskId(run.engineRef as string));
          results.set(run.runId, task ? taskStatus(run.runId, task) : { runId: run.runId, missing: true });
        }
      }
    }
    return runs.map((run) => {
      const result = results.get(run.runId) as StatusUpdate | MissingRun;
      if (!('missing' in result)) remember(run.runId, result.status);
      return result;
    });
  }

  async function isStopped(run: EngineRun): Promise<boolean> {
    const last = known.get(run.runId);
    if (last && (last.status === 'STOPPED' || last.status === 'NEEDS_RETRY')) return true;
    if (last && Date.now() - last.at < (config.statusCheckMs ?? 5000)) return false;
    try {
      const [status] = await reconcile([run]);
      // A task ECS has forgotten will not write anything more either.
      return !status || 'missing' in status || status.status === 'STOPPED' || status.status === 'NEEDS_RETRY';
    } catch (err) {
      log?.warn({ runId: run.runId, err: errorMessage(err) }, 'could not check whether the ECS task stopped');
      remember(run.runId, last?.status ?? 'RUNNING');
      return false;
    }
  }

  async function* logs(run: EngineRun, cursor: string | null, signal: AbortSignal): AsyncGenerator<LogChunk> {
    // One reader per run: a newer reader (a restarted collector) replaces an older one.
    readers.get(run.runId)?.abort();
    const own = new AbortController();
    readers.set(run.runId, own);
    const combined = AbortSignal.any([signal, own.signal, closing.signal]);
    try {
      yield* followTaskLogs(run, cursor, combined, {
        client: clients.logs,
        logGroup: config.logGroup,
        gate,
        pollMs: config.logPollMs ?? 1000,
        drainGraceMs: config.logDrainGraceMs ?? 3000,
        isStopped,
      });
      if (own.signal.aborted && !signal.aborted && !closing.signal.aborted) {
        throw new RetryableEngineError(`another log reader took over run ${run.runId}`);
      }
    } finally {
      if (readers.get(run.runId) === own) readers.delete(run.runId);
    }
  }

  async function terminate(run: EngineRun, reason: string): Promise<void> {
    const arn = run.engineRef ?? (await findTask(run))?.taskArn;
    if (!arn) return;
    try {
      await clients.ecs.send(new StopTaskCommand({ cluster: clusterOf(arn), task: arn, reason: reason.slice(0, 255) }));
    } catch (err) {
      // Already gone or already stopped is success; the error text differs between AWS and emulators.
      const { tasks } = await describeTasks(clusterOf(arn), [arn]).catch(() => ({ tasks: [{ lastStatus: 'UNKNOWN' }] as Task[] }));
      const task = tasks[0];
      if (!task || task.lastStatus === 'STOPPED') return;
      throw classifyAwsError(err, 'StopTask');
    }
  }

  const engine: Engine = {
    name: 'ecs',
    submit,
    reconcile,
    logs,
    terminate,
    async describe() {
      return {
        clusters: [config.cluster],
        capabilities: [config.launchType.toLowerCase(), ...(config.launchType === 'EC2' ? ['gpu'] : []), ...(config.eventsQueue ? ['events'] : [])],
      };
    },
    async close() {
      closing.abort();
      await Promise.all([...watchers].map((stop) => stop()));
      for (const k of owned) clients[k].destroy();
    },
  };
  if (config.eventsQueue) {
    const queue = config.eventsQueue;
    engine.watch = (onUpdate) => {
      const stop = watchTaskEvents(
        { client: clients.sqs, queue, cluster: config.cluster, waitSeconds: config.eventsWaitSeconds ?? 20, ...(log ? { logger: log } : {}) },
        (update) => {
          remember(update.runId, update.status);
          return onUpdate(update);
        },
      );
      const tracked = async () => {
        watchers.delete(tracked);
        await stop();
      };
      watchers.add(tracked);
      return tracked;
    };
  }
  return engine;
}
