// Persisted operations: FLOTILLA_GRAPHQL_PERSISTED=only runs registered operations only, on
// every transport; =allow also takes hashes; the manifest format is the console build's.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPersistedOperations } from '../../src/api/graphql/persisted.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { serveTestApp, wsClient } from '../helpers/live.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-persisted-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEALTH = 'query Health { health }';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const manifest = join(dir, 'operations.json');
writeFileSync(manifest, JSON.stringify({ [sha(HEALTH)]: HEALTH }));

async function post(t: TestApp, body: Record<string, unknown>) {
  const res = await t.fetch('/graphql', { method: 'POST', json: body });
  return (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

describe('FLOTILLA_GRAPHQL_PERSISTED=only', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ FLOTILLA_GRAPHQL_PERSISTED: 'only', FLOTILLA_GRAPHQL_PERSISTED_FILE: manifest });
  }, 60_000);
  afterAll(async () => t?.close());

  it('runs a registered operation by APQ hash, by documentId or as its exact text, and nothing else', async () => {
    const ok = { data: { health: 'healthy' } };
    expect(await post(t, { extensions: { persistedQuery: { version: 1, sha256Hash: sha(HEALTH) } } })).toEqual(ok);
    expect(await post(t, { documentId: `sha256:${sha(HEALTH)}` })).toEqual(ok);
    expect(await post(t, { query: HEALTH })).toEqual(ok);
    const other = await post(t, { query: '{ health }' });
    expect(other.errors?.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_ONLY']);
    expect(other.data).toBeUndefined();
    const unknown = await post(t, { extensions: { persistedQuery: { version: 1, sha256Hash: sha('{ nope }') } } });
    expect(unknown.errors?.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });

  it('applies over WebSocket too', async () => {
    const served = await serveTestApp(t);
    const client = wsClient(served.wsUrl);
    try {
      const run = (payload: Record<string, unknown>) =>
        new Promise<unknown>((resolve) => {
          const out: unknown[] = [];
          client.subscribe(payload as never, { next: (v) => out.push(v), error: (e) => resolve({ error: e }), complete: () => resolve(out) });
        });
      expect(await run({ query: '', extensions: { persistedQuery: { version: 1, sha256Hash: sha(HEALTH) } } })).toEqual([{ data: { health: 'healthy' } }]);
      const refused = (await run({ query: '{ health }' })) as { error: { extensions?: { code?: string } }[] };
      expect(refused.error.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_ONLY']);
    } finally {
      await client.dispose();
      await served.close();
    }
  });
});

describe('FLOTILLA_GRAPHQL_PERSISTED=allow and off', () => {
  it('allow: hashes and any text; off: text only', async () => {
    const allow = await createTestApp({ FLOTILLA_GRAPHQL_PERSISTED: 'allow', FLOTILLA_GRAPHQL_PERSISTED_FILE: manifest });
    try {
      expect(await post(allow, { query: '{ health }' })).toEqual({ data: { health: 'healthy' } });
      expect(await post(allow, { documentId: sha(HEALTH) })).toEqual({ data: { health: 'healthy' } });
    } finally {
      await allow.close();
    }
    expect(loadPersistedOperations({ mode: 'off', extraFile: manifest }).size).toBe(0);
  }, 60_000);

  it('refuses a manifest entry whose key is not the sha256 of its text', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ['0'.repeat(64)]: HEALTH }));
    expect(() => loadPersistedOperations({ mode: 'only', extraFile: bad })).toThrow(/is not the sha256 of its text/);
  });
});
