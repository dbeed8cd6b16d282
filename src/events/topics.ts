// Typed topics of the event bus (docs/architecture.md "Events and live updates"). A log
// event carries its chunk's text; Postgres is read only to fill a gap or catch up.
import type { RunLogRow, RunRow } from '../db/schema.js';

export interface RunStatusEvent {
  runId: string;
  status: string;
  run: RunJsonSnapshot;
}

/** The run as stored, with dates as ISO strings (it crosses Redis). */
export type RunJsonSnapshot = {
  [K in keyof RunRow]: RunRow[K] extends Date ? string : RunRow[K] extends Date | null ? string | null : RunRow[K];
};

export interface RunLogEvent {
  runId: string;
  seq: number;
  /** stdout, stderr, or `eof`: the run is STOPPED and every chunk is persisted. */
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
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = v instanceof Date ? v.toISOString() : v;
  return out as RunJsonSnapshot;
}

const DATE_KEYS = ['queuedAt', 'startedAt', 'finishedAt', 'updatedAt', 'nextAttemptAt', 'claimExpiresAt', 'missingSince', 'logClaimExpiresAt'] as const;

export function runFromSnapshot(s: RunJsonSnapshot): RunRow {
  const out: Record<string, unknown> = { ...s };
  for (const k of DATE_KEYS) {
    const v = s[k];
    out[k] = v === null || v === undefined ? null : new Date(v);
  }
  return out as RunRow;
}
