// graphql-ws on the GraphQL path of the HTTP server. The upgrade passes the same front door
// as HTTP (Host allow-list, Origin check: a page on another origin must not open a socket that
// runs mutations as the browser's user), then the connection is authenticated from
// connectionParams (or the upgrade's Authorization header), and its work is bounded.
//
// An operation that cannot run (a syntax error, an unknown field, a limit, a context that
// failed to build) is an `error` message for that operation only: thrown out of onSubscribe,
// it would make graphql-ws close the whole socket (4500), ending every other subscription of
// that client, and print a multi-line stack trace outside the JSON log.
import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import type { App } from '../app.js';
import { hostAllowed, originAllowed } from '../frontDoor.js';
import type { Actor } from '../../domain/authorization.js';
import { formatError } from './errorShape.js';

/** How often idle peers are pinged; one missed pong and the connection is dropped. */
export const KEEPALIVE_MS = 30_000;

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  return headers;
}

function isGraphQLError(err: unknown): err is GraphQLError {
  // Yoga and our sources may load different copies of graphql (ESM and CommonJS builds).
  return err instanceof GraphQLError || (err instanceof Error && err.name === 'GraphQLError');
}

export function attachSubscriptions(server: Server, app: App, keepAliveMs = KEEPALIVE_MS): () => Promise<void> {
  const { yoga, security, authenticator, logger, persisted } = app;
  const perClient = new Map<string, number>();
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    maxPayload: security.maxBodyBytes,
    verifyClient: ({ origin, req }, done) => {
      const host = req.headers.host;
      if (!hostAllowed(security, host)) return done(false, 421, 'Host not allowed: add it to FLOTILLA_ALLOWED_HOSTS');
      if (origin !== undefined && !originAllowed(security, origin, host)) {
        return done(false, 403, 'Origin not allowed: add it to FLOTILLA_CORS_ORIGINS');
      }
      const client = req.socket.remoteAddress ?? '?';
      if ((perClient.get(client) ?? 0) >= security.maxConnectionsPerClient) {
        return done(false, 429, 'Too many connections from this address (FLOTILLA_MAX_CONNECTIONS_PER_CLIENT)');
      }
      done(true);
    },
  });
  // Keep-alive: a peer that vanished without closing (laptop lid, dead NAT) is found and
  // terminated, which ends its subscriptions and frees their followers.
  const alive = new WeakMap<object, boolean>();
  wss.on('connection', (socket, req) => {
    const client = req.socket.remoteAddress ?? '?';
    perClient.set(client, (perClient.get(client) ?? 0) + 1);
    socket.once('close', () => {
      const n = (perClient.get(client) ?? 1) - 1;
      if (n <= 0) perClient.delete(client);
      else perClient.set(client, n);
    });
    alive.set(socket, true);
    socket.on('pong', () => alive.set(socket, true));
  });
  const pinger = setInterval(() => {
    for (const socket of wss.clients) {
      if (alive.get(socket) === false) {
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, keepAliveMs);
  pinger.unref();
  type Extra = { request: IncomingMessage; actor?: Actor | null; active?: Set<string> };
  const ws = useServer<Record<string, unknown> | undefined, Extra>(
    {
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      // Anonymous or a bad credential: the socket closes with 4403 (auth none: everyone is admin).
      onConnect: async (ctx) => {
        const result = await authenticator.authenticate({
          headers: headersOf(ctx.extra.request),
          remoteAddress: ctx.extra.request.socket.remoteAddress,
          connectionParams: ctx.connectionParams ?? undefined,
        });
        if (!result.actor) return false;
        ctx.extra.actor = result.actor;
        ctx.extra.active = new Set();
        return true;
      },
      onSubscribe: async (ctx, id, params) => {
        const active = ctx.extra.active!;
        if (active.size >= security.maxSubscriptionsPerConnection) {
          return [
            // Yoga's constructor: its GraphQLError is the one graphql-ws checks errors against.
            createGraphQLError(
              `at most ${security.maxSubscriptionsPerConnection} subscriptions per connection (FLOTILLA_MAX_SUBSCRIPTIONS_PER_CONNECTION): complete one first`,
              {
                extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
              },
            ),
          ];
        }
        try {
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.request.socket,
            params,
            actor: ctx.extra.actor,
          });
          // The persisted-operations mode applies here as on HTTP (persisted.ts).
          const query = persisted.resolveText(params as typeof params & { documentId?: unknown });
          if (query === '') {
            return [createGraphQLError('The payload has no query: send the operation text in "query"', { extensions: { code: 'BAD_REQUEST' } })];
          }
          const document = parse(query);
          const errors = validate(schema, document);
          if (errors.length) return errors.map((e: GraphQLError) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
          active.add(id);
          return {
            schema,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe },
          };
        } catch (err) {
          // A syntax error or a GraphQL Armor limit: an error for this operation only.
          if (isGraphQLError(err)) return [err];
          logger.error({ err }, 'graphql-ws: could not start an operation');
          return [createGraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })];
        }
      },
      onComplete: (ctx, id) => {
        ctx.extra.active?.delete(id);
      },
      // The same error shape as HTTP: a code always, Yoga's internal `http` extension never.
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatError(e)),
      onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) =>
        result.errors?.length ? { ...result, errors: result.errors.map((e) => formatError(e)) } : undefined,
    },
    wss,
  );
  return async () => {
    clearInterval(pinger);
    await ws.dispose();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}

function withCode(error: GraphQLError, code: string): GraphQLError {
  return createGraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { ...error.extensions, code } });
}
