// graphql-ws on the GraphQL path of the HTTP server.
import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { App } from '../app.js';

/** How often idle peers are pinged; one missed pong and the connection is dropped. */
export const KEEPALIVE_MS = 30_000;

export function attachSubscriptions(server: Server, app: App, keepAliveMs = KEEPALIVE_MS): () => Promise<void> {
  const { yoga } = app;
  const wss = new WebSocketServer({ server, path: '/graphql' });
  // Keep-alive: a peer that vanished without closing (laptop lid, dead NAT) is found and
  // terminated, which ends its subscriptions and frees their followers.
  const alive = new WeakMap<object, boolean>();
  wss.on('connection', (socket) => {
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
  const ws = useServer(
    {
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
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
