// /metrics, /health/live and /health/ready: runs executed through REST and run by the worker
// loops in-process on the local engine show up in the Prometheus figures; readiness names
// the dependency that stopped answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { listenHealth } from '../../src/api/health.js';
import type { TaskDefinitionRow } from '../../src/db/schema.js';
import { createServices, type Services } from '../../src/domain/services.js';
import { PermanentEngineError, RetryableEngineError } from '../../src/errors.js';
import { createRedisBus } from '../../src/events/redisBus.js';
import { silentLogger } from '../../src/logger.js';
import { countLines, createMetrics, dispatchStart, type Metrics } from '../../src/metrics.js';
import { newWorkerId } from '../../src/workers/context.js';
import { startWorkers, type Workers } from '../../src/workers/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { TEST_REDIS_URL } from '../helpers/env.js';
import { createDefinition } from '../helpers/factories.js';

const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

let t: TestApp;
let metrics: Metrics;
let services: Services;
let fetchApp: (path: string, init?: RequestInit) => Promise<Response>;
let workers: Workers | undefined;
let printer: TaskDefinitionRow;

beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local' });
  // No cache here, so every scrape shows the database as it is now; caching has its own test.
  metrics = createMetrics({ db: t.database.db, cacheMs: 0 });
  services = createServices({ db: t.database.db, bus: t.bus, config: t.config, logger: silentLogger, engines: t.engines, metrics });
  metrics.trackLive(services.live.stats);
  // The helper's bus is Redis when TEST_REDIS_URL is set; say so in the config, as REDIS_URL would.
  const config = { ...t.config, redisUrl: TEST_REDIS_URL };
  const { app } = createApp({ config, services, bus: t.bus, logger: silentLogger, database: t.database, metrics });
  fetchApp = async (path, init) => app.fetch(new Request(`http://flotilla.test${path}`, init));
  printer = await createDefinition(services, { alias: `printer-${Date.now()}`, command: 'for i in 1 2 3; do echo "line $i"; done' });
});
afterAll(async () => {
  await workers?.stop();
  await t?.close();
});

/** Parses the text format into `name{labels}` → value (labels in the order written). */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function scrape(): Promise<Map<string, number>> {
  const res = await fetchApp('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(PROMETHEUS_TYPE);
  return parse(await res.text());
}

async function value(key: string): Promise<number | undefined> {
  return (await scrape()).get(key);
}

async function execute(def = printer): Promise<string> {
  const res = await fetchApp(`/api/v6/task/${def.definitionId}/execute`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ run_tags: { owner_id: 'metrics-test' } }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { run_id: string }).run_id;
}

describe('/metrics after runs executed through REST', () => {
  const runIds: string[] = [];

  it('shows queued runs, queue depth and the oldest queued age before any worker runs', async () => {
    runIds.push(await execute(), await execute());
    const m = await scrape();
    expect(m.get('flotilla_runs{status="QUEUED",engine="local"}')).toBe(2);
    expect(m.get('flotilla_runs{status="STOPPED",engine="local"}')).toBe(0);
    expect(m.get('flotilla_queue_depth{engine="local"}')).toBe(2);
    expect(m.get('flotilla_queue_oldest_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(m.get('flotilla_queue_oldest_age_seconds')).toBeLessThan(60);
    expect(m.get('flotilla_dispatch_latency_seconds_count{engine="local"}')).toBeUndefined();
  });

  it('counts a live status follower while it follows', async () => {
    const follow = services.live.followStatus(runIds[0]!, new AbortController().signal);
    expect((await follow.next()).value?.status).toBe('QUEUED');
    expect(await value('flotilla_active_subscriptions{kind="status"}')).toBe(1);
    expect(await value('flotilla_active_subscriptions{kind="logs"}')).toBe(0);
    await follow.return(undefined);
    expect(await value('flotilla_active_subscriptions{kind="status"}')).toBe(0);
  });

  it('shows the runs STOPPED, the queue empty, dispatch latencies, execute → STOPPED durations and log lines once workers ran them', async () => {
    workers = startWorkers({
      workerId: newWorkerId(),
      db: t.database.db,
      bus: t.bus,
      config: t.config,
      logger: silentLogger,
      updates: services.runUpdates,
      engines: t.engines!,
      activity: services.activity,
    });
    await expect.poll(() => value('flotilla_runs{status="STOPPED",engine="local"}'), { timeout: 15_000, interval: 100 }).toBe(2);
    // Logs are complete a little after STOPPED: each run printed three lines.
    await expect.poll(() => value('flotilla_log_lines_total{engine="local"}'), { timeout: 10_000, interval: 100 }).toBe(6);

    const m = await scrape();
    expect(m.get('flotilla_runs{status="QUEUED",engine="local"}')).toBe(0);
    expect(m.get('flotilla_queue_depth{engine="local"}')).toBe(0);
    expect(m.get('flotilla_queue_oldest_age_seconds')).toBe(0);
    expect(m.get('flotilla_dispatch_latency_seconds_count{engine="local"}')).toBe(2);
    expect(m.get('flotilla_dispatch_latency_seconds_sum{engine="local"}')).toBeGreaterThan(0);
    expect(m.get('flotilla_dispatch_latency_seconds_bucket{le="+Inf",engine="local"}')).toBe(2);
    expect(m.get('flotilla_execute_to_stopped_seconds_count{engine="local",outcome="succeeded"}')).toBe(2);
    expect(m.get('flotilla_log_bytes_total{engine="local"}')).toBe(2 * 'line 1\nline 2\nline 3\n'.length);
    expect(m.get('flotilla_metrics_query_errors_total')).toBe(0);
    // prom-client's process metrics are there too.
    expect(m.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(m.get('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    for (const id of runIds) expect((await services.runs.get(id)).exitCode).toBe(0);
  });

  it('counts a failed run under outcome="failed"', async () => {
    const failing = await createDefinition(services, { alias: `failing-${Date.now()}`, command: 'exit 3' });
    const runId = await execute(failing);
    await expect.poll(async () => (await services.runs.get(runId)).status, { timeout: 15_000, interval: 100 }).toBe('STOPPED');
    expect(await value('flotilla_execute_to_stopped_seconds_count{engine="local",outcome="failed"}')).toBe(1);
  });
});

describe('metric rules', () => {
  it('counts engine errors by engine, operation and kind', async () => {
    const own = createMetrics({ processMetrics: false });
    own.engineError('ecs', 'submit', new RetryableEngineError('throttled'));
    own.engineError('ecs', 'submit', new RetryableEngineError('throttled'));
    own.engineError('kubernetes', 'submit', new PermanentEngineError('forbidden'));
    own.engineError('docker', 'logs', new Error('socket hang up'));
    const m = parse(await own.render());
    expect(m.get('flotilla_engine_errors_total{engine="ecs",operation="submit",kind="retryable"}')).toBe(2);
    expect(m.get('flotilla_engine_errors_total{engine="kubernetes",operation="submit",kind="permanent"}')).toBe(1);
    expect(m.get('flotilla_engine_errors_total{engine="docker",operation="logs",kind="unexpected"}')).toBe(1);
    expect(m.has('process_cpu_seconds_total')).toBe(false);
  });

  it('caches the run counts, so scrapes within the cache time ask the database once', async () => {
    const cached = createMetrics({ db: t.database.db, cacheMs: 60_000, processMetrics: false });
    const before = parse(await cached.render()).get('flotilla_runs{status="STOPPED",engine="local"}');
    expect(before).toBeGreaterThan(0);
    // A run stopped right now is not seen until the cache expires.
    const extra = await services.runs.execute({ definitionId: printer.definitionId }, { owner: 'metrics-test' });
    await services.runs.stop(extra.runId);
    expect(parse(await cached.render()).get('flotilla_runs{status="STOPPED",engine="local"}')).toBe(before);
    expect(await value('flotilla_runs{status="STOPPED",engine="local"}')).toBe(before! + 1);
  });

  it('measures dispatch from execute, or from when a retry became due', () => {
    const queuedAt = new Date('2024-01-01T00:00:00Z');
    const due = new Date('2024-01-01T00:00:30Z');
    expect(dispatchStart({ queuedAt, attempt: 1, nextAttemptAt: due })).toBe(queuedAt);
    expect(dispatchStart({ queuedAt, attempt: 2, nextAttemptAt: due })).toBe(due);
    expect(dispatchStart({ queuedAt, attempt: 2, nextAttemptAt: null })).toBe(queuedAt);
  });

  it('counts whole lines, and a last line without a newline', () => {
    expect(countLines('')).toBe(0);
    expect(countLines('a\n')).toBe(1);
    expect(countLines('a\nb')).toBe(2);
    expect(countLines('\n\n')).toBe(2);
  });
});

describe('health', () => {
  it('/health/live answers without I/O', async () => {
    const res = await fetchApp('/health/live');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'live' });
  });

  it('/health/ready checks the database and, when REDIS_URL is set, Redis', async () => {
    const res = await fetchApp('/health/ready');
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.status).toBe('ready');
    expect(body.checks.database).toMatchObject({ status: 'ok' });
    if (TEST_REDIS_URL) expect(body.checks.redis).toMatchObject({ status: 'ok' });
    else expect(Object.keys(body.checks)).toEqual(['database']);
  });

  it('keeps the classic health bodies', async () => {
    for (const path of ['/health', '/api/v6/health']) {
      const res = await fetchApp(path);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'healthy', message: 'Service is up and running' });
    }
  });

  describe('when the database is gone', () => {
    let gone: TestDatabase;
    let goneMetrics: Metrics;
    let fetchGone: (path: string) => Promise<Response>;

    beforeAll(async () => {
      gone = await createTestDatabase();
      goneMetrics = createMetrics({ db: gone.db, cacheMs: 0, processMetrics: false });
      const goneServices = createServices({ db: gone.db, bus: t.bus, config: t.config, logger: silentLogger });
      const { app } = createApp({ config: t.config, services: goneServices, bus: t.bus, logger: silentLogger, database: gone, metrics: goneMetrics });
      fetchGone = async (path) => app.fetch(new Request(`http://flotilla.test${path}`));
      expect((await fetchGone('/health/ready')).status).toBe(200);
      await gone.close();
    });

    it('/health/ready answers 503 naming database', async () => {
      const res = await fetchGone('/health/ready');
      expect(res.status).toBe(503);
      const body = (await res.json()) as any;
      expect(body).toMatchObject({ status: 'not ready', failing: ['database'], checks: { database: { status: 'failing' } } });
      expect(typeof body.checks.database.error).toBe('string');
    });

    it('/health/live and /metrics still answer; the failed count query is counted', async () => {
      expect((await fetchGone('/health/live')).status).toBe(200);
      const res = await fetchGone('/metrics');
      expect(res.status).toBe(200);
      expect(parse(await res.text()).get('flotilla_metrics_query_errors_total')).toBe(1);
    });
  });
});

if (!TEST_REDIS_URL) console.warn('metrics.test: TEST_REDIS_URL is not set; the Redis readiness failure test is skipped');
describe.skipIf(!TEST_REDIS_URL)('when Redis is gone', () => {
  it('/health/ready answers 503 naming redis', async () => {
    const bus = await createRedisBus(TEST_REDIS_URL!);
    const { app } = createApp({ config: { ...t.config, redisUrl: TEST_REDIS_URL }, services, bus, logger: silentLogger, database: t.database });
    await bus.close();
    const res = await app.fetch(new Request('http://flotilla.test/health/ready'));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'not ready', failing: ['redis'], checks: { database: { status: 'ok' }, redis: { status: 'failing' } } });
  });
});

describe('the worker listener (WORKER_METRICS_PORT)', () => {
  it('serves /metrics and the probes over HTTP on its own port', async () => {
    const own = createMetrics({ db: t.database.db, processMetrics: false });
    const server = await listenHealth({ db: t.database.db, bus: t.bus, metrics: own }, '127.0.0.1', 0);
    try {
      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(PROMETHEUS_TYPE);
      expect(parse(await res.text()).get('flotilla_runs{status="STOPPED",engine="local"}')).toBeGreaterThan(0);
      expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
      const ready = await fetch(`${server.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as any).checks.database.status).toBe('ok');
      expect((await fetch(`${server.url}/graphql`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
