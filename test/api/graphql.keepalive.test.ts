// A peer that vanishes without closing its WebSocket (laptop lid, dead NAT) must not keep
// a follower running on the server forever: the keep-alive finds it and cleans up.
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { listen, type HttpServer } from '../../src/httpServer.js';
import { silentLogger } from '../../src/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let http: HttpServer;

beforeAll(async () => {
  t = await createTestApp();
  const app = createApp({ config: t.config, services: t.services, bus: t.bus, logger: silentLogger, database: t.database });
  http = await listen(app, '127.0.0.1', 0, { keepAliveMs: 200 });
});
afterAll(async () => {
  await http?.close();
  await t?.close();
});

it('drops a peer that stops answering pings, ending its subscriptions', async () => {
  const def = await t.services.definitions.create({ alias: 'ka', image: 'x', command: 'sleep 60' });
  const run = await t.services.runs.execute({ definitionId: def.definitionId }, { owner: 'ka' });
  const socket = new WebSocket(http.url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
  await new Promise((r) => socket.once('open', r));
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await new Promise((r) => socket.once('message', r)); // connection_ack
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `subscription { runLogs(runId: "${run.runId}") { seq } }` } }));
  await expect.poll(() => t.services.live.stats.activeLogFollowers, { timeout: 5000 }).toBe(1);
  // The peer goes silent: it stops reading, so it never answers a ping.
  (socket as unknown as { _socket: { pause(): void } })._socket.pause();
  await expect.poll(() => t.services.live.stats.activeLogFollowers, { timeout: 5000, interval: 50 }).toBe(0);
  socket.terminate();
});
