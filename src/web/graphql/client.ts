// One urql client for the console: queries and mutations over HTTP, subscriptions over
// graphql-ws on the same /graphql path. Every request also carries the sha256 of its
// document (the persisted-operations contract), so a server that accepts only known
// operations finds it in dist/web/persisted-operations.json; the full text is still sent
// (`miss: true` is what tells urql's fetch exchange to keep the query in the body).
import { Client, cacheExchange, fetchExchange, mapExchange, stringifyDocument, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { sha256Hex } from '../lib/sha256.js';
import { connection } from '../lib/connectionState.js';

function wsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/graphql`;
}

export const ws: WsClient = createWsClient({
  url: wsUrl(),
  // Always connected, so a dropped socket shows as one (the banner) before anyone subscribes.
  lazy: false,
  // Keep trying: the banner says we are reconnecting, and views resume on `connected`.
  retryAttempts: Number.POSITIVE_INFINITY,
  shouldRetry: () => true,
  retryWait: async (retries) => {
    await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** retries, 5000)));
  },
  on: {
    connected: () => connection.set('connected'),
    closed: () => connection.set('reconnecting'),
  },
});

const hashes = new Map<string, Promise<string>>();
function hashOf(text: string): Promise<string> {
  let hash = hashes.get(text);
  if (!hash) {
    hash = sha256Hex(text);
    hashes.set(text, hash);
  }
  return hash;
}

export const client = new Client({
  url: '/graphql',
  // POST always: the query text travels in the body, not in a long URL.
  preferGetMethod: false,
  // Lists and the run view are live through subscriptions; a query asked again refetches.
  requestPolicy: 'cache-and-network',
  exchanges: [
    cacheExchange,
    mapExchange({
      async onOperation(operation) {
        const sha256Hash = await hashOf(stringifyDocument(operation.query));
        return { ...operation, extensions: { ...operation.extensions, persistedQuery: { version: 1, sha256Hash, miss: true } } };
      },
    }),
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query ?? '' };
        return {
          subscribe(sink) {
            const dispose = ws.subscribe(input, sink);
            return { unsubscribe: dispose };
          },
        };
      },
    }),
  ],
});
