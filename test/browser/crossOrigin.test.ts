// The drive-by attack, in real Chromium: a page on another port tries a text/plain POST, a
// form POST, a preflighted PUT (execute), a GraphQL POST and a WebSocket subscription against
// a running `flotilla dev`. All are refused and no definition or run appears. The same page
// against a `flotilla dev` that lists its origin in FLOTILLA_CORS_ORIGINS gets through (the
// classic UI on another origin keeps working). Then rebinding: a foreign Host is refused by
// `flotilla dev` and by `flotilla serve` (bound to loopback, and with FLOTILLA_ALLOWED_HOSTS).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { rawRequest } from '../helpers/rawHttp.js';
import { startFlotilla, type FlotillaProcess } from '../helpers/processes.js';

const BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (process.env.CI && !HAVE_CHROMIUM) throw new Error(`crossOrigin: CI is set but ${CHROMIUM} is missing (.ci/run installs chromium)`);

interface Dev {
  child: ChildProcess;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

async function startDev(env: Record<string, string>): Promise<Dev> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-browser-'));
  const child = spawn(process.execPath, [BIN, 'dev'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      HOST: '127.0.0.1',
      FLOTILLA_DATA_DIR: dir,
      FLOTILLA_ENGINES: 'local',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`flotilla dev not ready:\n${out}`)), 90_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /"url":"(http:[^"]+)".*flotilla dev ready/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`flotilla dev exited ${code}:\n${out}`));
    });
  });
  return {
    child,
    url,
    dir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The attacker's (or the classic UI's) page: every attempt, with what the page could observe. */
const PAGE = `<!doctype html><html><body><iframe name="sink"></iframe><script>
async function attempt(api, alias) {
  const results = {};
  const note = async (name, fn) => { try { results[name] = await fn(); } catch (e) { results[name] = 'error: ' + e.message; } };
  const def = JSON.stringify({ alias, image: 'alpine', command: 'true' });
  await note('textPlainPost', async () => (await fetch(api + '/api/v6/task', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: def })).status);
  await note('formPost', () => new Promise((resolve) => {
    const form = document.createElement('form');
    form.method = 'POST'; form.action = api + '/api/v6/task'; form.enctype = 'text/plain'; form.target = 'sink';
    const input = document.createElement('input');
    input.name = '{"alias":"' + alias + '-form","image":"alpine","x":"'; input.value = '"}';
    form.appendChild(input); document.body.appendChild(form);
    document.querySelector('iframe').onload = () => resolve('submitted');
    form.submit();
  }));
  await note('preflightedPut', async () => (await fetch(api + '/api/v6/task/alias/target/execute', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ run_tags: { owner_id: 'page' } }) })).status);
  await note('graphqlPost', async () => {
    const res = await fetch(api + '/graphql', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation { createTaskDefinition(input: {alias: "' + alias + '-gql", image: "alpine"}) { __typename } }' }) });
    return res.status;
  });
  await note('webSocket', () => new Promise((resolve) => {
    const ws = new WebSocket(api.replace('http', 'ws') + '/graphql', 'graphql-transport-ws');
    const timer = setTimeout(() => resolve('timeout'), 5000);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }));
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'mutation { createTaskDefinition(input: {alias: "' + alias + '-ws", image: "alpine"}) { __typename } }' } }));
      if (msg.type === 'next') { clearTimeout(timer); ws.close(); resolve('ran'); }
    };
    ws.onerror = () => { clearTimeout(timer); resolve('refused'); };
  }));
  return results;
}
</script></body></html>`;

let page: Server;
let pageOrigin: string;
let browser: Browser;
let closed: Dev;
let listed: Dev;

async function counts(api: string): Promise<{ definitions: number; runs: number }> {
  const defs = (await rawRequest(api, { path: '/api/v6/task?limit=1' })).json() as { total: number };
  const runs = (await rawRequest(api, { path: '/api/v6/history?limit=1' })).json() as { total: number };
  return { definitions: defs.total, runs: runs.total };
}

async function runPage(api: string, alias: string): Promise<Record<string, unknown>> {
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    await tab.goto(pageOrigin + '/');
    return await tab.evaluate(([a, b]) => (window as unknown as { attempt: (x: string, y: string) => Promise<Record<string, unknown>> }).attempt(a, b), [
      api,
      alias,
    ] as const);
  } finally {
    await context.close();
  }
}

beforeAll(async () => {
  page = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  [closed, listed] = await Promise.all([startDev({}), startDev({ FLOTILLA_CORS_ORIGINS: pageOrigin })]);
  for (const dev of [closed, listed]) {
    const res = await rawRequest(dev.url, {
      method: 'POST',
      path: '/api/v6/task',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ alias: 'target', image: 'alpine', command: 'true' }),
    });
    expect(res.status).toBe(200);
  }
  if (HAVE_CHROMIUM)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([closed?.stop(), listed?.stop()]);
  await new Promise<void>((resolve) => (page ? page.close(() => resolve()) : resolve()));
});

describe.skipIf(!HAVE_CHROMIUM)('a page on another origin, in Chromium', () => {
  it('is refused everything by flotilla dev, and the database gains no row', { timeout: 60_000 }, async () => {
    const before = await counts(closed.url);
    const results = await runPage(closed.url, 'evil');
    expect(results.textPlainPost).toMatch(/^error/); // 403 without CORS headers: the page cannot even read it
    expect(results.preflightedPut).toMatch(/^error/);
    expect(results.graphqlPost).toMatch(/^error/);
    expect(results.webSocket).toBe('refused');
    expect(await counts(closed.url)).toEqual(before);
  });

  it('gets through once its origin is listed in FLOTILLA_CORS_ORIGINS', { timeout: 60_000 }, async () => {
    const before = await counts(listed.url);
    const results = await runPage(listed.url, 'ui');
    expect(results).toMatchObject({ textPlainPost: 200, preflightedPut: 200, graphqlPost: 200, webSocket: 'ran' });
    const after = await counts(listed.url);
    // text/plain POST, the form POST, GraphQL and the WebSocket mutation each made one; the PUT made a run.
    expect(after.definitions).toBe(before.definitions + 4);
    expect(after.runs).toBe(before.runs + 1);
  });
});

describe('DNS rebinding', () => {
  it('flotilla dev refuses a foreign Host (421), whatever the method', async () => {
    const before = await counts(closed.url);
    for (const method of ['GET', 'POST']) {
      const res = await rawRequest(closed.url, {
        method,
        path: '/api/v6/task',
        headers: { host: 'attacker.example:5000', 'content-type': 'application/json' },
        body: method === 'POST' ? '{"alias":"rebound","image":"a"}' : undefined,
      });
      expect(res.status).toBe(421);
    }
    expect(
      (await rawRequest(closed.url, { path: '/graphql?query=%7Bhealth%7D', headers: { host: 'attacker.example', 'x-graphql-yoga-csrf': '1' } })).status,
    ).toBe(421);
    expect(await counts(closed.url)).toEqual(before);
  });

  it('flotilla serve refuses a foreign Host on loopback and outside FLOTILLA_ALLOWED_HOSTS', { timeout: 180_000 }, async () => {
    const dirs = [mkdtempSync(join(tmpdir(), 'flotilla-serve-')), mkdtempSync(join(tmpdir(), 'flotilla-serve-'))];
    const servers: FlotillaProcess[] = [];
    try {
      // The embedded database (no DATABASE_URL): serve migrates it itself.
      servers.push(await startFlotilla('serve', { FLOTILLA_DATA_DIR: dirs[0]!, FLOTILLA_ENGINE: 'local' }, 90_000));
      servers.push(
        await startFlotilla(
          'serve',
          { FLOTILLA_DATA_DIR: dirs[1]!, FLOTILLA_ENGINE: 'local', HOST: '0.0.0.0', FLOTILLA_AUTH: 'none', FLOTILLA_ALLOWED_HOSTS: 'flotilla.internal' },
          90_000,
        ),
      );
      for (const s of servers) {
        expect((await rawRequest(s.url!, { path: '/api/v6/task', headers: { host: 'attacker.example' } })).status).toBe(421);
      }
      expect((await rawRequest(servers[1]!.url!, { path: '/api/v6/task', headers: { host: 'flotilla.internal:5000' } })).status).toBe(200);
      // Chosen explicitly beyond loopback, auth none is flagged on the readiness probe.
      const ready = (await rawRequest(servers[1]!.url!, { path: '/health/ready' })).json() as { warnings?: string[] };
      expect(ready.warnings?.join(' ')).toContain('FLOTILLA_AUTH=none');
    } finally {
      for (const s of servers) await s.kill();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  it('flotilla serve beyond loopback without a decision about auth refuses to start, saying how to fix it', { timeout: 60_000 }, async () => {
    const err = await startFlotilla('serve', { HOST: '0.0.0.0', FLOTILLA_ENGINE: 'local', FLOTILLA_DATA_DIR: join(tmpdir(), 'flotilla-never') }, 30_000).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain('FLOTILLA_AUTH is not set');
    expect(err?.message).toContain('FLOTILLA_AUTH=token');
  });
});
