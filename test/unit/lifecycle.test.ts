// The run state machine as a table: every (status, move, target) is either accepted or
// refused, and the table below says which. A new move or status fails here until it is
// written down.
import { describe, expect, it } from 'vitest';
import {
  MOVES,
  MOVE_NAMES,
  RUN_STATUSES,
  canMove,
  reportedMove,
  reportedPath,
  retryFacts,
  statusUpdateFacts,
  stopFacts,
  submitResultFacts,
  timeoutFacts,
  type MoveName,
  type RunStatus,
} from '../../src/domain/lifecycle.js';

/** from → the targets each move may reach from it. */
const ALLOWED: Record<MoveName, Partial<Record<RunStatus, RunStatus[]>>> = {
  queue: {},
  claim: { QUEUED: ['QUEUED'] },
  submit: { QUEUED: ['PENDING', 'RUNNING', 'STOPPED', 'NEEDS_RETRY'] },
  start: { QUEUED: ['RUNNING'], PENDING: ['RUNNING'] },
  finish: { QUEUED: ['STOPPED'], PENDING: ['STOPPED'], RUNNING: ['STOPPED'], NEEDS_RETRY: ['STOPPED'] },
  fail: { QUEUED: ['NEEDS_RETRY'], PENDING: ['NEEDS_RETRY'], RUNNING: ['NEEDS_RETRY'] },
  retry: { NEEDS_RETRY: ['QUEUED'] },
  giveUp: { NEEDS_RETRY: ['STOPPED'] },
  timeOut: { RUNNING: ['STOPPED'] },
  lose: { PENDING: ['STOPPED'], RUNNING: ['STOPPED'] },
  stop: { QUEUED: ['STOPPED'], PENDING: ['STOPPED'], RUNNING: ['STOPPED'], NEEDS_RETRY: ['STOPPED'] },
};

const cases = MOVE_NAMES.flatMap((move) =>
  RUN_STATUSES.flatMap((from) => RUN_STATUSES.map((to) => ({ move, from, to, allowed: (ALLOWED[move][from] ?? []).includes(to) }))),
);

describe('every (move, from, to)', () => {
  it('covers every move and status', () => {
    expect(new Set(MOVE_NAMES)).toEqual(new Set(Object.keys(ALLOWED)));
    expect(cases).toHaveLength(MOVE_NAMES.length * RUN_STATUSES.length ** 2);
  });

  it.each(cases)('$move from $from to $to: $allowed', ({ move, from, to, allowed }) => {
    expect(canMove(move, from, to)).toBe(allowed);
  });
});

describe('invariants', () => {
  it('nothing leaves STOPPED', () => {
    for (const move of MOVE_NAMES) expect(MOVES[move].from).not.toContain('STOPPED');
  });

  it('a run waiting for a retry is not moved up by an update about its old attempt', () => {
    expect(canMove('start', 'NEEDS_RETRY', 'RUNNING')).toBe(false);
    expect(canMove('submit', 'NEEDS_RETRY', 'PENDING')).toBe(false);
  });

  it('a reported status picks the move that leads there from the most statuses', () => {
    for (const to of RUN_STATUSES) {
      const move = reportedMove(to);
      expect(MOVES[move].to).toContain(to);
      for (const other of MOVE_NAMES.filter((m) => MOVES[m].to.includes(to))) {
        expect(MOVES[move].from.length).toBeGreaterThanOrEqual(MOVES[other].from.filter((s) => s !== 'STOPPED').length);
      }
    }
  });
});

describe('the fields a move sets', () => {
  const now = new Date('2026-01-01T00:00:00Z');

  it('stop and timeOut store the stop intent with the end', () => {
    expect(stopFacts('Task terminated by user', now)).toEqual({
      exitCode: 1,
      exitReason: 'Task terminated by user',
      finishedAt: now,
      claimedBy: null,
      claimExpiresAt: null,
      stopRequestedAt: now,
      stopConfirmedAt: null,
    });
    expect(timeoutFacts('late', now)).toMatchObject({ exitCode: 1, stopRequestedAt: now, stopConfirmedAt: null });
    expect(timeoutFacts('late', now)).not.toHaveProperty('claimedBy');
  });

  it('retry starts the next attempt afresh, after a backoff that doubles', () => {
    const facts = retryFacts({ attempt: 2 }, now.getTime());
    expect(facts).toMatchObject({ attempt: 3, engineRef: null, startedAt: null, exitCode: null, logCursor: null });
    expect(facts.nextAttemptAt).toEqual(new Date(now.getTime() + 2000));
  });

  it.each([
    [
      { engineRef: 'job-1', status: 'PENDING' as const },
      { engineRef: 'job-1', podName: null, lastError: null, claimedBy: null },
    ],
    [{ engineRef: 'job-1', status: 'RUNNING' as const }, { startedAt: now }],
    [
      { engineRef: 'job-1', status: 'STOPPED' as const, exitCode: 0, exitReason: 'Completed' },
      { startedAt: now, finishedAt: now, exitCode: 0, exitReason: 'Completed' },
    ],
    [
      { engineRef: 'job-1', status: 'NEEDS_RETRY' as const },
      { lastError: 'engine asked for a retry', exitReason: 'engine asked for a retry' },
    ],
    [{ engineRef: 'job-1', status: 'PENDING' as const, namespace: 'ns' }, { namespace: 'ns' }],
  ])('a submit result %j sets %j', (result, expected) => {
    expect(submitResultFacts(result, now)).toMatchObject(expected);
  });

  it('a submit result without a namespace leaves the namespace alone', () => {
    expect(submitResultFacts({ engineRef: 'x', status: 'PENDING' }, now)).not.toHaveProperty('namespace');
  });

  it('an engine update keeps a start time already known and clears the missing mark', () => {
    const started = new Date('2025-12-31T23:00:00Z');
    expect(statusUpdateFacts({ startedAt: started }, { runId: 'r', status: 'RUNNING' }, now)).toEqual({ missingSince: null });
    expect(statusUpdateFacts({ startedAt: null }, { runId: 'r', status: 'STOPPED', exitCode: 2 }, now)).toMatchObject({
      startedAt: now,
      finishedAt: now,
      exitCode: 2,
      exitReason: null,
      claimedBy: null,
    });
  });
});

describe('reportedPath', () => {
  const startedAt = new Date('2026-01-01T00:00:00Z');
  it('records the start of a run whose end arrives before its start was seen', () => {
    expect(reportedPath('PENDING', { status: 'STOPPED', startedAt })).toEqual(['RUNNING', 'STOPPED']);
    expect(reportedPath('QUEUED', { status: 'STOPPED', startedAt })).toEqual(['RUNNING', 'STOPPED']);
  });
  it('goes straight to the reported status otherwise', () => {
    expect(reportedPath('RUNNING', { status: 'STOPPED', startedAt })).toEqual(['STOPPED']);
    expect(reportedPath('PENDING', { status: 'STOPPED' })).toEqual(['STOPPED']);
    expect(reportedPath('PENDING', { status: 'RUNNING', startedAt })).toEqual(['RUNNING']);
    expect(reportedPath('PENDING', { status: 'NEEDS_RETRY', startedAt })).toEqual(['NEEDS_RETRY']);
  });
});
