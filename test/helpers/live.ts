// Subscriptions from tests: the test app on a real port (graphql-ws needs a socket), a
// graphql-ws client that records what a subscription delivered, and an SSE reader.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp } from '../../src/api/app.js';
import { listen, type HttpServer } from '../../src/httpServer.js';
import { silentLogger } from '../../src/logger.js';
import type { TestApp } from './app.js';

export interface ServedApp {
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

/** The test app's services and bus behind a second app listening on 127.0.0.1:<free port>. */
export async function serveTestApp(t: TestApp): Promise<ServedApp> {
  const app = createApp({ config: t.config, services: t.services, bus: t.bus, logger: silentLogger, database: t.database });
  const http: HttpServer = await listen(app, '127.0.0.1', 0);
  return { url: http.url, wsUrl: http.url.replace(/^http/, 'ws') + '/graphql', close: () => http.close() };
}

export interface Recorded<T> {
  /** Every `next` payload, in order. */
  payloads: { data?: T | null; errors?: { message: string; extensions?: Record<string, unknown> }[] }[];
  /** Resolves when the server completes the subscription; rejects on a transport error. */
  completed: Promise<void>;
  /** Resolves with the payload count once `n` payloads have arrived. */
  received(n: number): Promise<void>;
  unsubscribe(): void;
}

/** One graphql-ws connection per test file; close it with `client.dispose()`. */
export function wsClient(wsUrl: string): Client {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}

export function record<T = any>(client: Client, query: string, variables: Record<string, unknown> = {}): Recorded<T> {
  const payloads: Recorded<T>['payloads'] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let settle!: { resolve: () => void; reject: (e: unknown) => void };
  const completed = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (p) => {
        payloads.push(p as Recorded<T>['payloads'][number]);
        for (const w of waiters.filter((w) => payloads.length >= w.n)) w.resolve();
      },
      error: (e) => settle.reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
      complete: () => settle.resolve(),
    },
  );
  return {
    payloads,
    completed,
    received: (n) => (payloads.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    unsubscribe,
  };
}

/** A subscription over SSE (POST, Accept: text/event-stream), read to the end of the stream. */
export async function sse<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ events: { event: string; data: any }[]; payloads: { data?: T; errors?: { message: string }[] }[] }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
  });
  if (!res.ok || !res.headers.get('content-type')?.includes('text/event-stream')) {
    throw new Error(`expected an event stream, got ${res.status} ${res.headers.get('content-type')}: ${await res.text()}`);
  }
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((block) => block.trim() && !block.startsWith(':'))
    .map((block) => {
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        const i = line.indexOf(':');
        if (i > 0) fields[line.slice(0, i)] = (fields[line.slice(0, i)] ?? '') + line.slice(i + 1).trimStart();
      }
      return { event: fields.event ?? 'message', data: fields.data ? JSON.parse(fields.data) : undefined };
    });
  return { events, payloads: events.filter((e) => e.event === 'next').map((e) => e.data) };
}
