// Probes and metrics for orchestrators: /health/live (the process answers; no I/O, so a slow
// database never gets a healthy process restarted), /health/ready (Postgres and, when
// configured, Redis answer, and no worker loop of the process is wedged; a load balancer
// stops sending traffic otherwise) and /metrics.
// Mounted by the API app, and on its own port by `flotilla worker` (WORKER_METRICS_PORT).
import { Hono } from 'hono';
import { ping, type Db } from '../db/client.js';
import type { EventBus } from '../events/bus.js';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { listenFetch } from '../httpServer.js';

const CHECK_TIMEOUT_MS = 2000;

export interface HealthDeps {
  /** Checked by /health/ready. */
  db?: Db;
  /** Pinged by /health/ready when `checkRedis` (REDIS_URL is set). */
  bus?: EventBus;
  checkRedis?: boolean;
  /** Served on /metrics; absent: no /metrics route. */
  metrics?: Metrics;
  /** Added to /health/ready's answer (does not make it fail). */
  warnings?: string[];
  /** The worker loops of this process: one wedged in a pass makes /health/ready fail. */
  loops?: () => readonly { name: string; wedged: boolean; tickStartedAt: Date | null }[];
}

type Check = { status: 'ok'; ms: number } | { status: 'failing'; ms: number; error: string };

async function runCheck(probe: () => Promise<void>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  const ms = () => Math.round(performance.now() - started);
  try {
    const answer = probe();
    answer.catch(() => {});
    await Promise.race([answer, timeout]);
    return { status: 'ok', ms: ms() };
  } catch (err) {
    return { status: 'failing', ms: ms(), error: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(deps: HealthDeps): Promise<{ ready: boolean; body: Record<string, unknown> }> {
  const probes: [string, () => Promise<void>][] = [];
  if (deps.db) probes.push(['database', () => ping(deps.db!)]);
  if (deps.checkRedis && deps.bus) probes.push(['redis', () => deps.bus!.ping()]);
  const results = await Promise.all(probes.map(async ([name, probe]) => [name, await runCheck(probe)] as const));
  const checks: Record<string, unknown> = Object.fromEntries(results);
  const failing = results.filter(([, c]) => c.status !== 'ok').map(([name]) => name);
  const wedged = (deps.loops?.() ?? []).filter((l) => l.wedged);
  if (deps.loops) {
    checks.loops = wedged.length
      ? {
          status: 'failing',
          error: wedged.map((l) => `${l.name} has been in one pass since ${l.tickStartedAt?.toISOString() ?? '?'}`).join('; '),
        }
      : { status: 'ok' };
    if (wedged.length) failing.push('loops');
  }
  if (failing.length === 0) return { ready: true, body: { status: 'ready', checks } };
  return { ready: false, body: { status: 'not ready', failing, checks } };
}

export function createHealthRoutes(deps: HealthDeps): Hono {
  const routes = new Hono();
  routes.get('/health/live', (c) => c.json({ status: 'live' }));
  routes.get('/health/ready', async (c) => {
    const { ready, body } = await readiness(deps);
    if (deps.warnings?.length) body.warnings = deps.warnings;
    c.header('cache-control', 'no-store');
    return c.json(body, ready ? 200 : 503);
  });
  const metrics = deps.metrics;
  if (metrics) {
    routes.get('/metrics', async () => new Response(await metrics.render(), { headers: { 'content-type': metrics.contentType } }));
  }
  return routes;
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/** The probes alone on a port, for processes without the API (workers). */
export async function listenHealth(deps: HealthDeps, host: string, port: number): Promise<HealthServer> {
  const routes = createHealthRoutes(deps);
  routes.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  return listenFetch(routes.fetch, host, port);
}
