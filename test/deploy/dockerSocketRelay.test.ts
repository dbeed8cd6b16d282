// bin/docker-socket-relay.js, the one process of docker-compose.yml's `docker` profile that
// mounts the daemon's socket: a request and a long streamed answer (as `logs --follow`
// gives) pass through unchanged, and the real daemon answers through it when one runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RELAY = join(import.meta.dirname, '../../bin/docker-socket-relay.js');

async function startRelay(socketPath: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [RELAY], {
    env: { ...process.env, DOCKER_SOCKET: socketPath, RELAY_HOST: '127.0.0.1', RELAY_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}: ${out}`)));
  });
  return { child, port };
}

async function stopRelay(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('docker socket relay against a server on a unix socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-relay-'));
  const socketPath = join(dir, 'docker.sock');
  const server = http.createServer((req, res) => {
    if (req.url === '/stream') {
      // Written in pieces over time, like a followed log.
      res.writeHead(200, { 'content-type': 'text/plain' });
      let i = 0;
      const timer = setInterval(() => {
        res.write(`line ${++i}\n`);
        if (i === 20) {
          clearInterval(timer);
          res.end();
        }
      }, 5);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, method: req.method }));
  });
  let relay: { child: ChildProcess; port: number };

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    relay = await startRelay(socketPath);
  });
  afterAll(async () => {
    await stopRelay(relay.child);
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes a request and its answer through', async () => {
    expect(await get(relay.port, '/v1.41/version')).toEqual({ status: 200, body: JSON.stringify({ path: '/v1.41/version', method: 'GET' }) });
  });

  it('passes a streamed answer through whole, and serves connections side by side', async () => {
    const answers = await Promise.all([get(relay.port, '/stream'), get(relay.port, '/stream'), get(relay.port, '/info')]);
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`).join('');
    expect(answers.map((a) => a.body)).toEqual([lines, lines, JSON.stringify({ path: '/info', method: 'GET' })]);
  });

  it('stops on SIGTERM with status 0', async () => {
    const other = await startRelay(socketPath);
    const code = new Promise((resolve) => other.child.once('exit', resolve));
    other.child.kill('SIGTERM');
    expect(await code).toBe(0);
  });
});

const dockerHost = process.env.TEST_DOCKER_HOST;
describe.skipIf(!dockerHost?.startsWith('unix://'))(
  `docker socket relay against the real daemon${dockerHost ? '' : ' (skipped: TEST_DOCKER_HOST is not set; eval "$(bash scripts/ci/dockerd.sh start)")'}`,
  () => {
    let relay: { child: ChildProcess; port: number };
    beforeAll(async () => {
      relay = await startRelay(dockerHost!.slice('unix://'.length));
    });
    afterAll(() => stopRelay(relay.child));

    it('the daemon answers through the relay as it does on its socket', async () => {
      const direct = await new Docker({ socketPath: dockerHost!.slice('unix://'.length) }).version();
      const relayed = await new Docker({ host: '127.0.0.1', port: relay.port, protocol: 'http' }).version();
      expect(relayed.Version).toBe(direct.Version);
      const images = await new Docker({ host: '127.0.0.1', port: relay.port, protocol: 'http' }).listImages();
      expect(Array.isArray(images)).toBe(true);
    });
  },
);
