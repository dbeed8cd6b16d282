// Builds the whole HTTP application as a fetch handler: GraphQL on /graphql, the REST shim
// under /api/vN, health. Tests call `app.fetch` in-process; server.ts puts it on a port.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { createYoga } from 'graphql-yoga';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
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

export interface AppDeps {
  config: Config;
  services: Services;
  bus: EventBus;
  logger: Logger;
  /** GraphQL reads of runs use store queries directly, batched (absent: those fields fail). */
  database?: Pick<Database, 'db'>;
  /** Served on /metrics (absent: no /metrics route). */
  metrics?: Metrics;
  /** The built console served at `/` (default: dist/web of this checkout). */
  webDir?: string;
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

const graphiqlPages = new Map<string, string>();
function cachedGraphiQL(opts?: Parameters<typeof renderGraphiQL>[0]): string {
  const key = JSON.stringify(opts ?? {});
  let page = graphiqlPages.get(key);
  if (page === undefined) {
    page = renderGraphiQL(opts);
    graphiqlPages.set(key, page);
  }
  return page;
}

/** Versions the classic service answered on; they share one router (v6 is the superset). */
export const REST_VERSIONS = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'];

export function createApp(deps: AppDeps) {
  const { services, bus, logger, config } = deps;

  const persisted = loadPersistedOperations(config.graphqlPersisted);
  if (persisted.mode !== 'off') logger.info({ mode: persisted.mode, operations: persisted.size }, 'graphql persisted operations');

  const yoga = createYoga<Record<string, never>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    maskedErrors: true,
    landingPage: false,
    // GraphiQL from the package, scripts and styles inline: it works offline and behind a
    // firewall (Yoga's default page loads them from a public CDN). The page is ~9 MB, so it
    // is rendered once per set of options.
    renderGraphiQL: cachedGraphiQL,
    graphiql: { title: 'Flotilla GraphiQL', defaultQuery: DEFAULT_QUERY },
    plugins: [useRefuseUnanswerable(), ...persisted.plugins, useDeepDocumentIsSyntaxError(), useErrorCodes()],
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
    }),
  });

  const app = new Hono();
  app.use(
    '/api/*',
    cors({
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
      allowHeaders: ['Content-Type'],
    }),
  );

  const rest = createRestRouter({ services, logger });
  for (const v of REST_VERSIONS) app.route(`/api/${v}`, rest);
  app.route('/api/v7', createV7Router({ services, logger }));

  app.get('/health', () => json({ status: 'healthy', message: 'Service is up and running' }));
  app.route('/', createHealthRoutes({ db: deps.database?.db, bus, checkRedis: Boolean(config.redisUrl), metrics: deps.metrics }));
  app.on(['GET', 'POST', 'OPTIONS'], '/graphql', (c) => yoga.fetch(c.req.raw, {}));
  mountWebConsole(app, deps.webDir);

  app.notFound((c) => json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => errorResponse(err, logger, c));

  return { app, yoga, logger, persisted };
}

export type App = ReturnType<typeof createApp>;
