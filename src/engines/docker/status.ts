// How Docker's view of a container becomes a run status (docs/engines.md "Exit codes and
// reasons"). Pure: the engine feeds it `docker inspect` output and its own failures.
import type { EngineEvent, StatusUpdate } from '../types.js';

/** The part of `GET /containers/{id}/json` the mapping reads. */
export interface ContainerFacts {
  Id: string;
  Name: string;
  Config?: { Labels?: Record<string, string> | null };
  HostConfig?: { Memory?: number; NanoCpus?: number };
  State: {
    Status: string;
    OOMKilled: boolean;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
  };
}

/** Docker reports "never" as Go's zero time. */
function dockerTime(value: string | undefined): Date | undefined {
  if (!value || value.startsWith('0001-01-01')) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

type DockerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

function knownState(status: string): DockerState {
  switch (status) {
    case 'created':
    case 'running':
    case 'paused':
    case 'restarting':
    case 'removing':
    case 'exited':
    case 'dead':
      return status;
    default:
      // A newer daemon may add states; treat an unknown one as "still going" so the
      // reconciler keeps asking rather than ending the run on a guess.
      return 'running';
  }
}

export function containerStatus(runId: string, info: ContainerFacts): StatusUpdate {
  const s = info.State;
  const startedAt = dockerTime(s.StartedAt);
  const finishedAt = dockerTime(s.FinishedAt);
  const base: StatusUpdate = {
    runId,
    status: 'PENDING',
    engineRef: info.Name.replace(/^\//, ''),
    podName: info.Name.replace(/^\//, ''),
    granted: {
      ...(info.HostConfig?.NanoCpus ? { cpu: Math.round((info.HostConfig.NanoCpus / 1e9) * 1024) } : {}),
      ...(info.HostConfig?.Memory ? { memory: Math.round(info.HostConfig.Memory / (1024 * 1024)) } : {}),
    },
  };
  const state = knownState(s.Status);
  switch (state) {
    case 'created':
      // A start that failed leaves the container "created" with the runtime's error.
      if (s.Error) return startFailed(base, s.Error);
      return base;
    case 'running':
    case 'paused':
    case 'restarting':
      return { ...base, status: 'RUNNING', ...(startedAt ? { startedAt } : {}) };
    case 'removing':
    case 'exited':
    case 'dead':
      if (!startedAt && s.Error) return startFailed(base, s.Error);
      return {
        ...base,
        status: 'STOPPED',
        exitCode: s.OOMKilled ? 137 : s.ExitCode,
        exitReason: s.OOMKilled ? 'OOMKilled' : s.ExitCode === 0 ? 'Exited successfully' : s.Error || 'Error',
        ...(startedAt ? { startedAt } : {}),
        ...(finishedAt ? { finishedAt } : {}),
      };
    default: {
      const never: never = state;
      throw new Error(`unhandled docker state ${String(never)}`);
    }
  }
}

function startFailed(base: StatusUpdate, message: string): StatusUpdate {
  const out = failureOutcome({ kind: 'start', message });
  if (out.status !== 'NEEDS_RETRY') throw new Error('a start failure is always retried');
  return { ...base, status: 'NEEDS_RETRY', exitReason: out.exitReason };
}

/** What went wrong on the way to a running container. */
export type DockerFailure =
  | { kind: 'pull'; message: string }
  | { kind: 'create'; message: string }
  | { kind: 'start'; message: string }
  /** The daemon rejected the request itself (bad image name, invalid limits). */
  | { kind: 'invalid'; message: string }
  /** The daemon did not answer, or answered with a server error before doing anything. */
  | { kind: 'unreachable'; message: string };

export type FailureOutcome =
  { status: 'NEEDS_RETRY'; exitReason: string } | { status: 'PERMANENT'; message: string } | { status: 'RETRYABLE'; message: string };

/**
 * The one place a failure becomes a status. Image, create and start failures happen before
 * the command ran, so the run is retried (NEEDS_RETRY counts attempts, and the run ends
 * STOPPED after max_attempts); the reasons use ECS's names so that users see one vocabulary.
 */
export function failureOutcome(f: DockerFailure): FailureOutcome {
  switch (f.kind) {
    case 'pull':
      return { status: 'NEEDS_RETRY', exitReason: `CannotPullContainerError: ${f.message}` };
    case 'create':
      return { status: 'NEEDS_RETRY', exitReason: `CannotCreateContainerError: ${f.message}` };
    case 'start':
      return { status: 'NEEDS_RETRY', exitReason: `CannotStartContainerError: ${f.message}` };
    case 'invalid':
      return { status: 'PERMANENT', message: f.message };
    case 'unreachable':
      return { status: 'RETRYABLE', message: f.message };
    default: {
      const never: never = f;
      throw new Error(`unhandled docker failure ${JSON.stringify(never)}`);
    }
  }
}

/** A daemon event (`GET /events`) as a timeline entry; null for actions the timeline skips. */
export function eventFromDocker(e: {
  Action?: string;
  status?: string;
  time?: number;
  timeNano?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}): EngineEvent | null {
  const action = e.Action ?? e.status ?? '';
  const at = e.timeNano ? new Date(Math.floor(e.timeNano / 1e6)) : new Date((e.time ?? 0) * 1000);
  const name = e.Actor?.Attributes?.name;
  const source = name ? `container/${name}` : undefined;
  const ev = (eventType: string, reason: string, message: string): EngineEvent => ({
    at,
    eventType,
    reason,
    message,
    ...(source ? { sourceObject: source } : {}),
  });
  switch (action) {
    case 'create':
      return ev('Normal', 'Created', 'Container created');
    case 'start':
      return ev('Normal', 'Started', 'Container started');
    case 'oom':
      return ev('Warning', 'OOMKilled', 'The container exceeded its memory limit and was killed');
    case 'die':
      return ev('Normal', 'Died', `Container exited with code ${e.Actor?.Attributes?.exitCode ?? '?'}`);
    case 'kill':
      return ev('Normal', 'Killing', `Sent signal ${e.Actor?.Attributes?.signal ?? '?'}`);
    default:
      return null;
  }
}
