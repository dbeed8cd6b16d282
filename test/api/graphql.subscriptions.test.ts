// Subscriptions end to end: a real graphql-ws client and SSE against the app on a port,
// runs launched by in-process workers on the local engine.
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RANK, type RunStatus } from '../../src/domain/lifecycle.js';
import { followUntilReturn } from '../../src/api/graphql/schema/subscriptions.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { encodeLogToken } from '../../src/domain/logService.js';
import { createDefinition } from '../helpers/factories.js';
import { record, serveTestApp, sse, wsClient, type ServedApp } from '../helpers/live.js';
import { waitFinished } from '../helpers/wait.js';
import { executeGql } from '../helpers/execute.js';

let t: TestApp;
let served: ServedApp;
let client: Client;

beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local', workers: true });
  served = await serveTestApp(t);
  client = wsClient(served.wsUrl);
});
afterAll(async () => {
  await client?.dispose();
  await served?.close();
  await t?.close();
});

const STATUS = `subscription($id: ID!) { runStatus(runId: $id) { runId status exitCode exitReason events { toStatus } } }`;
const LOGS = `subscription($id: ID!, $after: String) { runLogs(runId: $id, after: $after) { seq stream text cursor } }`;

async function execute(command: string, owner = 'live-tester'): Promise<string> {
  const definition = await createDefinition(t.services, { command });
  return executeGql(t, definition.definitionId, {}, owner);
}

/** Waits until the run is STOPPED with its output fully stored. */
async function finished(runId: string): Promise<void> {
  await waitFinished(t.services, runId);
}

function expectRising(statuses: RunStatus[]): void {
  for (let i = 1; i < statuses.length; i++) expect(RANK[statuses[i]!]).toBeGreaterThan(RANK[statuses[i - 1]!]);
}

describe('runStatus', () => {
  it('over graphql-ws: the current run first, then every change, ending with STOPPED and completion', async () => {
    const runId = await execute('sleep 0.3; exit 3');
    const sub = record(client, STATUS, { id: runId });
    await sub.completed;
    const runs = sub.payloads.map((p) => p.data!.runStatus);
    expect(sub.payloads.every((p) => p.errors === undefined)).toBe(true);
    expect(runs.every((r: { runId: string }) => r.runId === runId)).toBe(true);
    const statuses = runs.map((r: { status: RunStatus }) => r.status);
    expectRising(statuses);
    expect(statuses).toContain('RUNNING');
    expect(runs.at(-1)).toMatchObject({ status: 'STOPPED', exitCode: 3 });
    // Each payload is read afresh, timeline included (not the first payload's cached one).
    expect(runs.at(-1).events.at(-1).toStatus).toBe('STOPPED');
  });

  it('over SSE: ends with STOPPED and the stream completes', async () => {
    const runId = await execute('sleep 0.2; echo ok');
    const { events, payloads } = await sse(served.url, STATUS, { id: runId });
    expect(payloads.every((p) => p.errors === undefined)).toBe(true);
    const statuses = payloads.map((p) => p.data.runStatus.status);
    expectRising(statuses);
    expect(payloads.at(-1)!.data.runStatus).toMatchObject({ status: 'STOPPED', exitCode: 0 });
    expect(events.at(-1)!.event).toBe('complete');
  });

  it('of a stopped run: one payload, then completion', async () => {
    const runId = await execute('true');
    await finished(runId);
    const sub = record(client, STATUS, { id: runId });
    await sub.completed;
    expect(sub.payloads.map((p) => p.data!.runStatus.status)).toEqual(['STOPPED']);
  });

  it('of an unknown run: a GraphQL error and completion, over graphql-ws and SSE', async () => {
    const sub = record(client, STATUS, { id: 'local-does-not-exist' });
    await sub.completed;
    expect(sub.payloads).toHaveLength(1);
    expect(sub.payloads[0]!.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([['Run with id local-does-not-exist not found', 'NOT_FOUND']]);
    const over = await sse(served.url, STATUS, { id: 'local-does-not-exist' });
    expect(over.payloads.flatMap((p) => p.errors?.map((e) => e.message) ?? [])).toEqual(['Run with id local-does-not-exist not found']);
    expect(over.events.at(-1)!.event).toBe('complete');
  });
});

describe('runLogs', () => {
  it('of a finished run: replays every chunk in order, then completes; after a cursor, only the rest', async () => {
    const runId = await execute('for i in $(seq 1 200); do echo "line $i"; done; echo warn >&2');
    await finished(runId);
    const all = record(client, LOGS, { id: runId });
    await all.completed;
    const chunks = all.payloads.map((p) => p.data!.runLogs);
    expect(chunks.map((c: { seq: number }) => c.seq)).toEqual(chunks.map((_: unknown, i: number) => i + 1));
    const stdout = chunks
      .filter((c: { stream: string }) => c.stream === 'STDOUT')
      .map((c: { text: string }) => c.text)
      .join('');
    expect(stdout).toBe(Array.from({ length: 200 }, (_, i) => `line ${i + 1}\n`).join(''));
    expect(chunks.some((c: { stream: string; text: string }) => c.stream === 'STDERR' && c.text === 'warn\n')).toBe(true);

    const rest = record(client, LOGS, { id: runId, after: chunks[0].cursor });
    await rest.completed;
    expect(rest.payloads.map((p) => p.data!.runLogs.seq)).toEqual(chunks.slice(1).map((c: { seq: number }) => c.seq));
  });

  it('while the run runs: every line once, in order, then completion', async () => {
    const runId = await execute('for i in $(seq 1 40); do echo "n $i"; sleep 0.01; done');
    const sub = record(client, LOGS, { id: runId });
    await sub.completed;
    const text = sub.payloads.map((p) => p.data!.runLogs.text).join('');
    expect(text).toBe(Array.from({ length: 40 }, (_, i) => `n ${i + 1}\n`).join(''));
    expect((await t.services.runs.get(runId)).status).toBe('STOPPED');
  });

  it('of an unknown run, or with a cursor of another run: a GraphQL error, not a hang', async () => {
    const unknown = record(client, LOGS, { id: 'local-nope' });
    await unknown.completed;
    expect(unknown.payloads[0]!.errors?.[0]?.message).toBe('Run with id local-nope not found');
    // Factories would race the running workers for a run; real short runs do not.
    const [runId, otherId] = await Promise.all([execute('true'), execute('true')]);
    const bad = record(client, LOGS, { id: runId, after: encodeLogToken(otherId, 1) });
    await bad.completed;
    expect(bad.payloads[0]!.errors?.[0]?.message).toMatch(/^after is not a position in the logs of run /);
  });
});

describe('runEvents', () => {
  it('delivers the changes of matching runs only, until unsubscribed', async () => {
    const owner = `feed-${Date.now()}`;
    const sub = record(client, `subscription($owner: String) { runEvents(filter: { owner: $owner }) { runId owner status } }`, { owner });
    // The feed has no replay: run probes of this owner until one is seen, so the
    // subscription is surely in place before the runs the test looks at.
    const probes = new Set<string>();
    while (sub.payloads.length === 0) {
      probes.add(await execute('true', owner));
      await Promise.race([sub.received(1), new Promise((r) => setTimeout(r, 1000))]);
    }
    await execute('true', 'someone-else');
    const runId = await execute('echo feed', owner);
    const ofRun = () => sub.payloads.map((p) => p.data!.runEvents).filter((e: { runId: string }) => e.runId === runId);
    for (const deadline = Date.now() + 20_000; !ofRun().some((e: { status: string }) => e.status === 'STOPPED');) {
      if (Date.now() > deadline) throw new Error(`no STOPPED event: ${JSON.stringify(sub.payloads)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    sub.unsubscribe();
    const events = sub.payloads.map((p) => p.data!.runEvents);
    expect(events.every((e: { owner: string; runId: string }) => e.owner === owner && (e.runId === runId || probes.has(e.runId)))).toBe(true);
    // Subscribed before it was executed, so the whole lifecycle is seen.
    expect(ofRun().map((e: { status: string }) => e.status)).toEqual(expect.arrayContaining(['QUEUED', 'STOPPED']));
    expectRising(ofRun().map((e: { status: RunStatus }) => e.status));
    await sub.completed;
  });
});

describe('followUntilReturn', () => {
  it('aborts a follower that is waiting for its next item as soon as the subscriber leaves', async () => {
    let aborted = false;
    let cleanedUp = false;
    async function* waitsForever(signal: AbortSignal): AsyncGenerator<number> {
      try {
        yield 1;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = signal.aborted;
      } finally {
        cleanedUp = true;
      }
    }
    const stream = followUntilReturn(waitsForever);
    expect(await stream.next()).toEqual({ done: false, value: { value: 1 } });
    const pending = stream.next();
    expect(await stream.return!()).toEqual({ done: true, value: undefined });
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(cleanedUp).toBe(true);
  });

  it('ends with the error a follower throws, as the last item', async () => {
    async function* fails(): AsyncGenerator<number> {
      yield 1;
      throw new Error('database went away');
    }
    const stream = followUntilReturn(fails);
    await stream.next();
    const last = await stream.next();
    expect(last.done).toBe(false);
    expect((last.value as { error: Error }).error.message).toBe('database went away');
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });
});
