// The console is served at / with an index.html fallback for client routes, while
// /graphql, /api/*, /health* and /metrics keep their meaning; without a build, a page
// says how to make one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { mountWebConsole } from '../../src/api/webConsole.js';
import { ensureConsoleBuilt } from '../e2e/console.js';

describe('serving the console', () => {
  let t: TestApp;
  beforeAll(async () => {
    ensureConsoleBuilt();
    t = await createTestApp();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('answers the app shell at / and at client routes, assets with long caching', async () => {
    for (const path of ['/', '/tasks', '/runs/local-abc?status=RUNNING', '/tasks/x/execute', '/clusters']) {
      const res = await t.fetch(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(await res.text()).toContain('<div id="root">');
    }
    const asset = readdirSync(fileURLToPath(new URL('../../dist/web/assets', import.meta.url))).find((f) => f.endsWith('.js'));
    const res = await t.fetch(`/assets/${asset}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect((await t.fetch('/assets/missing.js')).status).toBe(404);
  });

  it('leaves the API paths alone', async () => {
    expect((await t.gql('{ health }')).data).toEqual({ health: 'healthy' });
    const health = await t.fetch('/health');
    expect(await health.json()).toMatchObject({ status: 'healthy' });
    const live = await t.fetch('/health/live');
    expect(live.headers.get('content-type')).toContain('json');
    const missing = await t.fetch('/api/v6/no-such-route');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('json');
    expect((await t.fetch('/graphql-nope')).headers.get('content-type')).toContain('text/html');
  });

  it('explains how to build the console when dist/web is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-noweb-'));
    try {
      const app = new Hono();
      mountWebConsole(app, join(dir, 'web'));
      const res = await app.fetch(new Request('http://x/runs/1'));
      expect(res.status).toBe(503);
      const html = await res.text();
      expect(html).toContain('npm run build:web');
      expect(html).toContain('/graphql');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
