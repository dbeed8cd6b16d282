// The append-only timeline of each run.
import { isStorableKey, storableKeys } from './keys.js';
import { asc, eq, inArray } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { runEvents, type RunEventRow } from '../db/schema.js';

export interface NewRunEvent {
  runId: string;
  kind: string;
  at?: Date;
  reason?: string | null;
  detail?: Record<string, unknown>;
  /** Identifies an event a backend may report more than once; a repeat is skipped. */
  dedupeKey?: string | null;
}

export async function appendRunEvents(db: DbOrTx, events: NewRunEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insert(runEvents)
    .values(
      events.map((e) => ({
        runId: e.runId,
        kind: e.kind,
        at: e.at ?? new Date(),
        reason: e.reason ?? null,
        detail: e.detail ?? {},
        dedupeKey: e.dedupeKey ?? null,
      })),
    )
    // Only the dedupe index can conflict (seq is generated): a repeated engine event.
    .onConflictDoNothing();
}

export async function listRunEvents(db: DbOrTx, runId: string): Promise<RunEventRow[]> {
  if (!isStorableKey(runId)) return [];
  return db.select().from(runEvents).where(eq(runEvents.runId, runId)).orderBy(asc(runEvents.seq));
}

export async function listRunEventsFor(db: DbOrTx, runIds: readonly string[]): Promise<RunEventRow[]> {
  const storable = storableKeys(runIds);
  if (storable.length === 0) return [];
  return db.select().from(runEvents).where(inArray(runEvents.runId, storable)).orderBy(asc(runEvents.seq));
}

export async function listRunEventsBySeq(db: DbOrTx, seqs: readonly number[]): Promise<RunEventRow[]> {
  if (seqs.length === 0) return [];
  return db
    .select()
    .from(runEvents)
    .where(inArray(runEvents.seq, [...seqs]));
}
