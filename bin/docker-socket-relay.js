#!/usr/bin/env node
// Relays TCP connections to the Docker daemon's unix socket. docker-compose.yml's `docker`
// profile runs it as the one service that mounts the host's socket, so `serve` and `worker`
// stay unprivileged and reach the daemon as DOCKER_HOST=tcp://docker:2375. Whoever can reach
// this port controls the daemon, which is root on its host: never publish it.
import net from 'node:net';

const socketPath = process.env.DOCKER_SOCKET || '/var/run/docker.sock';
const host = process.env.RELAY_HOST || '0.0.0.0';
const port = Number(process.env.RELAY_PORT || 2375);

const server = net.createServer((client) => {
  const daemon = net.connect(socketPath);
  // pipe() half-closes the other side when one ends, as HTTP hijacking (attach, logs) needs.
  client.pipe(daemon).pipe(client);
  const close = () => {
    client.destroy();
    daemon.destroy();
  };
  client.on('error', close).on('close', close);
  daemon.on('error', (err) => {
    console.error(`docker-socket-relay: ${socketPath}: ${err.message}`);
    close();
  });
  daemon.on('close', close);
});

server.listen(port, host, () => {
  const { port: bound } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`docker-socket-relay: tcp://${host}:${bound} -> unix://${socketPath}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
