// RunTask input for a run (pure).
import { createHash } from 'node:crypto';
import type { ContainerOverride, RunTaskCommandInput, Tag, TaskOverride } from '@aws-sdk/client-ecs';
import { PermanentEngineError } from '../../errors.js';
import type { EngineRun } from '../types.js';
import type { EcsEngineConfig } from './config.js';
import { CONTAINER_NAME, fargateSize, tagKey, tagValue, usesAwsvpc } from './taskDefinition.js';

/** ECS limits: startedBy ≤ 36 characters of [A-Za-z0-9_/-] (StartTask's limit; RunTask's docs now say 128). */
const STARTED_BY = /^[A-Za-z0-9_/-]{1,36}$/;
/** clientToken: up to 64 printable ASCII characters (33–126). */
const CLIENT_TOKEN = /^[\x21-\x7e]{1,64}$/;
const MAX_TAGS = 50;

function hash(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * Run ids (`<engine>-<uuid tail>`) are 36 characters and fit `startedBy` as they are, which lets
 * an operator find a run's task with `aws ecs list-tasks --started-by <run id>`. Anything longer
 * or with other characters becomes a stable hash; the run id itself then travels in the task's
 * FLOTILLA_RUN_ID override, which is where the status mapping looks first.
 */
export function shortRunId(runId: string): string {
  return STARTED_BY.test(runId) ? runId : `fl-${hash(runId).slice(0, 33)}`;
}

/**
 * The idempotency token. Attempt 1 uses the run id itself; a retried run (after NEEDS_RETRY)
 * needs a new task, and ECS would answer the plain run id with the failed attempt's task.
 */
export function clientToken(runId: string, attempt: number): string {
  const token = attempt > 1 ? `${runId}/${attempt}` : runId;
  return CLIENT_TOKEN.test(token) ? token : hash(token).slice(0, 64);
}

export function runEnvironment(run: Pick<EngineRun, 'runId' | 'env'>): { name: string; value: string }[] {
  const env = run.env.map((e) => ({ name: e.name, value: e.value }));
  // Events and DescribeTasks are mapped back to runs through this variable; make sure it is there.
  if (!env.some((e) => e.name === 'FLOTILLA_RUN_ID')) env.push({ name: 'FLOTILLA_RUN_ID', value: run.runId });
  return env;
}

export function runTags(run: EngineRun): Tag[] {
  const tags: Tag[] = [];
  const seen = new Set<string>();
  const add = (key: string, value: string) => {
    const k = tagKey(key);
    if (!k || seen.has(k) || tags.length >= MAX_TAGS) return;
    seen.add(k);
    tags.push({ key: k, value: tagValue(value) });
  };
  add('flotilla-run-id', run.runId);
  add('flotilla-definition-id', run.definitionId);
  add('flotilla-attempt', String(run.attempt));
  if (run.owner) add('owner', run.owner);
  if (run.clusterName) add('cluster-name', run.clusterName);
  for (const [key, value] of Object.entries(run.labels).sort(([a], [b]) => a.localeCompare(b))) add(key, value);
  return tags;
}

export function buildRunTask(
  run: EngineRun,
  taskDefinitionArn: string,
  config: Pick<EcsEngineConfig, 'cluster' | 'launchType' | 'subnets' | 'securityGroups' | 'assignPublicIp' | 'shell'>,
): RunTaskCommandInput {
  const fargate = config.launchType === 'FARGATE';
  if (fargate && run.gpu) throw new PermanentEngineError('Fargate has no GPUs: run GPU jobs on an ECS cluster with the EC2 launch type');
  if (fargate && config.subnets.length === 0) {
    throw new PermanentEngineError('FARGATE tasks need subnets: set FLOTILLA_ECS_SUBNETS');
  }
  const shell = config.shell ?? 'bash';
  const container: ContainerOverride = {
    name: CONTAINER_NAME,
    ...(run.command !== null ? { command: [shell, '-c', run.command] } : {}),
    environment: runEnvironment(run),
    cpu: run.cpu,
    memory: run.memory,
    ...(run.gpu ? { resourceRequirements: [{ type: 'GPU', value: String(run.gpu) }] } : {}),
  };
  const overrides: TaskOverride = { containerOverrides: [container] };
  if (fargate) {
    const size = fargateSize(run.cpu, run.memory);
    overrides.cpu = String(size.cpu);
    overrides.memory = String(size.memory);
    // Fargate gives 20 GiB without asking; more must be requested (21–200 GiB).
    if (run.ephemeralStorage && run.ephemeralStorage > 20 * 1024) {
      overrides.ephemeralStorage = { sizeInGiB: Math.min(200, Math.ceil(run.ephemeralStorage / 1024)) };
    }
  }
  const awsvpc = usesAwsvpc(config);
  return {
    cluster: config.cluster,
    taskDefinition: taskDefinitionArn,
    count: 1,
    launchType: config.launchType,
    clientToken: clientToken(run.runId, run.attempt),
    startedBy: shortRunId(run.runId),
    overrides,
    ...(awsvpc
      ? {
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets: [...config.subnets],
              ...(config.securityGroups.length > 0 ? { securityGroups: [...config.securityGroups] } : {}),
              ...(fargate ? { assignPublicIp: config.assignPublicIp ? 'ENABLED' : 'DISABLED' } : {}),
            },
          },
        }
      : {}),
    ...(!fargate && run.arch
      ? {
          placementConstraints: [
            { type: 'memberOf', expression: `attribute:ecs.cpu-architecture == ${/^(arm64|aarch64|arm)$/i.test(run.arch) ? 'arm64' : 'x86_64'}` },
          ],
        }
      : {}),
    tags: runTags(run),
  };
}
