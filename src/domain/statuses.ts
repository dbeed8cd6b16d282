// The run state machine (DESIGN §3). A status only moves up in rank; NEEDS_RETRY is accepted
// from any non-terminal status; STOPPED is final.
import type { RunStatus } from '../engines/types.js';

export type { RunStatus };

export const RUN_STATUSES: readonly RunStatus[] = ['QUEUED', 'PENDING', 'RUNNING', 'STOPPED', 'NEEDS_RETRY'];

export const RANK: Record<RunStatus, number> = { NEEDS_RETRY: -1, QUEUED: 0, PENDING: 1, RUNNING: 2, STOPPED: 3 };

export function isRunStatus(value: unknown): value is RunStatus {
  return typeof value === 'string' && (RUN_STATUSES as readonly string[]).includes(value);
}

/**
 * The statuses a run may be in for a move to `to` to be accepted.
 * NEEDS_RETRY → PENDING/RUNNING is refused although it raises the rank: a run waiting to be
 * retried has had its engine object terminated, so such an update is about the old attempt.
 */
export function predecessorsOf(to: RunStatus): RunStatus[] {
  switch (to) {
    case 'QUEUED':
      return ['NEEDS_RETRY'];
    case 'PENDING':
      return ['QUEUED'];
    case 'RUNNING':
      return ['QUEUED', 'PENDING'];
    case 'STOPPED':
      return ['QUEUED', 'PENDING', 'RUNNING', 'NEEDS_RETRY'];
    case 'NEEDS_RETRY':
      return ['QUEUED', 'PENDING', 'RUNNING'];
  }
}

export function canMove(from: RunStatus, to: RunStatus): boolean {
  return predecessorsOf(to).includes(from);
}

export const ACTIVE_STATUSES: RunStatus[] = ['PENDING', 'RUNNING'];

/** Success is STOPPED with exit code 0; anything else STOPPED is failure. */
export function isFailed(run: { status: string; exitCode: number | null }): boolean {
  return run.status === 'STOPPED' && run.exitCode !== 0;
}
