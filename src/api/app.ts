// Builds the whole HTTP application as a fetch handler: GraphQL on /graphql, the REST shim
// under /api/vN, health. Tests call `app.fetch` in-process; server.ts puts it on a port.
import { Hono, type Context } from 'hono';
import { createGraphQLError, createYoga, maskError } from 'graphql-yoga';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Services } from '../domain/services.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import { schema } from './graphql/schema/index.js';
import { createLoaders } from './graphql/loaders.js';
import { useDeepDocumentIsSyntaxError, useRefuseUnanswerable } from './graphql/requestGuards.js';
import { useErrorCodes } from './graphql/errorShape.js';
import { loadPersistedOperations } from './graphql/persisted.js';
import type { GraphQLContext } from './graphql/builder.js';
import { createRestRouter, createV7Router } from './rest/index.js';
import { errorResponse, json } from './rest/http.js';
import { createHealthRoutes } from './health.js';
import { mountWebConsole } from './webConsole.js';
import type { Metrics } from '../metrics.js';
import { FlotillaError } from '../errors.js';
import type { Actor } from '../domain/authorization.js';
import { createAuthenticator, wwwAuthenticate, type Authenticator, type AuthenticatorOptions } from '../auth/authenticate.js';
import { frontDoor } from './frontDoor.js';
import { graphqlLimitPlugins } from './graphql/limits.js';
import { useAuthorizeFields } from './graphql/authorizeFields.js';

export interface AppDeps {
  config: Config;
  services: Services;
  bus: EventBus;
  logger: Logger;
  /** GraphQL reads of runs use store queries directly, batched (absent: those fields fail). */
  database?: Pick<Database, 'db'>;
  /** Served on /metrics (absent: no /metrics route). */
  metrics?: Metrics;
  /** Shown on /health/ready (auth none beyond loopback, no Host list). */
  warnings?: string[];
  /** Tests shorten the JWKS refetch cool-down. */
  authOptions?: AuthenticatorOptions;
  /** The built console served at `/` (default: dist/web of this checkout). */
  webDir?: string;
}

/** What the server context carries into Yoga (HTTP) and the WebSocket handler. */
export interface RequestIdentity {
  actor?: Actor | null;
}

/** Paths open without a credential in every mode (probes; the console's sign-in needs the auth config). */
const OPEN_PATHS = /^\/(health(\/live|\/ready)?|metrics|auth\/config)$/;

/** The peer address node-server hands over as the fetch env (absent for in-process fetches). */
export function remoteAddressOf(c: Context): string | undefined {
  return (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
}

/** Service errors about the caller become GraphQL errors with a code; everything else stays masked. */
function maskWithAuthCodes(error: unknown, message: string, isDev?: boolean): Error {
  // The service's error may sit under a GraphQLError, a plugin's wrapper or a transaction's cause.
  for (let e: unknown = error, depth = 0; e && depth < 8; depth++) {
    if (e instanceof FlotillaError && (e.code === 'FORBIDDEN' || e.code === 'UNAUTHENTICATED')) {
      const path = (error as { path?: readonly (string | number)[] }).path;
      return createGraphQLError(e.message, { path, extensions: { code: e.code } });
    }
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return maskError(error, message, isDev);
}

/** Yoga passes `request` over HTTP; graphql-ws (ws.ts) passes the upgrade request as `req`. */
function requestHeaders(initial: { request?: Request; req?: { headers: IncomingHttpHeaders } }): Headers {
  if (initial.request) return initial.request.headers;
  const headers = new Headers();
  for (const [name, value] of Object.entries(initial.req?.headers ?? {})) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  return headers;
}

const DEFAULT_QUERY = `# Flotilla GraphQL. Docs: the book icon on the left; run with Ctrl-Enter.
query RecentRuns {
  runs(first: 10) {
    edges { node { runId alias status queuedAt } }
  }
}
`;

type GraphiQLOptions = Parameters<typeof import('@graphql-yoga/render-graphiql').renderGraphiQL>[0];

// The package is ~9 MB of inline scripts: it loads on the first GraphiQL request, not at
// start-up (where it cost tens of MB of memory for a page most starts never serve).
const graphiqlPages = new Map<string, Promise<string>>();
function cachedGraphiQL(opts?: GraphiQLOptions): Promise<string> {
  const key = JSON.stringify(opts ?? {});
  let page = graphiqlPages.get(key);
  if (page === undefined) {
    page = import('@graphql-yoga/render-graphiql').then(({ renderGraphiQL }) => renderGraphiQL(opts));
    page.catch(() => graphiqlPages.delete(key));
    graphiqlPages.set(key, page);
  }
  return page;
}

/** Versions the classic service answered on; they share one router (v6 is the superset). */
export const REST_VERSIONS = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'];

export function createApp(deps: AppDeps) {
  const { services, bus, logger, config } = deps;
  const security = config.security;
  const authenticator: Authenticator = createAuthenticator(security, deps.database?.db as never, deps.authOptions);

  const persisted = loadPersistedOperations(config.graphqlPersisted);
  if (persisted.mode !== 'off') logger.info({ mode: persisted.mode, operations: persisted.size }, 'graphql persisted operations');

  const yoga = createYoga<RequestIdentity, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    maskedErrors: { maskError: maskWithAuthCodes },
    landingPage: false,
    // GraphiQL from the package, scripts and styles inline: it works offline and behind a
    // firewall (Yoga's default page loads them from a public CDN). The page is ~9 MB, so it
    // is rendered once per set of options.
    renderGraphiQL: cachedGraphiQL,
    graphiql: { title: 'Flotilla GraphiQL', defaultQuery: DEFAULT_QUERY },
    // CORS is the front door's (listed origins only); Yoga's own would echo any origin.
    cors: false,
    plugins: [
      useCSRFPrevention({ requestHeaders: ['x-graphql-yoga-csrf'] }),
      useRefuseUnanswerable(),
      ...persisted.plugins,
      ...graphqlLimitPlugins(),
      useDeepDocumentIsSyntaxError(),
      useAuthorizeFields(),
      useErrorCodes(),
    ],
    // GraphQL over HTTP's name for a persisted operation's id (persisted.ts).
    extraParamNames: ['documentId'],
    logging: {
      debug: (...a) => logger.debug(a.map(String).join(' ')),
      info: (...a) => logger.info(a.map(String).join(' ')),
      warn: (...a) => logger.warn(a.map(String).join(' ')),
      error: (...a) => logger.error({ err: a[0] }, 'graphql error'),
    },
    context: (initial) => ({
      services,
      bus,
      loaders: createLoaders(services, deps.database?.db),
      headers: requestHeaders(initial as Parameters<typeof requestHeaders>[0]),
      actor: initial.actor === undefined ? null : initial.actor,
      authMode: security.auth,
    }),
  });

  const app = new Hono();
  for (const mw of frontDoor(security)) app.use('*', mw);
  // Who is calling. No credential: anonymous (null), refused by the routes that need one. A
  // credential that does not check out: 401 at once, whatever the route.
  app.use('*', async (c, next) => {
    if (c.req.method === 'OPTIONS' || OPEN_PATHS.test(c.req.path)) return next();
    const result = await authenticator.authenticate({ headers: c.req.raw.headers, remoteAddress: remoteAddressOf(c) });
    if (result.error !== undefined) {
      const headers = { 'www-authenticate': wwwAuthenticate(result.error) };
      if (c.req.path === '/graphql') return json({ errors: [{ message: result.error, extensions: { code: 'UNAUTHENTICATED' } }] }, 401, headers);
      return json({ error: result.error }, 401, headers);
    }
    c.set('actor' as never, result.actor as never);
    return next();
  });
  app.get('/auth/config', () =>
    json({
      mode: security.auth,
      ...(security.auth === 'oidc'
        ? { oidc: { issuer: security.oidc.issuer, clientId: security.oidc.clientId ?? null, audience: security.oidc.audience } }
        : {}),
    }),
  );

  const rest = createRestRouter({ services, logger });
  for (const v of REST_VERSIONS) app.route(`/api/${v}`, rest);
  app.route('/api/v7', createV7Router({ services, logger }));

  app.get('/health', () => json({ status: 'healthy', message: 'Service is up and running' }));
  app.route('/', createHealthRoutes({ db: deps.database?.db, bus, checkRedis: Boolean(config.redisUrl), metrics: deps.metrics, warnings: deps.warnings }));
  app.on(['GET', 'POST', 'OPTIONS'], '/graphql', (c) => yoga.fetch(c.req.raw, { actor: c.get('actor' as never) as Actor | null }));
  mountWebConsole(app, deps.webDir);

  app.notFound((c) => json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => errorResponse(err, logger, c));

  return { app, yoga, logger, persisted, authenticator, security };
}

export type App = ReturnType<typeof createApp>;
