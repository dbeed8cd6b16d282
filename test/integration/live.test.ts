// The delivery guarantees of the live service, driven directly: chunks are written the way
// the log collector writes them (append under the log lease, then publish), and the bus is
// made to lose, reorder or flood messages.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLiveService } from '../../src/domain/liveService.js';
import type { EventBus } from '../../src/events/bus.js';
import { logEvent } from '../../src/events/topics.js';
import { appendLogChunks } from '../../src/store/runLogs.js';
import * as store from '../../src/store/runs.js';
import type { RunLogRow } from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let definitionId: string;
const WORKER = 'test-collector';

beforeAll(async () => {
  t = await createTestApp();
  definitionId = (await t.services.definitions.create({ alias: 'live', image: 'x', command: 'true' })).definitionId;
});
afterAll(async () => {
  await t?.close();
});

async function newRun() {
  const run = await t.services.runs.execute({ definitionId }, { owner: 'live' });
  await t.services.runUpdates.transition(run.runId, 'RUNNING', { startedAt: new Date() }, 'test');
  await t.database.db.update((await import('../../src/db/schema.js')).runs).set({ logClaimedBy: WORKER });
  return run.runId;
}

/** Appends one chunk per line as the collector would; `publish` decides whether the bus hears it. */
async function write(runId: string, fromSeq: number, lines: string[], publish: (seq: number) => boolean = () => true): Promise<number> {
  let seq = fromSeq;
  for (const line of lines) {
    const rows = await appendLogChunks(t.database.db, runId, WORKER, seq, [{ stream: 'stdout', text: line + '\n', at: new Date() }], `c${seq + 1}`, 60_000);
    seq += 1;
    if (publish(seq)) await t.bus.publish('run.log', logEvent(rows![0]!), runId);
  }
  return seq;
}

async function finish(runId: string, lastSeq: number) {
  await t.services.runUpdates.transition(runId, 'STOPPED', { exitCode: 0, finishedAt: new Date() }, 'test');
  await store.finishLogCollection(t.database.db, runId, WORKER, true);
  await t.bus.publish('run.log', { runId, seq: lastSeq, stream: 'eof', at: new Date().toISOString(), text: '' }, runId);
}

async function drain(it: AsyncIterable<RunLogRow>): Promise<string[]> {
  const out: string[] = [];
  for await (const row of it) out.push(...row.text.split('\n').filter(Boolean));
  return out;
}

const numbered = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);

describe('followLogs', () => {
  it('replays then streams live, in order, and completes at the end', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus, limits: { pollMs: 200 } });
    const runId = await newRun();
    let seq = await write(runId, 0, numbered(1, 50));
    const ac = new AbortController();
    const got = drain(live.followLogs(runId, 0, ac.signal));
    seq = await write(runId, seq, numbered(51, 100));
    await finish(runId, seq);
    expect(await got).toEqual(numbered(1, 100));
  });

  it('fills gaps left by lost bus messages from Postgres', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus, limits: { pollMs: 5000 } });
    const runId = await newRun();
    const ac = new AbortController();
    const got = drain(live.followLogs(runId, 0, ac.signal));
    await new Promise((r) => setTimeout(r, 100));
    // Every third message never reaches the bus.
    const seq = await write(runId, 0, numbered(1, 60), (s) => s % 3 !== 0);
    await finish(runId, seq);
    expect(await got).toEqual(numbered(1, 60));
  });

  it('a subscriber joining halfway and one joining after the end see the same sequence from their cursor', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus, limits: { pollMs: 200 } });
    const runId = await newRun();
    let seq = await write(runId, 0, numbered(1, 30));
    const half = drain(live.followLogs(runId, 0, new AbortController().signal));
    seq = await write(runId, seq, numbered(31, 60));
    await finish(runId, seq);
    const late = await drain(live.followLogs(runId, 0, new AbortController().signal));
    const fromCursor = await drain(live.followLogs(runId, 45, new AbortController().signal));
    expect(await half).toEqual(numbered(1, 60));
    expect(late).toEqual(numbered(1, 60));
    expect(fromCursor).toEqual(numbered(46, 60));
  });

  it('a slow reader overflows its bounded buffer, falls back to Postgres and still gets every line', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus, limits: { pollMs: 200, maxBufferedChunks: 5 } });
    const runId = await newRun();
    const iterator = live.followLogs(runId, 0, new AbortController().signal)[Symbol.asyncIterator]();
    let seq = await write(runId, 0, numbered(1, 1));
    const first = await iterator.next(); // joined, read one line, then stops reading for a while
    seq = await write(runId, seq, numbered(2, 200));
    await finish(runId, seq);
    const all = first.done ? [] : first.value.text.split('\n').filter(Boolean);
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) all.push(...r.value.text.split('\n').filter(Boolean));
    expect(all).toEqual(numbered(1, 200));
    // It really did overflow (and so held at most 5 chunks), rather than buffering everything.
    expect(live.stats.overflows).toBeGreaterThan(0);
  });

  it('stops following when the subscriber goes away', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus, limits: { pollMs: 100 } });
    const runId = await newRun();
    const ac = new AbortController();
    const got = drain(live.followLogs(runId, 0, ac.signal));
    await write(runId, 0, numbered(1, 3));
    setTimeout(() => ac.abort(), 300);
    expect(await got).toEqual(numbered(1, 3));
  });

  it('an unknown run is an error, not a hang', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus });
    await expect(drain(live.followLogs('local-nope', 0, new AbortController().signal))).rejects.toThrow(/not found/);
  });
});

describe('followStatus', () => {
  it('yields the current run first, then each change, and completes after STOPPED', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus, limits: { pollMs: 200 } });
    const run = await t.services.runs.execute({ definitionId }, { owner: 'live' });
    const seen: string[] = [];
    const done = (async () => {
      for await (const r of live.followStatus(run.runId, new AbortController().signal)) seen.push(r.status);
    })();
    await new Promise((r) => setTimeout(r, 100));
    await t.services.runUpdates.transition(run.runId, 'PENDING', {}, 'test');
    await t.services.runUpdates.transition(run.runId, 'RUNNING', { startedAt: new Date() }, 'test');
    await t.services.runUpdates.transition(run.runId, 'STOPPED', { exitCode: 0, finishedAt: new Date() }, 'test');
    await done;
    expect(seen[0]).toBe('QUEUED');
    expect(seen[seen.length - 1]).toBe('STOPPED');
    // Never backwards.
    const rank = { QUEUED: 0, PENDING: 1, RUNNING: 2, STOPPED: 3 } as Record<string, number>;
    for (let i = 1; i < seen.length; i++) expect(rank[seen[i]!]).toBeGreaterThanOrEqual(rank[seen[i - 1]!]!);
  });

  it('an unknown run is an error', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus });
    const it = live.followStatus('local-missing', new AbortController().signal);
    await expect(it.next()).rejects.toThrow(/not found/);
  });
});

describe('followRuns', () => {
  it('delivers changes of matching runs only', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus });
    const ac = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const r of live.followRuns({ owner: 'feed-owner', statuses: ['STOPPED'] }, ac.signal)) {
        seen.push(`${r.owner}:${r.status}`);
        ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const other = await t.services.runs.execute({ definitionId }, { owner: 'someone-else' });
    await t.services.runUpdates.transition(other.runId, 'STOPPED', { exitCode: 0 }, 'test');
    const mine = await t.services.runs.execute({ definitionId }, { owner: 'feed-owner' });
    await t.services.runUpdates.transition(mine.runId, 'STOPPED', { exitCode: 0 }, 'test');
    await done;
    expect(seen).toEqual(['feed-owner:STOPPED']);
  });
});

/**
 * Writes the way the log collector does since it delivers before it persists: each chunk is
 * published first, and stored after (when `store` says so).
 */
async function publishThenStore(runId: string, fromSeq: number, lines: string[], store: (seq: number) => boolean = () => true): Promise<number> {
  let seq = fromSeq;
  for (const line of lines) {
    seq += 1;
    await t.bus.publish('run.log', { runId, seq, stream: 'stdout', at: new Date().toISOString(), text: line + '\n' }, runId);
    if (store(seq)) await appendLogChunks(t.database.db, runId, WORKER, seq - 1, [{ stream: 'stdout', text: line + '\n', at: new Date() }], `c${seq}`, 60_000);
  }
  return seq;
}

async function storedSeqs(runId: string): Promise<number[]> {
  const rows = await t.database.db.execute<{ seq: number }>(sql`select seq from run_logs where run_id = ${runId} order by seq`);
  return (Array.isArray(rows) ? rows : (rows as unknown as { rows: { seq: number }[] }).rows).map((r) => Number(r.seq));
}

describe('followLogs with one live fan-out per run, delivering before persisting', () => {
  it('delivers a live chunk before it is stored, then continues from Postgres without repeating it', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus, limits: { pollMs: 200 } });
    const runId = await newRun();
    const it = live.followLogs(runId, 0, new AbortController().signal)[Symbol.asyncIterator]();
    const first = it.next();
    await new Promise((r) => setTimeout(r, 100)); // joined and found nothing stored
    // Published, not stored: the follower has it while Postgres does not.
    await publishThenStore(runId, 0, ['early 1', 'early 2'], () => false);
    expect((await first).value?.text).toBe('early 1\n');
    expect((await it.next()).value?.text).toBe('early 2\n');
    expect(await storedSeqs(runId)).toEqual([]);
    // The store catches up; the rest comes live and from Postgres, each line once.
    await appendLogChunks(
      t.database.db,
      runId,
      WORKER,
      0,
      ['early 1', 'early 2'].map((l) => ({ stream: 'stdout', text: l + '\n', at: new Date() })),
      'c2',
      60_000,
    );
    const rest = drain({ [Symbol.asyncIterator]: () => it });
    const seq = await publishThenStore(runId, 2, numbered(3, 40));
    await finish(runId, seq);
    expect(await rest).toEqual(numbered(3, 40));
  });

  it('a subscriber joining mid-stream reads history from Postgres, then live chunks not yet stored, without gap or repeat', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus, limits: { pollMs: 200 } });
    const runId = await newRun();
    let seq = await publishThenStore(runId, 0, numbered(1, 30));
    // 31..40 are published but their store is slow: a joiner now finds 1..30 in Postgres.
    seq = await publishThenStore(runId, seq, numbered(31, 40), () => false);
    const joined = drain(live.followLogs(runId, 0, new AbortController().signal));
    await new Promise((r) => setTimeout(r, 100));
    seq = await publishThenStore(runId, seq, numbered(41, 60), () => false);
    // The slow store lands, then the rest is published and stored as usual.
    await appendLogChunks(
      t.database.db,
      runId,
      WORKER,
      30,
      numbered(31, 60).map((l) => ({ stream: 'stdout', text: l + '\n', at: new Date() })),
      'c60',
      60_000,
    );
    seq = await publishThenStore(runId, seq, numbered(61, 80));
    await finish(runId, seq);
    expect(await joined).toEqual(numbered(1, 80));
  });

  it('a slow subscriber overflows its bounded queue, catches up from Postgres gap-free, while a fast one stays live', async () => {
    const live = createLiveService({ db: t.database.db, bus: t.bus, limits: { pollMs: 200, maxBufferedChunks: 8 } });
    const runId = await newRun();
    const fast = drain(live.followLogs(runId, 0, new AbortController().signal));
    const slow = live.followLogs(runId, 0, new AbortController().signal)[Symbol.asyncIterator]();
    let seq = await publishThenStore(runId, 0, numbered(1, 1));
    const first = await slow.next(); // then it reads nothing for a while
    const overflowsBefore = live.stats.overflows;
    seq = await publishThenStore(runId, seq, numbered(2, 300));
    // The slow one overflowed: its queue was dropped, not grown.
    expect(live.stats.overflows).toBeGreaterThan(overflowsBefore);
    await finish(runId, seq);
    const got = [first.value!.text.trim()];
    for (let r = await slow.next(); !r.done; r = await slow.next()) got.push(...r.value.text.split('\n').filter(Boolean));
    expect(got).toEqual(numbered(1, 300));
    expect(await fast).toEqual(numbered(1, 300));
  });

  it('holds one bus subscription per run in the process, however many follow it, and drops it when the last leaves', async () => {
    const subscribed: string[] = [];
    const bus: EventBus = {
      ...t.bus,
      publish: t.bus.publish.bind(t.bus),
      subscribe: (topic, handler, runId) => {
        if (topic === 'run.log') subscribed.push(runId!);
        return t.bus.subscribe(topic, handler, runId);
      },
    };
    const live = createLiveService({ db: t.database.db, bus, limits: { pollMs: 200 } });
    const [a, b] = [await newRun(), await newRun()];
    const followers = [...Array.from({ length: 100 }, () => a), ...Array.from({ length: 20 }, () => b)].map((runId) => ({
      runId,
      got: drain(live.followLogs(runId, 0, new AbortController().signal)),
    }));
    await new Promise((r) => setTimeout(r, 200));
    expect(subscribed.sort()).toEqual([a, b].sort());
    expect(live.liveLogRuns()).toBe(2);
    const [seqA, seqB] = [await publishThenStore(a, 0, numbered(1, 20)), await publishThenStore(b, 0, numbered(1, 10))];
    await Promise.all([finish(a, seqA), finish(b, seqB)]);
    for (const f of followers) expect(await f.got).toEqual(numbered(1, f.runId === a ? 20 : 10));
    expect(subscribed).toHaveLength(2);
    expect(live.liveLogRuns()).toBe(0);
  });
});
