// Puts the fetch application on a node:http server. WebSocket subscriptions attach to the
// same server (same path as GraphQL).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { App } from './api/app.js';

export interface HttpServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * Serves a fetch handler on node:http at host:port. `attach` may hook more onto the server
 * before it listens (WebSocket subscriptions) and returns what closes that again.
 */
export async function listenFetch(
  fetch: (request: Request) => Response | Promise<Response>,
  host: string,
  port: number,
  attach?: (server: Server) => () => Promise<void>,
): Promise<HttpServer> {
  // node-server's own Request and Response stand in for the global ones (its default): a
  // response made with a string body is then written to the socket as it is, where a global
  // Response would be read back through a web stream first (measured: a tenth of an
  // execute's CPU). They are subclasses of the globals, so nothing else sees a difference.
  const server = createAdaptorServer({ fetch, overrideGlobalObjects: true }) as Server;
  const detach = attach?.(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${shownHost === '0.0.0.0' ? 'localhost' : shownHost}:${addr.port}`,
    async close() {
      await detach?.();
      server.closeIdleConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}

export async function listen(app: App, host: string, port: number, opts: { keepAliveMs?: number } = {}): Promise<HttpServer> {
  const { attachSubscriptions } = await import('./api/graphql/ws.js');
  return listenFetch(app.app.fetch, host, port, (server) => attachSubscriptions(server, app, opts.keepAliveMs));
}
