// graphql-ws on the GraphQL path of the HTTP server.
//
// An operation that cannot run (a syntax error, an unknown field, a context that failed to
// build) is an `error` message for that operation only: thrown out of onSubscribe, it would
// make graphql-ws close the whole socket (4500), ending every other subscription of that
// client, and print a multi-line stack trace outside the JSON log.
import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import type { App } from '../app.js';
import { formatError } from './errorShape.js';

/** How often idle peers are pinged; one missed pong and the connection is dropped. */
export const KEEPALIVE_MS = 30_000;

function isGraphQLError(err: unknown): err is GraphQLError {
  // Yoga and our sources may load different copies of graphql (ESM and CommonJS builds).
  return err instanceof GraphQLError || (err instanceof Error && err.name === 'GraphQLError');
}

export function attachSubscriptions(server: Server, app: App, keepAliveMs = KEEPALIVE_MS): () => Promise<void> {
  const { yoga, logger, persisted } = app;
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
        try {
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params,
          });
          // The persisted-operations mode applies here as on HTTP (persisted.ts).
          const query = persisted.resolveText(params as typeof params & { documentId?: unknown });
          if (query === '') {
            return [createGraphQLError('The payload has no query: send the operation text in "query"', { extensions: { code: 'BAD_REQUEST' } })];
          }
          const document = parse(query);
          const errors = validate(schema, document);
          if (errors.length) return errors.map((e: GraphQLError) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
          return {
            schema,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe },
          };
        } catch (err) {
          if (isGraphQLError(err)) return [err];
          logger.error({ err }, 'graphql-ws: could not start an operation');
          return [createGraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })];
        }
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
