// The same GraphQL error, with a code and a message, over every transport (HTTP, SSE,
// WebSocket), and a WebSocket that survives an operation that cannot run.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createClient as createSseClient } from 'graphql-sse';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { listen, type HttpServer } from '../../src/httpServer.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createRun } from '../helpers/factories.js';
import { record, sse, wsClient } from '../helpers/live.js';

let t: TestApp;
let http: HttpServer;
let url: string;
let client: Client;
const logLines: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
  // The server's own log, kept to check that every line stays one JSON object.
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  http = await listen(createApp({ config: t.config, services: t.services, bus: t.bus, logger, database: t.database }), '127.0.0.1', 0);
  url = http.url;
  client = wsClient(url.replace(/^http/, 'ws') + '/graphql');
});
afterAll(async () => {
  await client?.dispose();
  await http?.close();
  await t?.close();
});

type Err = { message: string; extensions?: Record<string, unknown> };

async function overHttp(query: string, variables?: unknown, accept = 'application/json'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

/** The errors a graphql-ws subscribe reports: as `error` (operation refused) or in `next`. */
function overWs(query: string, variables?: Record<string, unknown>): Promise<Err[]> {
  return new Promise((resolve, reject) => {
    const errors: Err[] = [];
    client.subscribe(
      { query, variables },
      {
        next: (p) => errors.push(...((p.errors as Err[] | undefined) ?? [])),
        error: (e) => (Array.isArray(e) ? resolve(e as Err[]) : reject(e instanceof Error ? e : new Error(String(e)))),
        complete: () => resolve(errors),
      },
    );
  });
}

const shape = (errors: Err[] | undefined) =>
  (errors ?? []).map((e) => ({ message: e.message, code: e.extensions?.code, http: 'http' in (e.extensions ?? {}) }));

describe('WebSocket: an operation that cannot run', () => {
  it('a syntax error is an error for that operation only; the other subscriptions and the socket live on, and the log stays JSON', async () => {
    const consoleError = vi.spyOn(console, 'error');
    const run = await createRun(t.services);
    const feed = record(client, `subscription { runEvents { runId status } }`);
    // Give the feed time to be subscribed before the bad operation arrives.
    await new Promise((r) => setTimeout(r, 200));
    let closed = false;
    const off = client.on('closed', () => (closed = true));
    const bad = await overWs('subscription { runLogs(runId: "x") { { text } }');
    expect(shape(bad)).toEqual([{ message: 'Syntax Error: Expected Name, found "{".', code: 'GRAPHQL_PARSE_FAILED', http: false }]);
    const unknownField = await overWs('subscription { runLogs(runId: "x") { nope } }');
    expect(shape(unknownField)).toEqual([{ message: 'Cannot query field "nope" on type "RunLogChunk".', code: 'GRAPHQL_VALIDATION_FAILED', http: false }]);
    // The feed is still live: a change made now reaches it. (It follows every run, and the bus
    // is the shared test Redis, so other files' runs may show up in it too.)
    await t.services.runs.stop(run.runId);
    const mine = () => feed.payloads.map((p) => p.data).filter((d) => d?.runEvents?.runId === run.runId);
    await expect.poll(mine, { timeout: 10_000 }).toEqual([{ runEvents: { runId: run.runId, status: 'STOPPED' } }]);
    expect(closed).toBe(false);
    feed.unsubscribe();
    off();
    expect(consoleError).not.toHaveBeenCalled();
    consoleError.mockRestore();
    for (const line of logLines) expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe('one error shape on every transport', () => {
  const BAD_VARIABLE = `query($first: Int) { runs(first: $first) { totalCount } }`;
  const BAD_VARIABLE_SUB = `subscription($runId: ID!) { runStatus(runId: $runId) { status } }`;

  it('a variable of the wrong type: BAD_USER_INPUT over HTTP, SSE and WebSocket, with no internal http extension', async () => {
    const expected = [
      { message: 'Variable "$first" got invalid value "ten"; Int cannot represent non-integer value: "ten"', code: 'BAD_USER_INPUT', http: false },
    ];
    const res = await overHttp(BAD_VARIABLE, { first: 'ten' });
    expect(res.status).toBe(400);
    expect(shape(res.body.errors)).toEqual(expected);
    expect(shape(await overWs(BAD_VARIABLE, { first: 'ten' }))).toEqual(expected);
    const overSse = await sse(url, BAD_VARIABLE, { first: 'ten' });
    expect(shape(overSse.payloads.flatMap((p) => p.errors ?? []))).toEqual(expected);
    const subExpected = [
      { message: 'Variable "$runId" got invalid value { no: 1 }; ID cannot represent value: { no: 1 }', code: 'BAD_USER_INPUT', http: false },
    ];
    expect(shape(await overWs(BAD_VARIABLE_SUB, { runId: { no: 1 } }))).toEqual(subExpected);
    expect(shape((await sse(url, BAD_VARIABLE_SUB, { runId: { no: 1 } })).payloads.flatMap((p) => p.errors ?? []))).toEqual(subExpected);
  });

  it('graphql-sse sees the GraphQL error, not "NetworkError: Server responded with 400"', async () => {
    const sseClient = createSseClient({ url: `${url}/graphql`, retryAttempts: 0 });
    try {
      const result = await new Promise<{ errors?: Err[] }>((resolve, reject) => {
        let last: { errors?: Err[] } = {};
        sseClient.subscribe(
          { query: BAD_VARIABLE_SUB, variables: { runId: { no: 1 } } },
          { next: (v) => (last = v as { errors?: Err[] }), error: (e) => reject(e instanceof Error ? e : new Error(String(e))), complete: () => resolve(last) },
        );
      });
      expect(shape(result.errors)[0]).toMatchObject({ code: 'BAD_USER_INPUT', http: false });
    } finally {
      sseClient.dispose();
    }
  });

  it('syntax and validation errors carry codes over HTTP too', async () => {
    expect(shape((await overHttp('{ runs { ')).body.errors)[0]).toMatchObject({ code: 'GRAPHQL_PARSE_FAILED', http: false });
    expect(shape((await overHttp('{ zzz }')).body.errors)).toEqual([
      { message: 'Cannot query field "zzz" on type "Query".', code: 'GRAPHQL_VALIDATION_FAILED', http: false },
    ]);
  });

  it('a subscription POSTed with Accept: application/json is a GraphQL error naming the transports, not an empty 406', async () => {
    const res = await overHttp(`subscription { runEvents { runId } }`, undefined, 'application/json');
    expect(res.status).toBe(200);
    expect(shape(res.body.errors)).toEqual([
      {
        message: expect.stringMatching(/^A subscription needs a streaming transport: POST with "Accept: text\/event-stream"/),
        code: 'BAD_REQUEST',
        http: false,
      },
    ]);
  });

  it('an unexpected failure is INTERNAL_SERVER_ERROR with a masked message', async () => {
    const res = await overHttp(`{ runs(first: 1) { totalCount } }`);
    expect(res.body.errors).toBeUndefined();
    // node(id:) of a RunEvent reads the store directly; an app without a database fails there.
    const bare = createApp({ config: t.config, services: t.services, bus: t.bus, logger: pino({ level: 'silent' }) });
    const r = await bare.app.fetch(
      new Request('http://x/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `{ run(runId: "local-x") { runId } }` }),
      }),
    );
    expect(shape(((await r.json()) as { errors: Err[] }).errors)).toEqual([{ message: 'Unexpected error.', code: 'INTERNAL_SERVER_ERROR', http: false }]);
  });
});
