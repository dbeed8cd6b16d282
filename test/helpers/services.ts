// Peers that tests start, stop and break on purpose: a private redis-server (so killing it
// touches no one else's Redis), a free port, cutting every Postgres connection to a test
// database, and an HTTP proxy that swallows chosen Kubernetes API calls.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import postgres from 'postgres';

export const haveRedisServer = spawnSync('redis-server', ['--version']).status === 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own on `port`, with no persistence; resolves once it accepts connections. */
export function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
}

/** Kills a process and waits until it is gone (so its port is free again). */
export async function killAndWait(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await gone;
}

/**
 * Terminates every server process connected to `databaseUrl`'s database, as a failover or
 * an idle-connection killer would, from a separate admin connection. Returns how many.
 */
export async function cutPostgresConnections(databaseUrl: string): Promise<number> {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin<{ cut: boolean }[]>`
      select pg_terminate_backend(pid) as cut from pg_stat_activity
      where datname = ${name} and pid <> pg_backend_pid()`;
    return rows.filter((r) => r.cut).length;
  } finally {
    await admin.end({ timeout: 1 }).catch(() => {});
  }
}

export type Hold = 'unsent' | 'unanswered';

/**
 * A pass-through proxy to `target` that holds Job creates given with `holdNext`: `unsent` never
 * reaches the API server, `unanswered` reaches it (the Job is created) but its answer never comes.
 */
export async function startHoldingProxy(target: string) {
  const holds: Hold[] = [];
  let creates = 0;
  const server = http.createServer((req, res) => {
    const isCreate = req.method === 'POST' && /\/jobs$/.test(req.url ?? '');
    if (isCreate) creates++;
    const hold = isCreate ? holds.shift() : undefined;
    if (hold === 'unsent') return void req.resume();
    const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      if (hold === 'unanswered') return void upRes.resume();
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      res.flushHeaders(); // watches: the client waits for the headers
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    holdNext: (h: Hold) => void holds.push(h),
    /** Job creates the proxy saw (held or not). */
    creates: () => creates,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
