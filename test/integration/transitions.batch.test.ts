// Many moves in one statement (store.transitionRuns, which runUpdates.move group-commits
// into): each run keeps its own predecessors, claim and attempt, and gets its own timeline row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import * as store from '../../src/store/runs.js';
import { rowsOf } from '../../src/store/runs.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let definitionId: string;

beforeAll(async () => {
  t = await createTestApp();
  definitionId = (await t.services.definitions.create({ alias: 'batch', image: 'x', command: 'true' })).definitionId;
});
afterAll(async () => {
  await t?.close();
});

const newRun = async () => (await t.services.runs.execute({ definitionId }, { owner: 'batch' })).runId;

async function timeline(runId: string) {
  const result = await t.database.db.execute(
    sql`select from_status, to_status, reason from run_events where run_id = ${runId} and kind = 'status' order by seq`,
  );
  return rowsOf<{ from_status: string | null; to_status: string; reason: string }>(result);
}

describe('transitionRuns', () => {
  it('moves each run by its own rules in one statement; lost races move nothing and record nothing', async () => {
    const [a, b, c, d] = [await newRun(), await newRun(), await newRun(), await newRun()];
    const claimed = await store.claimDueRuns(t.database.db, 'w1', ['local'], 100, 60_000);
    expect(claimed.map((r) => r.runId).sort()).toEqual([a, b, c, d].sort());
    const finishedAt = new Date('2030-01-02T03:04:05.678Z');
    const out = await store.transitionRuns(t.database.db, [
      { runId: a, to: 'PENDING', facts: { engineRef: 'ref-a', claimedBy: null }, event: { reason: 'submitted a' }, from: ['QUEUED'], claimedBy: 'w1' },
      // Held by w1, not w2: lost.
      { runId: b, to: 'PENDING', facts: { engineRef: 'ref-b' }, event: { reason: 'submitted b' }, from: ['QUEUED'], claimedBy: 'w2' },
      // QUEUED is not a predecessor of this move: lost.
      { runId: c, to: 'QUEUED', facts: {}, event: { reason: 'retry c' }, from: ['NEEDS_RETRY'] },
      {
        runId: d,
        to: 'STOPPED',
        facts: { exitCode: 3, exitReason: 'done', finishedAt },
        event: { reason: 'finished d', detail: { source: 'test' } },
        from: ['QUEUED'],
        attempt: claimed.find((r) => r.runId === d)!.attempt,
      },
    ]);
    expect(out.map((o) => o?.from)).toEqual(['QUEUED', undefined, undefined, 'QUEUED']);
    expect(out[0]!.run).toMatchObject({ runId: a, status: 'PENDING', engineRef: 'ref-a', claimedBy: null });
    // Facts a move does not name keep their value; the ones it names are set, typed as stored.
    expect(out[3]!.run).toMatchObject({ runId: d, status: 'STOPPED', exitCode: 3, exitReason: 'done', finishedAt, claimedBy: 'w1' });
    expect(await store.getRun(t.database.db, b)).toMatchObject({ status: 'QUEUED', engineRef: null, claimedBy: 'w1' });
    expect(await timeline(a)).toEqual([
      { from_status: null, to_status: 'QUEUED', reason: expect.any(String) },
      { from_status: 'QUEUED', to_status: 'PENDING', reason: 'submitted a' },
    ]);
    expect((await timeline(b)).length).toBe(1);
    expect((await timeline(c)).length).toBe(1);
    expect((await timeline(d)).at(-1)).toEqual({ from_status: 'QUEUED', to_status: 'STOPPED', reason: 'finished d' });
  });

  it('refuses two moves of one run in a statement', async () => {
    const a = await newRun();
    const move = { runId: a, to: 'PENDING' as const, facts: {}, event: {}, from: ['QUEUED' as const] };
    await expect(store.transitionRuns(t.database.db, [move, move])).rejects.toThrow(/one move per run/);
  });

  it('moves asked for at the same moment through runUpdates are each carried out and published once', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, newRun));
    const published: string[] = [];
    const unsubscribe = t.bus.subscribe('runs.changed', (e) => {
      if (ids.includes(e.runId)) published.push(`${e.runId}:${e.status}`);
    });
    const moved = await Promise.all(ids.map((id) => t.services.runUpdates.transition(id, 'RUNNING', { startedAt: new Date() }, 'started')));
    await new Promise((r) => setTimeout(r, 100));
    unsubscribe();
    expect(moved.map((r) => r?.status)).toEqual(ids.map(() => 'RUNNING'));
    expect(published.sort()).toEqual(ids.map((id) => `${id}:RUNNING`).sort());
  });
});
