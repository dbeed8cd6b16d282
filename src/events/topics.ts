// Typed topics of the event bus (DESIGN §5). Payloads are small JSON objects; anything
// large (a log chunk's text) is read back from Postgres when a subscriber needs it.
import type { RunLogRow, RunRow } from '../db/schema.js';

export interface RunStatusEvent {
  runId: string;
  status: string;
  run: RunJsonSnapshot;
}

/** The run as stored, with dates as ISO strings (it crosses Redis). */
export type RunJsonSnapshot = Omit<RunRow, 'queuedAt' | 'startedAt' | 'finishedAt' | 'updatedAt' | 'nextAttemptAt' | 'claimExpiresAt'> & {
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  nextAttemptAt: string | null;
  claimExpiresAt: string | null;
};

export interface RunLogEvent {
  runId: string;
  seq: number;
  stream: string;
  at: string;
  text: string;
}

export interface Topics {
  'run.status': RunStatusEvent;
  'run.log': RunLogEvent;
  'runs.changed': RunStatusEvent;
  'runs.queued': { runId: string };
}

export type TopicName = keyof Topics;

/** Per-run topics carry the run id in the channel name; global ones do not. */
export function channel(topic: TopicName, runId?: string): string {
  return runId && (topic === 'run.status' || topic === 'run.log') ? `flotilla:${topic}:${runId}` : `flotilla:${topic}`;
}

export function logEvent(row: RunLogRow): RunLogEvent {
  return { runId: row.runId, seq: row.seq, stream: row.stream, at: row.at.toISOString(), text: row.text };
}

export function runSnapshot(row: RunRow): RunJsonSnapshot {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    ...row,
    queuedAt: row.queuedAt.toISOString(),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
    updatedAt: row.updatedAt.toISOString(),
    nextAttemptAt: iso(row.nextAttemptAt),
    claimExpiresAt: iso(row.claimExpiresAt),
  };
}
