// The front door on a real port, bound to loopback as `flotilla dev` is: cross-origin
// requests that could change something are refused (and write nothing), CORS only for the
// listed origin, foreign Host headers refused (DNS rebinding), the body limit, definition
// limits, GraphQL limits before execution, and WebSocket upgrades checked the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count } from 'drizzle-orm';
import WebSocket from 'ws';
import { listen, type HttpServer } from '../../src/httpServer.js';
import { taskDefinitions } from '../../src/db/schema.js';
import { INPUT_LIMITS } from '../../src/domain/inputLimits.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { rawRequest } from '../helpers/rawHttp.js';

const LISTED = 'http://listed.example:8080';
const EVIL = 'http://evil.example';
let t: TestApp;
let http: HttpServer;
let base: string;
let host: string;

beforeAll(async () => {
  t = await createTestApp({
    HOST: '127.0.0.1',
    FLOTILLA_CORS_ORIGINS: LISTED,
    FLOTILLA_MAX_CONNECTIONS_PER_CLIENT: '3',
    FLOTILLA_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
  });
  http = await listen(t.api, '127.0.0.1', 0);
  base = http.url;
  host = new URL(base).host;
});

afterAll(async () => {
  await http?.close();
  await t?.close();
});

/** In-process requests would carry no loopback Host; these go over the port like a client's. */
async function send(method: string, path: string, json: unknown): Promise<{ status: number; body: any }> {
  const res = await rawRequest(base, { method, path, headers: { host, 'content-type': 'application/json' }, body: JSON.stringify(json) });
  return { status: res.status, body: res.json() };
}
const gql = async (query: string) => (await send('POST', '/graphql', { query })).body;

const definitions = async () => Number((await t.database.db.select({ n: count() }).from(taskDefinitions))[0]!.n);
const definitionBody = (alias: string) => JSON.stringify({ alias, image: 'alpine', command: 'touch /tmp/i13-marker' });

describe('Origin', () => {
  it('refuses a text/plain POST from another origin with 403 naming FLOTILLA_CORS_ORIGINS, and writes nothing', async () => {
    const before = await definitions();
    const res = await rawRequest(base, {
      method: 'POST',
      path: '/api/v6/task',
      headers: { host, origin: EVIL, 'content-type': 'text/plain' },
      body: definitionBody('evil-1'),
    });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.json().error).toContain('FLOTILLA_CORS_ORIGINS');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(await definitions()).toBe(before);
  });

  it('refuses PUT, DELETE and GraphQL POST from another origin', async () => {
    for (const [method, path] of [
      ['PUT', '/api/v6/task/alias/x/execute'],
      ['DELETE', '/api/v6/task/x'],
      ['POST', '/graphql'],
    ] as const) {
      const res = await rawRequest(base, { method, path, headers: { host, origin: EVIL, 'content-type': 'application/json' }, body: '{}' });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it('answers a preflight from an unlisted origin without any allow header', async () => {
    const res = await rawRequest(base, {
      method: 'OPTIONS',
      path: '/api/v6/task/x/execute',
      headers: { host, origin: EVIL, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
    });
    expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('lets the listed origin, the same origin and requests without Origin through', async () => {
    const listed = await rawRequest(base, {
      method: 'POST',
      path: '/api/v6/task',
      headers: { host, origin: LISTED, 'content-type': 'application/json' },
      body: definitionBody('listed-1'),
    });
    expect(listed.status).toBe(200);
    expect(listed.headers['access-control-allow-origin']).toBe(LISTED);
    const same = await rawRequest(base, {
      method: 'POST',
      path: '/api/v6/task',
      headers: { host, origin: base, 'content-type': 'application/json' },
      body: definitionBody('same-1'),
    });
    expect(same.status).toBe(200);
    const curl = await rawRequest(base, {
      method: 'POST',
      path: '/api/v6/task',
      headers: { host, 'content-type': 'application/json' },
      body: definitionBody('curl-1'),
    });
    expect(curl.status).toBe(200);
    expect(curl.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await rawRequest(base, {
      method: 'OPTIONS',
      path: '/api/v6/task',
      headers: { host, origin: LISTED, 'access-control-request-method': 'PUT' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBe(LISTED);
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
  });
});

describe('Host (DNS rebinding)', () => {
  it('refuses a foreign Host on loopback with 421 naming FLOTILLA_ALLOWED_HOSTS; the loopback names pass', async () => {
    const before = await definitions();
    const res = await rawRequest(base, {
      method: 'POST',
      path: '/api/v6/task',
      headers: { host: 'attacker.example:5000', 'content-type': 'application/json' },
      body: definitionBody('rebind-1'),
    });
    expect(res.status).toBe(421);
    expect(res.json().error).toContain('FLOTILLA_ALLOWED_HOSTS');
    expect((await rawRequest(base, { path: '/api/v6/task', headers: { host: 'attacker.example' } })).status).toBe(421);
    expect(await definitions()).toBe(before);
    const port = new URL(base).port;
    for (const h of ['localhost', `localhost:${port}`, '127.0.0.1', `127.0.0.1:${port}`, '[::1]', `[::1]:${port}`]) {
      expect((await rawRequest(base, { path: '/api/v6/task', headers: { host: h } })).status, h).toBe(200);
    }
    // Probes stay open: an orchestrator addresses the pod by IP.
    expect((await rawRequest(base, { path: '/health/live', headers: { host: '10.1.2.3:5000' } })).status).toBe(200);
  });
});

describe('WebSocket upgrades', () => {
  const open = (headers: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers });
      ws.once('open', () => {
        ws.close();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once('error', () => {});
    });

  it('refuses another origin (403) and a foreign Host (421); the listed origin and no origin connect', async () => {
    expect(await open({ origin: EVIL })).toBe(403);
    expect(await open({ host: 'attacker.example' })).toBe(421);
    expect(await open({ origin: LISTED })).toBe(101);
    expect(await open({})).toBe(101);
  });
});

describe('WebSocket bounds', () => {
  it('refuses a connection over FLOTILLA_MAX_CONNECTIONS_PER_CLIENT (429) and a subscription over FLOTILLA_MAX_SUBSCRIPTIONS_PER_CONNECTION', async () => {
    const url = `${base.replace('http', 'ws')}/graphql`;
    const sockets: WebSocket[] = [];
    const connect = () =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, 'graphql-transport-ws');
        ws.once('open', () => {
          sockets.push(ws);
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('error', () => {});
      });
    // The sockets of the test before close asynchronously on the server.
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      expect([await connect(), await connect(), await connect()]).toEqual([101, 101, 101]);
      expect(await connect()).toBe(429);
      // One connection: two subscriptions run, the third is refused with a code.
      const ws = sockets[0]!;
      const messages: any[] = [];
      ws.on('message', (m) => messages.push(JSON.parse(String(m))));
      ws.send(JSON.stringify({ type: 'connection_init' }));
      await expect.poll(() => messages.some((m) => m.type === 'connection_ack')).toBe(true);
      for (const id of ['1', '2', '3']) ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { runEvents { status } }' } }));
      await expect
        .poll(() => messages.find((m) => m.id === '3'))
        .toMatchObject({ type: 'error', payload: [{ extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } }] });
      // The first two run (with a shared Redis bus they may even see other tests' runs): no error for them.
      expect(messages.filter((m) => (m.id === '1' || m.id === '2') && m.type !== 'next')).toEqual([]);
    } finally {
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise((resolve) => {
              s.once('close', resolve);
              s.close();
            }),
        ),
      );
    }
  });
});

describe('GraphQL over HTTP', () => {
  it('never runs a mutation over GET, and refuses simple (CSRF-able) requests', async () => {
    const before = await definitions();
    const mutation = 'mutation { createTaskDefinition(input: {alias: "get-1", image: "alpine"}) { __typename } }';
    const get = await rawRequest(base, { path: `/graphql?query=${encodeURIComponent(mutation)}`, headers: { host, 'x-graphql-yoga-csrf': '1' } });
    expect(get.status).toBe(405);
    const textPlain = await rawRequest(base, {
      method: 'POST',
      path: '/graphql',
      headers: { host, 'content-type': 'text/plain' },
      body: JSON.stringify({ query: mutation }),
    });
    expect(textPlain.status).toBe(403);
    expect(await definitions()).toBe(before);
  });

  it('refuses the 5,000-alias query in under a second, with a code, while another request is served', async () => {
    const fields = Array.from({ length: 5000 }, (_, i) => `a${i}: taskDefinitions(first: 100) { totalCount }`).join(' ');
    const started = performance.now();
    const [big, other] = await Promise.all([
      rawRequest(base, {
        method: 'POST',
        path: '/graphql',
        headers: { host, 'content-type': 'application/json' },
        body: JSON.stringify({ query: `{ ${fields} }` }),
      }),
      rawRequest(base, { path: '/api/v6/health', headers: { host } }),
    ]);
    const ms = performance.now() - started;
    expect(ms).toBeLessThan(1000);
    expect(other.status).toBe(200);
    const body = big.json();
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions.code).toBe('QUERY_LIMIT_EXCEEDED');
  });

  it('refuses too many aliases, too deep and too costly with codes naming the limit', async () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `h${i}: health`).join(' ');
    const res = await gql(`{ ${aliases} }`);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', limit: 'aliases' });
    let deep = '{ totalCount }';
    for (let i = 0; i < 8; i++) deep = `{ edges { node { runs(first: 1) ${deep} } } }`;
    const tooDeep = await gql(`{ taskDefinitions(first: 1) ${deep} }`);
    expect(tooDeep.errors?.[0]?.extensions?.code).toBe('QUERY_LIMIT_EXCEEDED');
  });
});

describe('bounded input', () => {
  it('answers a 20 MB body with 413 in JSON, writing nothing', async () => {
    const before = await definitions();
    const body = JSON.stringify({ alias: 'big-1', image: 'alpine', command: 'x'.repeat(20 * 1024 * 1024) });
    const res = await rawRequest(base, { method: 'POST', path: '/api/v6/task', headers: { host, 'content-type': 'application/json' }, body }).catch(
      (err: Error) => err,
    );
    if (res instanceof Error) throw res;
    expect(res.status).toBe(413);
    expect(res.json().error).toContain('FLOTILLA_MAX_BODY');
    expect(await definitions()).toBe(before);
  });

  it('refuses a command, env or tags over the limits with a 400 naming the field and the limit', async () => {
    const post = (json: unknown) => send('POST', '/api/v6/task', json);
    const cases: [unknown, string][] = [
      [{ alias: 'l1', image: 'a', command: 'x'.repeat(INPUT_LIMITS.commandChars + 1) }, `command must be at most ${INPUT_LIMITS.commandChars}`],
      [
        { alias: 'l2', image: 'a', env: Array.from({ length: INPUT_LIMITS.envCount + 1 }, (_, i) => ({ name: `V${i}`, value: '1' })) },
        `at most ${INPUT_LIMITS.envCount} entries`,
      ],
      [
        { alias: 'l3', image: 'a', env: [{ name: 'V', value: 'x'.repeat(INPUT_LIMITS.envValueChars + 1) }] },
        `env[0].value must be at most ${INPUT_LIMITS.envValueChars}`,
      ],
      [
        { alias: 'l4', image: 'a', tags: Array.from({ length: INPUT_LIMITS.tagCount + 1 }, (_, i) => `t${i}`) },
        `tags must have at most ${INPUT_LIMITS.tagCount}`,
      ],
    ];
    for (const [json, message] of cases) {
      const res = await post(json);
      expect(res.status).toBe(400);
      expect(res.body.error).toContain(message);
    }
    const def = await post({ alias: 'ok-limits', image: 'a' });
    const exec = await send('PUT', `/api/v6/task/${def.body.definition_id}/execute`, {
      run_tags: { owner_id: 'o' },
      command: 'y'.repeat(INPUT_LIMITS.commandChars + 1),
    });
    expect(exec.status).toBe(400);
    expect(exec.body.error).toContain('command must be at most');
  });
});
