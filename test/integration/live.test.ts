// The delivery guarantees of the live service, driven directly: chunks are written the way
// the log collector writes them (append under the log lease, then publish), and the bus is
// made to lose, reorder or flood messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLiveService } from '../../src/domain/liveService.js';
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
