// graphql-ws on the GraphQL path of the HTTP server. The upgrade passes the same front door
// as HTTP (Host allow-list, Origin check: a page on another origin must not open a socket that
// runs mutations as the browser's user), then the connection is authenticated from
// connectionParams (or the upgrade's Authorization header), and its work is bounded.
import type { IncomingMessage, Server } from 'node:http';
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { App } from '../app.js';
import { hostAllowed, originAllowed } from '../frontDoor.js';
import type { Actor } from '../../domain/authorization.js';

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

export function attachSubscriptions(server: Server, app: App, keepAliveMs = KEEPALIVE_MS): () => Promise<void> {
  const { yoga, security, authenticator } = app;
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
            createGraphQLError(`at most ${security.maxSubscriptionsPerConnection} subscriptions per connection (FLOTILLA_MAX_SUBSCRIPTIONS_PER_CONNECTION): complete one first`, {
              extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
            }),
          ];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.request.socket,
          params,
          actor: ctx.extra.actor,
        });
        let document;
        try {
          document = parse(params.query);
          const errors = validate(schema, document);
          if (errors.length) return errors;
        } catch (err) {
          // A syntax error or an Armor limit: an error for this operation, not a closed socket.
          if ((err as Error | undefined)?.name === 'GraphQLError') return [err as GraphQLError];
          throw err;
        }
        active.add(id);
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
      onComplete: (ctx, id) => {
        ctx.extra.active?.delete(id);
      },
    },
    wss,
  );
  return async () => {
    clearInterval(pinger);
    await ws.dispose();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}
