// ECS task → run status (docs/engines.md "ecs" and the exit-reason table), pure.
// Used for DescribeTasks answers and for EventBridge "ECS Task State Change" details alike.
import type { EngineEvent, StatusUpdate } from '../types.js';
import { CONTAINER_NAME } from './taskDefinition.js';

export interface TaskContainerView {
  name?: string;
  exitCode?: number | null;
  reason?: string;
  lastStatus?: string;
}

/** The part of an ECS Task that Flotilla reads (the SDK's `Task` fits it). */
export interface TaskView {
  taskArn?: string;
  clusterArn?: string;
  lastStatus?: string;
  desiredStatus?: string;
  startedBy?: string;
  group?: string;
  taskDefinitionArn?: string;
  stopCode?: string;
  stoppedReason?: string;
  startedAt?: Date;
  stoppedAt?: Date;
  cpu?: string;
  memory?: string;
  containers?: TaskContainerView[];
  overrides?: { containerOverrides?: { name?: string; environment?: { name?: string; value?: string }[] }[] };
  tags?: { key?: string; value?: string }[];
}

/** Reasons ECS gives when the container never ran the command: infrastructure, so try again. */
const BEFORE_START = /CannotPullContainerError|CannotCreateContainerError|CannotStartContainerError|ResourceInitializationError/;
/** The host went away under a running task (spot reclaim, instance drained/terminated). */
const HOST_LOST_STOP_CODES = new Set(['SpotInterruption', 'TerminationNotice']);
const OOM = /OutOfMemoryError/;

type Outcome = 'pending' | 'running' | 'succeeded' | 'failed' | 'oom' | 'infrastructure' | 'stopped-without-exit-code';

export function mainContainer(task: TaskView): TaskContainerView | undefined {
  return task.containers?.find((c) => c.name === CONTAINER_NAME) ?? task.containers?.[0];
}

export function taskId(taskArn: string): string {
  return taskArn.slice(taskArn.lastIndexOf('/') + 1);
}

/** `stopCode`, `stoppedReason` and the main container's `reason`, joined by ` - `. */
export function stopReason(task: TaskView): string {
  const parts = [task.stopCode, task.stoppedReason, mainContainer(task)?.reason].map((p) => p?.trim()).filter((p): p is string => !!p);
  return [...new Set(parts)].join(' - ');
}

function outcome(task: TaskView): Outcome {
  switch (task.lastStatus) {
    case 'PROVISIONING':
    case 'PENDING':
    case 'ACTIVATING':
      return 'pending';
    case 'RUNNING':
      return 'running';
    // On the way out but not final: what it was before is what it still is.
    case 'DEACTIVATING':
    case 'STOPPING':
    case 'DEPROVISIONING':
      return task.startedAt ? 'running' : 'pending';
    case 'STOPPED':
    case 'DELETED': {
      const exitCode = mainContainer(task)?.exitCode;
      const reason = stopReason(task);
      if (OOM.test(reason)) return 'oom';
      if (typeof exitCode === 'number') return exitCode === 0 ? 'succeeded' : 'failed';
      if (BEFORE_START.test(reason) || HOST_LOST_STOP_CODES.has(task.stopCode ?? '')) return 'infrastructure';
      return 'stopped-without-exit-code';
    }
    default:
      // Unknown or missing lastStatus: report nothing newer than "waiting".
      return 'pending';
  }
}

function granted(task: TaskView): StatusUpdate['granted'] {
  const cpu = Number(task.cpu);
  const memory = Number(task.memory);
  const out: { cpu?: number; memory?: number } = {};
  if (task.cpu && Number.isFinite(cpu)) out.cpu = cpu;
  if (task.memory && Number.isFinite(memory)) out.memory = memory;
  return out.cpu !== undefined || out.memory !== undefined ? out : undefined;
}

function stoppedEvent(task: TaskView, reason: string, warning: boolean): EngineEvent {
  return {
    at: task.stoppedAt ?? new Date(),
    eventType: warning ? 'Warning' : 'Normal',
    reason: task.stopCode ?? 'Stopped',
    message: reason || 'Task stopped',
    ...(task.taskArn ? { sourceObject: task.taskArn } : {}),
  };
}

/** The status update for a run whose task looks like `task`. */
export function taskStatus(runId: string, task: TaskView): StatusUpdate {
  const base: StatusUpdate = {
    runId,
    status: 'PENDING',
    ...(task.taskArn ? { engineRef: task.taskArn, podName: taskId(task.taskArn) } : {}),
    ...(task.startedAt ? { startedAt: task.startedAt } : {}),
  };
  const g = granted(task);
  if (g) base.granted = g;
  const reason = stopReason(task);
  const exitCode = mainContainer(task)?.exitCode;
  const finished = task.stoppedAt ? { finishedAt: task.stoppedAt } : {};
  const result = outcome(task);
  switch (result) {
    case 'pending':
      return base;
    case 'running':
      return { ...base, status: 'RUNNING' };
    case 'succeeded':
      return { ...base, ...finished, status: 'STOPPED', exitCode: 0, exitReason: 'Exited successfully', events: [stoppedEvent(task, reason, false)] };
    case 'failed':
      return { ...base, ...finished, status: 'STOPPED', exitCode: exitCode ?? null, exitReason: reason || 'Error', events: [stoppedEvent(task, reason, true)] };
    case 'oom':
      return { ...base, ...finished, status: 'STOPPED', exitCode: 137, exitReason: 'OOMKilled', events: [stoppedEvent(task, reason, true)] };
    case 'infrastructure':
      return { ...base, ...finished, status: 'NEEDS_RETRY', exitCode: null, exitReason: reason, events: [stoppedEvent(task, reason, true)] };
    case 'stopped-without-exit-code':
      return { ...base, ...finished, status: 'STOPPED', exitCode: null, exitReason: reason || 'Task stopped', events: [stoppedEvent(task, reason, true)] };
    default: {
      const unreachable: never = result;
      throw new Error(`unhandled ECS outcome ${String(unreachable)}`);
    }
  }
}

/** The run a task belongs to: FLOTILLA_RUN_ID in the main container's overrides, else startedBy. */
export function runIdOf(task: TaskView): string | undefined {
  const overrides = task.overrides?.containerOverrides ?? [];
  const main = overrides.find((o) => o.name === CONTAINER_NAME) ?? overrides[0];
  const fromEnv = main?.environment?.find((e) => e.name === 'FLOTILLA_RUN_ID')?.value;
  return fromEnv || task.startedBy || undefined;
}

export function clusterMatches(clusterArn: string | undefined, cluster: string): boolean {
  if (!clusterArn) return false;
  return clusterArn === cluster || clusterArn.endsWith(`:cluster/${cluster}`);
}

/**
 * Tasks Flotilla started: on our cluster, from a `flotilla-` family (RunTask's default group is
 * `family:<family>`), and with a startedBy. Anything else sharing the cluster is not ours.
 */
export function isFlotillaTask(task: TaskView, cluster: string): boolean {
  return clusterMatches(task.clusterArn, cluster) && (task.group ?? '').startsWith('family:flotilla-') && !!task.startedBy && runIdOf(task) !== undefined;
}

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value === 'string' || typeof value === 'number') {
    // DescribeTasks JSON uses epoch seconds; EventBridge details use ISO strings.
    const d = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** An EventBridge "ECS Task State Change" `detail` as a TaskView (timestamps become Dates). */
export function taskFromEventDetail(detail: unknown): TaskView | undefined {
  if (typeof detail !== 'object' || detail === null) return undefined;
  const d = detail as Record<string, unknown>;
  const containers = Array.isArray(d.containers) ? (d.containers as Record<string, unknown>[]) : [];
  const task: TaskView = {
    containers: containers.map((c) => ({
      name: str(c.name),
      exitCode: typeof c.exitCode === 'number' ? c.exitCode : null,
      reason: str(c.reason),
      lastStatus: str(c.lastStatus),
    })),
  };
  for (const key of [
    'taskArn',
    'clusterArn',
    'lastStatus',
    'desiredStatus',
    'startedBy',
    'group',
    'taskDefinitionArn',
    'stopCode',
    'stoppedReason',
    'cpu',
    'memory',
  ] as const) {
    const v = d[key];
    if (typeof v === 'string') task[key] = v;
    else if (typeof v === 'number' && (key === 'cpu' || key === 'memory')) task[key] = String(v);
  }
  const startedAt = toDate(d.startedAt);
  const stoppedAt = toDate(d.stoppedAt);
  if (startedAt) task.startedAt = startedAt;
  if (stoppedAt) task.stoppedAt = stoppedAt;
  if (typeof d.overrides === 'object' && d.overrides !== null) task.overrides = d.overrides as TaskView['overrides'];
  return task;
}
