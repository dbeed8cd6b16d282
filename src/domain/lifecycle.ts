// The run state machine (docs/architecture.md "The run state machine"). Every change of a
// run's status is one of the moves below; each names the statuses it may start from and the
// fields it sets. `runUpdates.ts` is the only code that carries a move out (one conditional
// UPDATE plus its run_events row, then the publish), so the rules live here and only here.
//
// Rank: NEEDS_RETRY < QUEUED < PENDING < RUNNING < STOPPED. STOPPED is final.
import type { RunRow } from '../db/schema.js';
import type { RunStatus, StatusUpdate, SubmitResult } from '../engines/types.js';
import type { RunFacts } from '../store/runs.js';

export type { RunStatus };

export const RUN_STATUSES: readonly RunStatus[] = ['QUEUED', 'PENDING', 'RUNNING', 'STOPPED', 'NEEDS_RETRY'];

export const RANK: Record<RunStatus, number> = { NEEDS_RETRY: -1, QUEUED: 0, PENDING: 1, RUNNING: 2, STOPPED: 3 };

export function isRunStatus(value: unknown): value is RunStatus {
  return typeof value === 'string' && (RUN_STATUSES as readonly string[]).includes(value);
}

export type MoveName = 'queue' | 'claim' | 'submit' | 'start' | 'finish' | 'fail' | 'retry' | 'giveUp' | 'timeOut' | 'lose' | 'stop';

export interface MoveRule {
  /** Statuses the run may be in for the move to be accepted (empty: the move creates the run). */
  from: readonly RunStatus[];
  /** Statuses the move may lead to. */
  to: readonly RunStatus[];
  /** What it is, in one line (shown in docs/architecture.md). */
  what: string;
}

/**
 * Every move. NEEDS_RETRY → PENDING/RUNNING is refused although it raises the rank: a run
 * waiting to be retried has had its engine object terminated, so such an update is about the
 * old attempt.
 */
export const MOVES: Record<MoveName, MoveRule> = {
  queue: { from: [], to: ['QUEUED'], what: 'execute: the new row is the queue entry' },
  claim: { from: ['QUEUED'], to: ['QUEUED'], what: 'a submitter leases a due run (no status change)' },
  submit: {
    from: ['QUEUED'],
    to: ['PENDING', 'RUNNING', 'STOPPED', 'NEEDS_RETRY'],
    what: 'the engine accepted the run (or refused it for good: STOPPED)',
  },
  start: { from: ['QUEUED', 'PENDING'], to: ['RUNNING'], what: 'the engine (or the job) reports the process running' },
  finish: {
    from: ['QUEUED', 'PENDING', 'RUNNING', 'NEEDS_RETRY'],
    to: ['STOPPED'],
    what: 'the engine (or the job) reports the end with an exit code',
  },
  fail: { from: ['QUEUED', 'PENDING', 'RUNNING'], to: ['NEEDS_RETRY'], what: 'the engine lost the attempt (node gone, evicted)' },
  retry: { from: ['NEEDS_RETRY'], to: ['QUEUED'], what: 'the retrier queues the next attempt, with backoff' },
  giveUp: { from: ['NEEDS_RETRY'], to: ['STOPPED'], what: 'the retrier stops a run out of attempts' },
  timeOut: { from: ['RUNNING'], to: ['STOPPED'], what: 'the sweeper stops a run past its active deadline' },
  lose: { from: ['PENDING', 'RUNNING'], to: ['STOPPED'], what: 'the backend object has been missing past the grace period' },
  stop: {
    from: ['QUEUED', 'PENDING', 'RUNNING', 'NEEDS_RETRY'],
    to: ['STOPPED'],
    what: 'a user stops the run; the stop intent is stored with it',
  },
};

export const MOVE_NAMES = Object.keys(MOVES) as MoveName[];

/** Whether `move` may take a run from `from` to `to`. */
export function canMove(move: MoveName, from: RunStatus, to: RunStatus = MOVES[move].to[0]!): boolean {
  const rule = MOVES[move];
  return rule.from.includes(from) && rule.to.includes(to);
}

/**
 * The move for a status someone reports without saying why (an engine update, the job's own
 * `PUT /{run_id}/status`): the most general move that leads there.
 */
export function reportedMove(to: RunStatus): MoveName {
  switch (to) {
    case 'QUEUED':
      return 'retry';
    case 'PENDING':
      return 'submit';
    case 'RUNNING':
      return 'start';
    case 'STOPPED':
      return 'finish';
    case 'NEEDS_RETRY':
      return 'fail';
  }
}

/** Moves that leave a stop intent: the engine object must go, and a worker sees that it does. */
export const STOP_INTENT_MOVES: readonly MoveName[] = ['stop', 'timeOut'];

// ---- The fields each move sets. Pure functions: unit-tested without a database. ----

export function stopReason(by?: string | null): string {
  return by ? `Task terminated by - ${by}` : 'Task terminated by user';
}

export function timeoutReason(seconds: number): string {
  return `JobRun exceeded specified timeout of ${seconds} seconds`;
}

/** A backend object missing for this long means the run is over (docs/engines.md). */
export const MISSING_GRACE_MS = 30 * 60 * 1000;
export const MISSING_REASON = 'Job either timed out or not found on the cluster.';

export function retryBackoffMs(attempt: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, attempt - 1));
}

/** stop and timeOut: the run ends now with exit 1, and the intent to terminate is stored with it. */
export function stopFacts(reason: string, now = new Date()): RunFacts {
  return { exitCode: 1, exitReason: reason, finishedAt: now, claimedBy: null, claimExpiresAt: null, stopRequestedAt: now, stopConfirmedAt: null };
}

export function timeoutFacts(reason: string, now = new Date()): RunFacts {
  // The claim is left as it is: a run past its deadline is RUNNING, leased only by a reconcile pass.
  return { exitCode: 1, exitReason: reason, finishedAt: now, stopRequestedAt: now, stopConfirmedAt: null };
}

export function lostFacts(now = new Date()): RunFacts {
  return { exitReason: MISSING_REASON, finishedAt: now, claimedBy: null, claimExpiresAt: null };
}

export function giveUpFacts(reason: string, now = new Date()): RunFacts {
  return { exitReason: reason, finishedAt: now };
}

/** The next attempt is a new backend object; its output follows the earlier attempts' in run_logs. */
export function retryFacts(run: Pick<RunRow, 'attempt'>, now = Date.now()): RunFacts {
  return {
    attempt: run.attempt + 1,
    nextAttemptAt: new Date(now + retryBackoffMs(run.attempt)),
    engineRef: null,
    podName: null,
    startedAt: null,
    exitReason: null,
    exitCode: null,
    claimedBy: null,
    claimExpiresAt: null,
    logCursor: null,
  };
}

/** A permanent submit error: STOPPED without an exit code. */
export function rejectedFacts(reason: string, now = new Date()): RunFacts {
  return { exitReason: reason, finishedAt: now, lastError: reason, claimedBy: null, claimExpiresAt: null };
}

/** What a submit result says about the run, as run fields. */
export function submitResultFacts(result: SubmitResult, now = new Date()): RunFacts {
  const facts: RunFacts = {
    engineRef: result.engineRef,
    podName: result.podName ?? null,
    instanceId: result.instance?.instanceId ?? null,
    instanceDnsName: result.instance?.dnsName ?? null,
    claimedBy: null,
    claimExpiresAt: null,
    lastError: null,
  };
  if (result.namespace) facts.namespace = result.namespace;
  if (result.status === 'RUNNING' || result.status === 'STOPPED') facts.startedAt = result.startedAt ?? now;
  if (result.status === 'STOPPED') {
    facts.finishedAt = result.finishedAt ?? now;
    facts.exitCode = result.exitCode ?? null;
    facts.exitReason = result.exitReason ?? null;
  }
  if (result.status === 'NEEDS_RETRY') facts.lastError = facts.exitReason = result.exitReason ?? 'engine asked for a retry';
  return facts;
}

/**
 * The statuses an engine update takes a run in `from` through. An end reported with a start
 * time for a run whose start was never recorded (a command that exits before its RUNNING push
 * lands, or between two reconcile passes) goes through RUNNING first: the process did run, and
 * the timeline says so, as it does for a longer run.
 */
export function reportedPath(from: RunStatus, update: Pick<StatusUpdate, 'status' | 'startedAt'>): StatusUpdate['status'][] {
  if (update.status === 'STOPPED' && update.startedAt && (from === 'QUEUED' || from === 'PENDING')) return ['RUNNING', 'STOPPED'];
  return [update.status];
}

/** What a pushed or reconciled engine update says about `run`, as run fields. */
export function statusUpdateFacts(run: Pick<RunRow, 'startedAt'>, update: StatusUpdate, now = new Date()): RunFacts {
  const facts: RunFacts = { missingSince: null };
  if (update.engineRef) facts.engineRef = update.engineRef;
  if (update.podName) facts.podName = update.podName;
  if (update.instance?.instanceId) facts.instanceId = update.instance.instanceId;
  if (update.instance?.dnsName) facts.instanceDnsName = update.instance.dnsName;
  if (update.granted?.cpu) facts.cpu = update.granted.cpu;
  if (update.granted?.memory) facts.memory = update.granted.memory;
  if (update.usage?.maxMemoryMb) facts.maxMemoryUsed = Math.round(update.usage.maxMemoryMb);
  if (update.usage?.maxCpu) facts.maxCpuUsed = Math.round(update.usage.maxCpu);
  if (update.status === 'RUNNING' || update.status === 'STOPPED') {
    if (!run.startedAt) facts.startedAt = update.startedAt ?? update.finishedAt ?? now;
  }
  if (update.status === 'STOPPED') {
    facts.finishedAt = update.finishedAt ?? now;
    facts.exitCode = update.exitCode ?? null;
    facts.exitReason = update.exitReason ?? null;
    facts.claimedBy = null;
    facts.claimExpiresAt = null;
  }
  if (update.status === 'NEEDS_RETRY') {
    facts.lastError = update.exitReason ?? 'engine asked for a retry';
    facts.exitReason = update.exitReason ?? null;
  }
  return facts;
}

/** What the job's own status report sets besides the status. */
export function reportFacts(
  run: Pick<RunRow, 'startedAt'>,
  status: RunStatus,
  input: { exitCode?: number | null; exitReason?: string | null },
  now = new Date(),
): RunFacts {
  const facts: RunFacts = {};
  if (typeof input.exitCode === 'number') facts.exitCode = input.exitCode;
  if (typeof input.exitReason === 'string') facts.exitReason = input.exitReason;
  if (status === 'RUNNING' && !run.startedAt) facts.startedAt = now;
  if (status === 'STOPPED') {
    facts.finishedAt = now;
    if (!run.startedAt) facts.startedAt = facts.finishedAt;
  }
  return facts;
}
