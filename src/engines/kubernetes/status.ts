// Job + pod → run status (docs/engines.md "kubernetes" and the exit-reason table).
// Pure: the same objects give the same answer whether they came from a list (dates parsed by
// the client) or a watch stream (dates as strings), so every date goes through toDate().
import type { CoreV1Event, V1ContainerStatus, V1Job, V1JobCondition, V1Pod } from '@kubernetes/client-node';
import type { EngineEvent, StatusUpdate } from '../types.js';
import { CONTAINER_NAME } from './jobManifest.js';

/** Waiting reasons that mean the command never started; after the grace period the run is retried. */
export const START_FAILURE_REASONS: ReadonlySet<string> = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
]);

/** Pod status reasons that mean the node or the scheduler took the pod away before it exited. */
const DISRUPTION_REASONS: ReadonlySet<string> = new Set([
  'Evicted',
  'NodeLost',
  'NodeShutdown',
  'Shutdown',
  'Terminated',
  'Preempting',
  'UnexpectedAdmissionError',
]);

export type Outcome =
  | { kind: 'succeeded' }
  | { kind: 'exited'; exitCode: number; reason: string }
  | { kind: 'oomKilled' }
  | { kind: 'deadlineExceeded'; message: string }
  | { kind: 'disrupted'; reason: string }
  | { kind: 'startFailed'; reason: string }
  | { kind: 'lost'; reason: string };

export interface MappedState {
  update: Omit<StatusUpdate, 'runId'>;
  /** NEEDS_RETRY: the Job must be deleted before the run is resubmitted under the same name. */
  terminate: boolean;
  /** A start failure still inside its grace period: look again at this time (epoch ms). */
  recheckAt?: number;
}

export function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'string' && value) {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

function mainContainer(pod: V1Pod | undefined): V1ContainerStatus | undefined {
  const statuses = pod?.status?.containerStatuses ?? [];
  return statuses.find((c) => c.name === CONTAINER_NAME) ?? statuses[0];
}

function terminalCondition(job: V1Job | undefined): { succeeded: boolean; condition?: V1JobCondition } | undefined {
  const conditions = job?.status?.conditions ?? [];
  const isTrue = (c: V1JobCondition) => c.status === 'True';
  const failed = conditions.find((c) => isTrue(c) && (c.type === 'Failed' || c.type === 'FailureTarget'));
  if (failed) return { succeeded: false, condition: failed };
  const complete = conditions.find((c) => isTrue(c) && (c.type === 'Complete' || c.type === 'SuccessCriteriaMet'));
  if (complete || (job?.status?.succeeded ?? 0) > 0) return { succeeded: true, condition: complete };
  if ((job?.status?.failed ?? 0) > 0) return { succeeded: false };
  return undefined;
}

/** The Job has finished one way or the other (it will start no more pods). */
export function isJobFinished(job: V1Job | undefined): boolean {
  return terminalCondition(job) !== undefined;
}

function joinReason(reason: string | undefined, message: string | undefined, fallback: string): string {
  const r = reason?.trim();
  const m = message?.trim();
  if (r && m) return `${r}: ${m}`;
  return r || m || fallback;
}

/** Why a pod that is no longer running ended, from the pod alone. */
function podOutcome(pod: V1Pod): Outcome | undefined {
  const status = pod.status ?? {};
  const disruption = (status.conditions ?? []).find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  const terminated = mainContainer(pod)?.state?.terminated;
  if (status.reason === 'DeadlineExceeded')
    return { kind: 'deadlineExceeded', message: status.message || 'Pod was active on the node longer than the specified deadline' };
  if ((status.reason && DISRUPTION_REASONS.has(status.reason)) || (disruption && terminated?.exitCode !== 0)) {
    return { kind: 'disrupted', reason: joinReason(status.reason ?? disruption?.reason, status.message ?? disruption?.message, 'Pod was disrupted') };
  }
  if (terminated) {
    if (terminated.reason === 'OOMKilled') return { kind: 'oomKilled' };
    // The kubelet writes this when it lost track of the container, e.g. its node went away.
    if (terminated.reason === 'ContainerStatusUnknown')
      return { kind: 'disrupted', reason: joinReason(terminated.reason, terminated.message, 'Container status unknown') };
    if (terminated.exitCode === 0) return { kind: 'succeeded' };
    return { kind: 'exited', exitCode: terminated.exitCode, reason: joinReason(terminated.reason, terminated.message, 'Error') };
  }
  if (status.phase === 'Succeeded') return { kind: 'succeeded' };
  if (status.phase === 'Failed') return { kind: 'lost', reason: joinReason(status.reason, status.message, 'Pod failed before its container reported an exit') };
  return undefined;
}

/** A start failure (image pull, container config) still waiting in the pod, if any. */
function startFailure(pod: V1Pod): { reason: string; message?: string } | undefined {
  const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of all) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && START_FAILURE_REASONS.has(waiting.reason)) return { reason: waiting.reason, message: waiting.message };
  }
  return undefined;
}

function outcomeUpdate(outcome: Outcome, podName: string): Pick<MappedState, 'terminate'> & { update: Omit<StatusUpdate, 'runId'> } {
  switch (outcome.kind) {
    case 'succeeded':
      return { terminate: false, update: { status: 'STOPPED', exitCode: 0, exitReason: `Pod ${podName} Exited Successfully` } };
    case 'exited':
      return { terminate: false, update: { status: 'STOPPED', exitCode: outcome.exitCode, exitReason: outcome.reason } };
    case 'oomKilled':
      return { terminate: false, update: { status: 'STOPPED', exitCode: 137, exitReason: 'OOMKilled' } };
    case 'deadlineExceeded':
      return { terminate: false, update: { status: 'STOPPED', exitCode: 124, exitReason: outcome.message } };
    case 'disrupted':
    case 'startFailed':
    case 'lost':
      return { terminate: true, update: { status: 'NEEDS_RETRY', exitCode: null, exitReason: outcome.reason } };
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled outcome ${JSON.stringify(unreachable)}`);
    }
  }
}

export interface MapInput {
  job: V1Job | undefined;
  /** The run's newest pod, possibly already deleted (last known state). */
  pod: V1Pod | undefined;
  /** Name to report when no pod is known. */
  podNameFallback: string;
  now: number;
  /** How long a start failure may last before the run is retried. */
  startFailureGraceMs: number;
}

export function mapRunState({ job, pod, podNameFallback, now, startFailureGraceMs }: MapInput): MappedState {
  const podName = pod?.metadata?.name ?? podNameFallback;
  const container = mainContainer(pod);
  const startedAt = toDate(container?.state?.running?.startedAt) ?? toDate(container?.state?.terminated?.startedAt) ?? toDate(pod?.status?.startTime);
  const common: Omit<StatusUpdate, 'runId' | 'status'> = {};
  if (pod?.metadata?.name) common.podName = pod.metadata.name;
  if (pod?.spec?.nodeName) common.instance = { dnsName: pod.spec.nodeName };
  if (job?.metadata?.name) common.engineRef = job.metadata.name;
  const granted = grantedResources(pod);
  if (granted) common.granted = granted;

  const end = terminalCondition(job);
  let outcome: Outcome | undefined;
  if (end?.condition?.reason === 'DeadlineExceeded') {
    outcome = { kind: 'deadlineExceeded', message: end.condition.message || 'Job was active longer than specified deadline' };
  } else if (pod) {
    const fromPod = podOutcome(pod);
    // A pod killed while being deleted under a Job that has not ended was ended from outside:
    // the Job's deadline (the controller marks the Job, then kills the pod) or a stop. Its
    // SIGTERM exit (143) is not the run's result; the Job says why once it has caught up (the
    // Job and pod watches, or lists, are not ordered with each other).
    if (!end && pod.metadata?.deletionTimestamp && fromPod?.kind === 'exited') {
      return { terminate: false, update: { ...common, status: 'RUNNING', ...(startedAt ? { startedAt } : {}) } };
    }
    // The pod says how it ended; a Job that says "succeeded" outranks a pod that lags behind.
    outcome = end?.succeeded ? { kind: 'succeeded' } : fromPod;
    if (!outcome && end) outcome = { kind: 'lost', reason: joinReason(end.condition?.reason, end.condition?.message, 'Job failed') };
  } else if (end) {
    outcome = end.succeeded
      ? { kind: 'succeeded' }
      : { kind: 'lost', reason: joinReason(end.condition?.reason, end.condition?.message, 'Job failed and its pod is gone') };
  }

  if (outcome) {
    const mapped = outcomeUpdate(outcome, podName);
    const finishedAt =
      toDate(container?.state?.terminated?.finishedAt) ?? toDate(job?.status?.completionTime) ?? toDate(end?.condition?.lastTransitionTime) ?? new Date(now);
    const update = { ...common, ...mapped.update, finishedAt };
    if (startedAt) update.startedAt = startedAt;
    return { terminate: mapped.terminate, update };
  }

  if (pod) {
    const failure = startFailure(pod);
    if (failure) {
      const since = toDate(pod.metadata?.creationTimestamp)?.getTime() ?? now;
      const due = since + startFailureGraceMs;
      if (now >= due) {
        const mapped = outcomeUpdate({ kind: 'startFailed', reason: joinReason(failure.reason, failure.message, 'Container could not start') }, podName);
        return { terminate: true, update: { ...common, ...mapped.update } };
      }
      return { terminate: false, update: { ...common, status: 'PENDING' }, recheckAt: due };
    }
    if (pod.status?.phase === 'Running' || container?.state?.running) {
      return { terminate: false, update: { ...common, status: 'RUNNING', ...(startedAt ? { startedAt } : {}) } };
    }
  }
  return { terminate: false, update: { ...common, status: 'PENDING' } };
}

/** A key that changes when what the run's owner would see changes (used to skip repeats). */
export function stateKey(state: MappedState): string {
  const u = state.update;
  return [u.status, u.exitCode ?? '', u.exitReason ?? '', u.podName ?? '', u.instance?.dnsName ?? ''].join('|');
}

/** Quantity → CPU units (millicores) or MB, for the `granted` facts of an update. */
export function parseQuantity(q: string, unit: 'millicores' | 'mb'): number | undefined {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  if (unit === 'millicores') return suffix === 'm' ? n : suffix === '' ? n * 1000 : undefined;
  const factors: Record<string, number> = { '': 1e-6, k: 1e-3, M: 1, G: 1e3, T: 1e6, Ki: 1024 / 1e6, Mi: 1.048576, Gi: 1073.741824, Ti: 1099511.627776 };
  const f = factors[suffix];
  return f === undefined ? undefined : Math.round(n * f);
}

function grantedResources(pod: V1Pod | undefined): StatusUpdate['granted'] | undefined {
  const limits = pod?.spec?.containers?.find((c) => c.name === CONTAINER_NAME)?.resources?.limits;
  if (!limits) return undefined;
  const cpu = limits.cpu !== undefined ? parseQuantity(String(limits.cpu), 'millicores') : undefined;
  const memory = limits.memory !== undefined ? parseQuantity(String(limits.memory), 'mb') : undefined;
  if (cpu === undefined && memory === undefined) return undefined;
  return { ...(cpu !== undefined ? { cpu } : {}), ...(memory !== undefined ? { memory } : {}) };
}

/**
 * Whether a pod was made by this Job. A retried run reuses the Job name, so pods of the
 * previous attempt's Job (still being deleted) carry the same labels; only the owner uid tells.
 */
export function podBelongsTo(pod: V1Pod, job: V1Job | undefined): boolean {
  const uid = job?.metadata?.uid;
  if (!uid) return true;
  const labels = pod.metadata?.labels ?? {};
  const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === 'Job')?.uid ?? labels['batch.kubernetes.io/controller-uid'] ?? labels['controller-uid'];
  return owner === undefined || owner === uid;
}

/** The run a pod belongs to: Job pods are named `<job>-<5 random chars>`, and the Job is the run id. */
export function runIdOfPodName(podName: string): string {
  const dash = podName.lastIndexOf('-');
  return dash > 0 ? podName.slice(0, dash) : podName;
}

export function engineEventOf(event: CoreV1Event): EngineEvent {
  const at = toDate(event.eventTime) ?? toDate(event.lastTimestamp) ?? toDate(event.firstTimestamp) ?? toDate(event.metadata?.creationTimestamp) ?? new Date();
  const out: EngineEvent = { at, eventType: event.type ?? 'Normal', reason: event.reason ?? '', message: event.message ?? '' };
  const obj = event.involvedObject;
  if (obj?.name) out.sourceObject = `${(obj.kind ?? 'pod').toLowerCase()}/${obj.name}`;
  return out;
}
