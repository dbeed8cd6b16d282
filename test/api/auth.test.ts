// Authentication in each mode: API tokens (create, use, expire, revoke; Bearer header,
// graphql-ws connectionParams, SSE), OIDC against a local JWKS endpoint (bad signature, wrong
// audience, expired, unknown key id, key rotation), and proxy headers trusted only from the
// listed addresses. Also: who stopped a run comes from the identity, not from a header.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { createTokenService } from '../../src/domain/tokenService.js';
import { definitionHistory, taskDefinitions } from '../../src/db/schema.js';
import { insertToken } from '../../src/store/tokens.js';
import { listen } from '../../src/httpServer.js';
import type { Actor } from '../../src/domain/authorization.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const CLI_ADMIN: Actor = { id: 'cli:test', role: 'admin', via: 'cli' };

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('FLOTILLA_AUTH=token', () => {
  let t: TestApp;
  let viewer: string;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    t = await createTestApp({ FLOTILLA_AUTH: 'token' });
    const tokens = createTokenService({ db: t.database.db });
    viewer = (await tokens.create({ owner: 'vera', role: 'viewer' }, CLI_ADMIN)).secret;
    alice = (await tokens.create({ owner: 'alice', role: 'user', expires: '90d' }, CLI_ADMIN)).secret;
    bob = (await tokens.create({ owner: 'bob', role: 'user' }, CLI_ADMIN)).secret;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stores only a hash of the secret', async () => {
    const rows = await createTokenService({ db: t.database.db }).list(CLI_ADMIN);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const r of rows) expect(JSON.stringify(r)).not.toContain(alice.slice(12));
  });

  it('no credential → 401 with WWW-Authenticate; a bad one → 401 invalid_token; health stays open', async () => {
    const anon = await t.fetch('/api/v6/task');
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Bearer realm="flotilla"');
    const bad = await t.fetch('/api/v6/task', { headers: bearer('flt_nope_nope') });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect((await t.fetch('/api/v6/health')).status).toBe(200);
    expect((await t.fetch('/health/live')).status).toBe(200);
    const gql = await t.fetch('/graphql', { method: 'POST', json: { query: '{ taskDefinitions { totalCount } }' } });
    expect(gql.status).toBe(401);
    expect(((await gql.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('a viewer reads but may not define (403; GraphQL FORBIDDEN)', async () => {
    expect((await t.fetch('/api/v6/task', { headers: bearer(viewer) })).status).toBe(200);
    const post = await t.fetch('/api/v6/task', { method: 'POST', headers: bearer(viewer), json: { alias: 'v-1', image: 'a' } });
    expect(post.status).toBe(403);
    const gql = await t.fetch('/graphql', {
      method: 'POST',
      headers: bearer(viewer),
      json: { query: 'mutation { createTaskDefinition(input: {alias: "v-2", image: "a"}) { __typename } }' },
    });
    expect(((await gql.json()) as any).errors[0].extensions.code).toBe('FORBIDDEN');
    const me = await t.fetch('/graphql', { method: 'POST', headers: bearer(viewer), json: { query: '{ viewer { ownerId role authMode } }' } });
    expect(((await me.json()) as any).data.viewer).toEqual({ ownerId: 'vera', role: 'viewer', authMode: 'token' });
  });

  it('a user defines (audited), executes as itself, is refused as another owner, and stops only its own runs; the stopper is the identity', async () => {
    const def = await t.fetch('/api/v6/task', { method: 'POST', headers: bearer(alice), json: { alias: 'alice-1', image: 'a', command: 'true' } });
    expect(def.status).toBe(200);
    const { definition_id } = (await def.json()) as { definition_id: string };
    const [row] = await t.database.db.select().from(taskDefinitions).where(eq(taskDefinitions.definitionId, definition_id));
    expect(row).toMatchObject({ createdBy: 'alice', updatedBy: 'alice' });
    await t.fetch(`/api/v6/task/${definition_id}`, { method: 'PUT', headers: bearer(bob), json: { memory: 64 } });
    const history = await t.database.db.select().from(definitionHistory).where(eq(definitionHistory.definitionId, definition_id));
    expect(history.map((h) => [h.action, h.actor, h.version])).toEqual([
      ['create', 'alice', 1],
      ['update', 'bob', 2],
    ]);

    const exec = await t.fetch(`/api/v6/task/${definition_id}/execute`, { method: 'PUT', headers: bearer(alice), json: {} });
    expect(exec.status).toBe(200);
    const run = (await exec.json()) as { run_id: string; user: string };
    expect(run.user).toBe('alice');
    const asBob = await t.fetch(`/api/v6/task/${definition_id}/execute`, { method: 'PUT', headers: bearer(alice), json: { run_tags: { owner_id: 'bob' } } });
    expect(asBob.status).toBe(403);
    expect(((await asBob.json()) as { error: string }).error).toContain('run_tags.owner_id');
    // The same refusal over GraphQL names the GraphQL argument, not the REST body key.
    const asBobGql = await t.fetch('/graphql', {
      method: 'POST',
      headers: bearer(alice),
      json: {
        query: 'mutation($id: ID!) { executeTask(definitionId: $id, input: { owner: "bob" }) { ... on ExecuteTaskSuccess { run { runId } } } }',
        variables: { id: definition_id },
      },
    });
    const refused = ((await asBobGql.json()) as { errors: { message: string; extensions: { code: string } }[] }).errors[0]!;
    expect(refused.extensions.code).toBe('FORBIDDEN');
    expect(refused.message).toMatch(/^input\.owner: only an admin may execute as another owner/);
    expect(refused.message).not.toContain('run_tags');

    const stopByBob = await t.fetch(`/api/v6/task/${definition_id}/history/${run.run_id}`, { method: 'DELETE', headers: bearer(bob) });
    expect(stopByBob.status).toBe(403);
    const stop = await t.fetch(`/api/v6/task/${definition_id}/history/${run.run_id}`, {
      method: 'DELETE',
      headers: { ...bearer(alice), 'x-forwarded-email': 'mallory@example.com' },
    });
    expect(stop.status).toBe(200);
    const status = (await (await t.fetch(`/api/v6/${run.run_id}/status`, { headers: bearer(viewer) })).json()) as { exit_reason: string };
    expect(status.exit_reason).toBe('Task terminated by - alice');

    // Deleting: only the creator (or an admin).
    expect((await t.fetch(`/api/v6/task/${definition_id}`, { method: 'DELETE', headers: bearer(bob) })).status).toBe(403);
    expect((await t.fetch(`/api/v6/task/${definition_id}`, { method: 'DELETE', headers: bearer(alice) })).status).toBe(200);
  });

  it('an expired token and a revoked token are refused', async () => {
    const { secret: expired } = await insertToken(t.database.db, { owner: 'old', role: 'user', expiresAt: new Date(Date.now() - 1000) });
    expect((await t.fetch('/api/v6/task', { headers: bearer(expired) })).status).toBe(401);
    const tokens = createTokenService({ db: t.database.db });
    const { row, secret } = await tokens.create({ owner: 'temp', role: 'viewer' }, CLI_ADMIN);
    expect((await t.fetch('/api/v6/task', { headers: bearer(secret) })).status).toBe(200);
    expect(await tokens.revoke(row.tokenId, CLI_ADMIN)).toBe(true);
    expect((await t.fetch('/api/v6/task', { headers: bearer(secret) })).status).toBe(401);
    await expect(tokens.create({ owner: 'x', role: 'root' }, CLI_ADMIN)).rejects.toThrow(/--role must be one of viewer, user, admin/);
    await expect(tokens.create({ owner: 'x', role: 'user' }, { id: 'vera', role: 'viewer', via: 'token' })).rejects.toThrow(/token.manage/);
  });

  it('over graphql-ws the token goes in connectionParams; without it the socket is refused (4403); SSE takes the header', async () => {
    const http = await listen(t.api, '127.0.0.1', 0);
    try {
      const url = http.url.replace('http', 'ws') + '/graphql';
      const query = 'subscription { runEvents { __typename } }';
      const refused = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
      const closeCode = await new Promise<number>((resolve) => {
        refused.subscribe({ query }, { next: () => {}, error: (e) => resolve((e as { code?: number }).code ?? -1), complete: () => resolve(0) });
      });
      expect(closeCode).toBe(4403);
      await refused.dispose();
      const ok = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${viewer}` } });
      const acked = await new Promise<boolean>((resolve, reject) => {
        ok.on('connected', () => resolve(true));
        ok.subscribe({ query }, { next: () => {}, error: reject, complete: () => {} });
      });
      expect(acked).toBe(true);
      await ok.dispose();

      const controller = new AbortController();
      const sse = await fetch(`${http.url}/graphql?query=${encodeURIComponent(query)}`, {
        headers: { accept: 'text/event-stream', 'x-graphql-yoga-csrf': '1', ...bearer(viewer) },
        signal: controller.signal,
      });
      expect(sse.status).toBe(200);
      expect(sse.headers.get('content-type')).toContain('text/event-stream');
      controller.abort();
      const anonSse = await fetch(`${http.url}/graphql?query=${encodeURIComponent(query)}`, {
        headers: { accept: 'text/event-stream', 'x-graphql-yoga-csrf': '1' },
      });
      const text = await anonSse.text();
      expect(text).toContain('UNAUTHENTICATED');
    } finally {
      await http.close();
    }
  });
});

describe('FLOTILLA_AUTH=oidc', () => {
  let t: TestApp;
  let jwksServer: Server;
  const keys: JWK[] = [];
  const pairs = new Map<string, CryptoKey>();
  const ISSUER = 'https://issuer.example';

  const addKey = async (kid: string) => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
    pairs.set(kid, privateKey);
  };
  const sign = async (opts: { kid: string; key?: CryptoKey; aud?: string; exp?: number; email?: string; groups?: string[] }) =>
    new SignJWT({ email: opts.email ?? 'dana@example.com', groups: opts.groups ?? ['dev'] })
      .setProtectedHeader({ alg: 'RS256', kid: opts.kid })
      .setIssuer(ISSUER)
      .setAudience(opts.aud ?? 'flotilla')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 600)
      .sign(opts.key ?? pairs.get(opts.kid)!);
  const me = async (token: string) => {
    const res = await t.fetch('/graphql', { method: 'POST', headers: bearer(token), json: { query: '{ viewer { ownerId role } }' } });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    await addKey('k1');
    jwksServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const port = (jwksServer.address() as AddressInfo).port;
    t = await createTestApp(
      {
        FLOTILLA_AUTH: 'oidc',
        FLOTILLA_OIDC_ISSUER: ISSUER,
        FLOTILLA_OIDC_AUDIENCE: 'flotilla',
        FLOTILLA_OIDC_JWKS_URL: `http://127.0.0.1:${port}/jwks`,
        FLOTILLA_ADMIN_GROUPS: 'ops',
        FLOTILLA_USER_GROUPS: 'dev',
      },
      { authOptions: { jwksCooldownMs: 0 } },
    );
  });
  afterAll(async () => {
    await t?.close();
    await new Promise<void>((resolve) => jwksServer?.close(() => resolve()));
  });

  it('accepts a valid token: the owner claim is the identity, groups map to roles', async () => {
    expect((await me(await sign({ kid: 'k1' }))).body.data.viewer).toEqual({ ownerId: 'dana@example.com', role: 'user' });
    expect((await me(await sign({ kid: 'k1', groups: ['ops'] }))).body.data.viewer.role).toBe('admin');
    expect((await me(await sign({ kid: 'k1', groups: [] }))).body.data.viewer.role).toBe('viewer');
  });

  it('refuses a bad signature, a wrong audience, an expired token and an unknown key id with 401', async () => {
    const { privateKey: stranger } = await generateKeyPair('RS256');
    const cases = {
      badSignature: await sign({ kid: 'k1', key: stranger }),
      wrongAudience: await sign({ kid: 'k1', aud: 'someone-else' }),
      expired: await sign({ kid: 'k1', exp: Math.floor(Date.now() / 1000) - 3600 }),
      unknownKid: await sign({ kid: 'nope', key: stranger }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await me(token);
      expect(res.status, name).toBe(401);
      expect(res.body.errors[0].extensions.code, name).toBe('UNAUTHENTICATED');
    }
  });

  it('follows a key rotation: a token signed with a new key id is accepted once the JWKS has it', async () => {
    await addKey('k2');
    expect((await me(await sign({ kid: 'k2' }))).status).toBe(200);
    keys.splice(0, 1); // k1 retired
    expect((await me(await sign({ kid: 'k2', email: 'erin@example.com' }))).body.data.viewer.ownerId).toBe('erin@example.com');
  });
});

describe('FLOTILLA_AUTH=proxy', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ FLOTILLA_AUTH: 'proxy', FLOTILLA_TRUSTED_PROXIES: '10.0.0.0/8', FLOTILLA_ADMIN_GROUPS: 'ops', FLOTILLA_DEFAULT_ROLE: 'user' });
  });
  afterAll(async () => {
    await t?.close();
  });
  const from = (address: string, headers: Record<string, string>) =>
    Promise.resolve(
      t.api.app.fetch(
        new Request('http://flotilla.test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ query: '{ viewer { ownerId role } }' }),
        }),
        { incoming: { socket: { remoteAddress: address } } },
      ),
    );

  it('takes the identity from X-Forwarded-Email / X-Auth-Request-Email sent by a trusted proxy', async () => {
    const res = await from('10.1.2.3', { 'x-forwarded-email': 'pat@example.com' });
    expect(((await res.json()) as any).data.viewer).toEqual({ ownerId: 'pat@example.com', role: 'user' });
    const admin = await from('::ffff:10.9.9.9', { 'x-auth-request-email': 'ops@example.com', 'x-forwarded-groups': 'ops,dev' });
    expect(((await admin.json()) as any).data.viewer).toEqual({ ownerId: 'ops@example.com', role: 'admin' });
  });

  it('ignores the same headers from an untrusted address: anonymous, 401', async () => {
    const res = await from('192.168.1.5', { 'x-forwarded-email': 'pat@example.com' });
    expect(res.status).toBe(401);
    const noPeer = await t.fetch('/api/v6/task', { headers: { 'x-forwarded-email': 'pat@example.com' } });
    expect(noPeer.status).toBe(401);
  });
});
