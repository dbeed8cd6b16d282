// The authorization matrix: every REST route (from the router's table) and every Query,
// Mutation and Subscription field (from the served schema), as anonymous, viewer, user,
// another user and admin, in each auth mode, checked against the answer expected here. The
// expectations are written out in this file (not read from the rules the server uses), and a
// route or field this file does not know fails the test: a new one needs a decision.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClientSchema, getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createRestRouter } from '../../src/api/rest/index.js';
import { silentLogger } from '../../src/logger.js';
import type { Actor } from '../../src/domain/authorization.js';
import { createTokenService } from '../../src/domain/tokenService.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

type Who = 'anonymous' | 'viewer' | 'user' | 'otherUser' | 'admin';
const WHO: Who[] = ['anonymous', 'viewer', 'user', 'otherUser', 'admin'];
type Mode = 'none' | 'token' | 'oidc' | 'proxy';
const MODES: Mode[] = ['none', 'token', 'oidc', 'proxy'];
/** Who may: anyone; any signed-in role; users and admins; the resource's owner (the user) and admins; admins. */
type Level = 'public' | 'read' | 'user' | 'owner' | 'admin';

const IDS: Record<Exclude<Who, 'anonymous'>, { id: string; role: 'viewer' | 'user' | 'admin'; group: string }> = {
  viewer: { id: 'vera@example.com', role: 'viewer', group: 'readers' },
  user: { id: 'alice@example.com', role: 'user', group: 'dev' },
  otherUser: { id: 'bob@example.com', role: 'user', group: 'dev' },
  admin: { id: 'root@example.com', role: 'admin', group: 'ops' },
};
const ALICE: Actor = { id: IDS.user.id, role: 'user', via: 'token' };
const ADMIN: Actor = { id: 'matrix-setup', role: 'admin', via: 'cli' };

/** Fresh things for one request to act on: alice's definition and run, a registered cluster. */
interface Fixture {
  definitionId: string;
  alias: string;
  runId: string;
  cluster: string;
  unique: string;
}

type Req = { method: string; path: string; body?: unknown };
const V = '/api/v6';
const REST: Record<string, { level: Level; req: (f: Fixture, caller: string) => Req }> = {
  'GET /health': { level: 'public', req: () => ({ method: 'GET', path: `${V}/health` }) },
  'GET /clusters': { level: 'read', req: () => ({ method: 'GET', path: `${V}/clusters` }) },
  'POST /clusters': { level: 'admin', req: (f) => ({ method: 'POST', path: `${V}/clusters`, body: { name: `c-${f.unique}`, engine: 'local' } }) },
  'GET /clusters/:name': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/clusters/${f.cluster}` }) },
  'PUT /clusters/:name': { level: 'admin', req: (f) => ({ method: 'PUT', path: `${V}/clusters/${f.cluster}`, body: { capabilities: ['x'] } }) },
  'DELETE /clusters/:name': { level: 'admin', req: (f) => ({ method: 'DELETE', path: `${V}/clusters/${f.cluster}` }) },
  'PUT /task/alias/:alias/execute': {
    level: 'user',
    req: (f, c) => ({ method: 'PUT', path: `${V}/task/alias/${f.alias}/execute`, body: { run_tags: { owner_id: c } } }),
  },
  'PUT /task/:definition_id/execute': {
    level: 'user',
    req: (f, c) => ({ method: 'PUT', path: `${V}/task/${f.definitionId}/execute`, body: { run_tags: { owner_id: c } } }),
  },
  'GET /history': { level: 'read', req: () => ({ method: 'GET', path: `${V}/history` }) },
  'GET /task/:definition_id/history': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/task/${f.definitionId}/history` }) },
  'GET /history/:run_id': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/history/${f.runId}` }) },
  'GET /task/history/:run_id': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/task/history/${f.runId}` }) },
  'GET /task/:definition_id/history/:run_id': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/task/${f.definitionId}/history/${f.runId}` }) },
  'DELETE /task/:definition_id/history/:run_id': { level: 'owner', req: (f) => ({ method: 'DELETE', path: `${V}/task/${f.definitionId}/history/${f.runId}` }) },
  'GET /:run_id/status': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/${f.runId}/status` }) },
  'PUT /:run_id/status': { level: 'owner', req: (f) => ({ method: 'PUT', path: `${V}/${f.runId}/status`, body: { status: 'RUNNING' } }) },
  'GET /:run_id/events': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/${f.runId}/events` }) },
  'GET /:run_id/logs': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/${f.runId}/logs` }) },
  'GET /task': { level: 'read', req: () => ({ method: 'GET', path: `${V}/task` }) },
  'POST /task': { level: 'user', req: (f) => ({ method: 'POST', path: `${V}/task`, body: { alias: `new-${f.unique}`, image: 'alpine' } }) },
  'GET /task/alias/:alias': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/task/alias/${f.alias}` }) },
  'GET /task/:definition_id': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/task/${f.definitionId}` }) },
  'PUT /task/:definition_id': { level: 'user', req: (f) => ({ method: 'PUT', path: `${V}/task/${f.definitionId}`, body: { memory: 64 } }) },
  'DELETE /task/:definition_id': { level: 'owner', req: (f) => ({ method: 'DELETE', path: `${V}/task/${f.definitionId}` }) },
  'GET /groups': { level: 'read', req: () => ({ method: 'GET', path: `${V}/groups` }) },
  'GET /tags': { level: 'read', req: () => ({ method: 'GET', path: `${V}/tags` }) },
  'GET /task/alias/:alias/explain-resources': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/task/alias/${f.alias}/explain-resources` }) },
  'GET /task/:definition_id/explain-resources': { level: 'read', req: (f) => ({ method: 'GET', path: `${V}/task/${f.definitionId}/explain-resources` }) },
};

type Op = { query: string; variables?: Record<string, unknown> };
const GRAPHQL: Record<string, { level: Level; op: (f: Fixture, caller: string) => Op }> = {
  'Query.health': { level: 'public', op: () => ({ query: '{ health }' }) },
  'Query.viewer': { level: 'read', op: () => ({ query: '{ viewer { role } }' }) },
  'Query.cluster': { level: 'read', op: (f) => ({ query: 'query($n: String!) { cluster(name: $n) { name } }', variables: { n: f.cluster } }) },
  'Query.clusters': { level: 'read', op: () => ({ query: '{ clusters { name } }' }) },
  'Query.run': { level: 'read', op: (f) => ({ query: 'query($id: ID!) { run(id: $id) { status } }', variables: { id: f.runId } }) },
  'Query.runs': { level: 'read', op: () => ({ query: '{ runs(first: 1) { totalCount } }' }) },
  'Query.taskDefinition': { level: 'read', op: (f) => ({ query: 'query($a: String) { taskDefinition(alias: $a) { alias } }', variables: { a: f.alias } }) },
  'Query.taskDefinitions': { level: 'read', op: () => ({ query: '{ taskDefinitions(first: 1) { totalCount } }' }) },
  'Query.templates': { level: 'read', op: () => ({ query: '{ templates(first: 1) { __typename } }' }) },
  'Query.template': { level: 'read', op: () => ({ query: '{ template(templateId: "none") { __typename } }' }) },
  'Mutation.createTemplate': {
    level: 'user',
    op: (f) => ({
      query: 'mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { __typename } }',
      variables: { i: { templateName: `tpl-${f.unique}`, image: 'alpine', commandTemplate: 'echo hi', schema: { type: 'object' } } },
    }),
  },
  'Mutation.executeTemplate': {
    level: 'user',
    op: (_f, c) => ({ query: 'mutation($o: String!) { executeTemplate(templateId: "none", input: {owner: $o}) { __typename } }', variables: { o: c } }),
  },
  'Query.node': { level: 'read', op: () => ({ query: '{ node(id: "UnVuOm5vbmU=") { id } }' }) },
  'Query.nodes': { level: 'read', op: () => ({ query: '{ nodes(ids: ["UnVuOm5vbmU="]) { id } }' }) },
  'Mutation.createCluster': {
    level: 'admin',
    op: (f) => ({
      query: 'mutation($i: CreateClusterInput!) { createCluster(input: $i) { __typename } }',
      variables: { i: { name: `g-${f.unique}`, engine: 'local' } },
    }),
  },
  'Mutation.updateCluster': {
    level: 'admin',
    op: (f) => ({ query: 'mutation($n: String!) { updateCluster(name: $n, input: {capabilities: ["y"]}) { __typename } }', variables: { n: f.cluster } }),
  },
  'Mutation.deleteCluster': {
    level: 'admin',
    op: (f) => ({ query: 'mutation($n: String!) { deleteCluster(name: $n) { __typename } }', variables: { n: f.cluster } }),
  },
  'Mutation.createTaskDefinition': {
    level: 'user',
    op: (f) => ({
      query: 'mutation($a: String!) { createTaskDefinition(input: {alias: $a, image: "alpine"}) { __typename } }',
      variables: { a: `gnew-${f.unique}` },
    }),
  },
  'Mutation.updateTaskDefinition': {
    level: 'user',
    op: (f) => ({ query: 'mutation($id: ID!) { updateTaskDefinition(id: $id, input: {memory: 64}) { __typename } }', variables: { id: f.definitionId } }),
  },
  'Mutation.deleteTaskDefinition': {
    level: 'owner',
    op: (f) => ({ query: 'mutation($id: ID!) { deleteTaskDefinition(id: $id) { __typename } }', variables: { id: f.definitionId } }),
  },
  'Mutation.executeTask': {
    level: 'user',
    op: (f, c) => ({
      query: 'mutation($a: String!, $o: String!) { executeTask(alias: $a, input: {owner: $o}) { __typename } }',
      variables: { a: f.alias, o: c },
    }),
  },
  'Mutation.stopRun': { level: 'owner', op: (f) => ({ query: 'mutation($id: ID!) { stopRun(runId: $id) { __typename } }', variables: { id: f.runId } }) },
  'Subscription.runEvents': { level: 'read', op: () => ({ query: 'subscription { runEvents { status } }' }) },
  'Subscription.runLogs': { level: 'read', op: (f) => ({ query: 'subscription($id: ID!) { runLogs(runId: $id) { text } }', variables: { id: f.runId } }) },
  'Subscription.runStatus': {
    level: 'read',
    op: (f) => ({ query: 'subscription($id: ID!) { runStatus(runId: $id) { status } }', variables: { id: f.runId } }),
  },
};

type Outcome = 'ok' | 401 | 403;

function expected(level: Level, mode: Mode, who: Who): Outcome {
  if (mode === 'none' || level === 'public') return 'ok';
  if (who === 'anonymous') return 401;
  const role = IDS[who].role;
  if (level === 'read') return 'ok';
  if (level === 'admin') return role === 'admin' ? 'ok' : 403;
  if (role === 'viewer') return 403;
  if (level === 'owner' && who === 'otherUser') return 403;
  return 'ok';
}

const TRUSTED_PEER = { incoming: { socket: { remoteAddress: '10.0.0.7' } } };

interface ModeApp {
  t: TestApp;
  headers: Record<Who, Record<string, string>>;
}

let jwks: Server;
let signer: (who: Exclude<Who, 'anonymous'>) => Promise<string>;
const apps = new Map<Mode, ModeApp>();
let restKeys: string[] = [];
let fieldKeys: string[] = [];
let counter = 0;

async function fixture(t: TestApp): Promise<Fixture> {
  const unique = `${Date.now().toString(36)}-${++counter}`;
  const def = await t.services.definitions.create({ alias: `m-${unique}`, image: 'alpine', command: 'true' }, ALICE);
  const run = await t.services.runs.execute({ definitionId: def.definitionId }, { owner: ALICE.id }, ALICE);
  const cluster = `fx-${unique}`;
  await t.services.clusters.create({ name: cluster, engine: 'local' }, ADMIN);
  return { definitionId: def.definitionId, alias: def.alias, runId: run.runId, cluster, unique };
}

async function rest(m: ModeApp, req: Req, who: Who): Promise<number> {
  const headers: Record<string, string> = { ...m.headers[who] };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  const res = await m.t.api.app.fetch(
    new Request(`http://flotilla.test${req.path}`, { method: req.method, headers, body: req.body === undefined ? undefined : JSON.stringify(req.body) }),
    TRUSTED_PEER,
  );
  await res.arrayBuffer();
  return res.status;
}

/** Queries and mutations as JSON; subscriptions over SSE, judged on the first event (or none within a moment: allowed). */
async function graphql(m: ModeApp, key: string, op: Op, who: Who): Promise<{ status: number; code?: string }> {
  const subscription = key.startsWith('Subscription.');
  const controller = new AbortController();
  const res = await m.t.api.app.fetch(
    new Request('http://flotilla.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: subscription ? 'text/event-stream' : 'application/json', ...m.headers[who] },
      body: JSON.stringify(op),
      signal: controller.signal,
    }),
    TRUSTED_PEER,
  );
  if (!subscription) {
    const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    return { status: res.status, code: body.errors?.[0]?.extensions?.code };
  }
  const reader = res.body!.getReader();
  let text = '';
  const timeout = new Promise<'quiet'>((resolve) => setTimeout(() => resolve('quiet'), 400));
  for (;;) {
    const next = await Promise.race([reader.read(), timeout]);
    if (next === 'quiet' || next.done) break;
    text += new TextDecoder().decode(next.value);
    if (text.includes('\n\n') && text.includes('data:')) break;
  }
  controller.abort();
  await reader.cancel().catch(() => {});
  const code = /"code":"(UNAUTHENTICATED|FORBIDDEN|INTERNAL_SERVER_ERROR)"/.exec(text)?.[1];
  return { status: res.status, code };
}

function outcomeOfGraphql(r: { status: number; code?: string }): Outcome | string {
  if (r.code === 'UNAUTHENTICATED') return 401;
  if (r.code === 'FORBIDDEN') return 403;
  if (r.status >= 500) return `status ${r.status}`;
  if (r.code === 'INTERNAL_SERVER_ERROR') return 'a masked error';
  return 'ok';
}

function outcomeOfRest(status: number): Outcome | string {
  if (status === 401 || status === 403) return status;
  if (status >= 500) return `status ${status}`;
  return 'ok';
}

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'm1', alg: 'RS256' };
  jwks = createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  signer = (who) =>
    new SignJWT({ email: IDS[who].id, groups: [IDS[who].group] })
      .setProtectedHeader({ alg: 'RS256', kid: 'm1' })
      .setIssuer('https://issuer.example')
      .setAudience('flotilla')
      .setExpirationTime('10m')
      .sign(privateKey);
  const groups = { FLOTILLA_ADMIN_GROUPS: 'ops', FLOTILLA_USER_GROUPS: 'dev' };
  const env: Record<Mode, Record<string, string>> = {
    none: {},
    token: { FLOTILLA_AUTH: 'token' },
    oidc: {
      FLOTILLA_AUTH: 'oidc',
      FLOTILLA_OIDC_ISSUER: 'https://issuer.example',
      FLOTILLA_OIDC_AUDIENCE: 'flotilla',
      FLOTILLA_OIDC_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`,
      ...groups,
    },
    proxy: { FLOTILLA_AUTH: 'proxy', FLOTILLA_TRUSTED_PROXIES: '10.0.0.0/8', ...groups },
  };
  for (const mode of MODES) {
    const t = await createTestApp(env[mode]);
    const headers = { anonymous: {} } as Record<Who, Record<string, string>>;
    for (const who of Object.keys(IDS) as Exclude<Who, 'anonymous'>[]) {
      if (mode === 'token') {
        const { secret } = await createTokenService({ db: t.database.db }).create({ owner: IDS[who].id, role: IDS[who].role }, ADMIN);
        headers[who] = { authorization: `Bearer ${secret}` };
      } else if (mode === 'oidc') headers[who] = { authorization: `Bearer ${await signer(who)}` };
      else if (mode === 'proxy') headers[who] = { 'x-forwarded-email': IDS[who].id, 'x-forwarded-groups': IDS[who].group };
      else headers[who] = {};
    }
    apps.set(mode, { t, headers });
  }
  const table = createRestRouter({ services: apps.get('none')!.t.services, logger: silentLogger }).routes;
  restKeys = [...new Set(table.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))];
  const introspection = await apps.get('none')!.t.gql<IntrospectionQuery>(getIntrospectionQuery());
  const served = buildClientSchema(introspection.data!);
  fieldKeys = [served.getQueryType()!, served.getMutationType()!, served.getSubscriptionType()!].flatMap((type) =>
    Object.keys(type.getFields()).map((f) => `${type.name}.${f}`),
  );
}, 240_000);

afterAll(async () => {
  for (const { t } of apps.values()) await t.close();
  await new Promise<void>((resolve) => jwks?.close(() => resolve()));
});

describe('authorization matrix', () => {
  it('has an expectation for every served REST route and GraphQL root field', () => {
    expect(
      restKeys.filter((k) => !REST[k]),
      'REST routes without an expected rule in this test',
    ).toEqual([]);
    expect(
      fieldKeys.filter((k) => !GRAPHQL[k]),
      'GraphQL fields without an expected rule in this test',
    ).toEqual([]);
  });

  for (const mode of MODES) {
    it(`${mode}: every REST route × caller answers as expected`, { timeout: 240_000 }, async () => {
      const m = apps.get(mode)!;
      const wrong: string[] = [];
      for (const key of restKeys) {
        const rule = REST[key];
        if (!rule) continue;
        for (const who of WHO) {
          const f = await fixture(m.t);
          const caller = who === 'anonymous' ? 'nobody@example.com' : IDS[who].id;
          const got = outcomeOfRest(await rest(m, rule.req(f, caller), who));
          const want = expected(rule.level, mode, who);
          if (got !== want) wrong.push(`${key} as ${who}: got ${got}, want ${want}`);
        }
      }
      expect(wrong).toEqual([]);
      console.info(`authorization matrix (${mode}): ${restKeys.length} REST routes × ${WHO.length} callers`);
    });

    it(`${mode}: every GraphQL Query, Mutation and Subscription field × caller answers as expected`, { timeout: 240_000 }, async () => {
      const m = apps.get(mode)!;
      const wrong: string[] = [];
      for (const key of fieldKeys) {
        const rule = GRAPHQL[key];
        if (!rule) continue;
        for (const who of WHO) {
          const f = await fixture(m.t);
          const caller = who === 'anonymous' ? 'nobody@example.com' : IDS[who].id;
          const got = outcomeOfGraphql(await graphql(m, key, rule.op(f, caller), who));
          const want = expected(rule.level, mode, who);
          if (got !== want) wrong.push(`${key} as ${who}: got ${got}, want ${want}`);
        }
      }
      expect(wrong).toEqual([]);
      console.info(`authorization matrix (${mode}): ${fieldKeys.length} GraphQL fields × ${WHO.length} callers`);
    });
  }
});
