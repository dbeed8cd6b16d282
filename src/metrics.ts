// Prometheus metrics for one process. Each process (and each test app) gets its own Registry
// rather than prom-client's global one, so several apps in one process never collide.
// Observations hang off the typed events of domain/activity.ts (observe) and the loops' own
// reports (trackLoops); the run counts are read from Postgres on scrape, cached briefly so
// scrapes cannot load the database.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from './db/client.js';
import type { RunRow } from './db/schema.js';
import { RUN_STATUSES } from './domain/lifecycle.js';
import { FlotillaError } from './errors.js';
import type { Logger } from './logger.js';
import { countRunsByStatus } from './store/runs.js';
import type { Activity, EngineOperation } from './domain/activity.js';

export const RUN_COUNT_CACHE_MS = 5_000;

export type { EngineOperation };
export type EngineErrorKind = 'retryable' | 'permanent' | 'unexpected';

/** What a worker loop reports about itself (workers/loop.ts `status()`). */
export interface LoopView {
  name: string;
  state: string;
  lastSuccessAt: Date | null;
  failures: number;
  wedged: boolean;
}

const LOOP_STATES = ['running', 'idle', 'backing-off', 'stopped'] as const;

/** The live service's follower counters (services.live.stats). */
export interface LiveStats {
  activeLogFollowers: number;
  activeStatusFollowers: number;
}

export interface MetricsOptions {
  /** Source of the run-count gauges; without it they stay empty. */
  db?: Db;
  logger?: Logger;
  /** How long one run-count query serves scrapes. */
  cacheMs?: number;
  /** prom-client's process and Node.js metrics (default true). */
  processMetrics?: boolean;
}

export interface Metrics {
  registry: Registry;
  /** Content-Type of `render()`'s output. */
  contentType: string;
  render(): Promise<string>;
  /** Reads the live service's follower counters on every scrape. */
  trackLive(stats: LiveStats): void;
  /** Counts what `activity` reports (dispatches, STOPPED runs, engine errors, log lines). */
  observe(activity: Activity): void;
  /** Reads the worker loops' own reports on every scrape. */
  trackLoops(loops: () => readonly LoopView[]): void;
  /** A run left QUEUED for its engine (the submit worker). */
  observeDispatch(run: Pick<RunRow, 'engine' | 'queuedAt' | 'attempt' | 'nextAttemptAt'>, at?: Date): void;
  /** A run reached STOPPED. */
  observeStopped(run: Pick<RunRow, 'engine' | 'queuedAt' | 'finishedAt' | 'exitCode'>): void;
  engineError(engine: string, operation: EngineOperation, err: unknown): void;
  logsCollected(engine: string, chunks: readonly { text: string }[]): void;
}

export function engineErrorKind(err: unknown): EngineErrorKind {
  if (err instanceof FlotillaError && err.code === 'RETRYABLE_ENGINE') return 'retryable';
  if (err instanceof FlotillaError && err.code === 'PERMANENT_ENGINE') return 'permanent';
  return 'unexpected';
}

/**
 * When the wait for dispatch began: execute for a first attempt; for a retry, the moment
 * the requeued run became due (the retry backoff is not dispatch latency).
 */
export function dispatchStart(run: Pick<RunRow, 'queuedAt' | 'attempt' | 'nextAttemptAt'>): Date {
  if (run.attempt > 1 && run.nextAttemptAt && run.nextAttemptAt > run.queuedAt) return run.nextAttemptAt;
  return run.queuedAt;
}

/** Whole lines in a chunk; a final line without a newline still counts. */
export function countLines(text: string): number {
  if (text === '') return 0;
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') ? n : n + 1;
}

type RunCounts = Awaited<ReturnType<typeof countRunsByStatus>>;

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const cacheMs = opts.cacheMs ?? RUN_COUNT_CACHE_MS;
  let live: LiveStats | undefined;

  // One query serves the three gauges of a scrape and every scrape within cacheMs. On a
  // failed query the gauges keep their last values and the error counter says so.
  // A query in flight is always shared (the collects of one scrape run concurrently).
  let cached: { settledAt?: number; counts: Promise<RunCounts | undefined> } | undefined;
  const queryErrors = new Counter({
    name: 'flotilla_metrics_query_errors_total',
    help: 'Run-count queries for /metrics that failed (the run gauges then show the last good values)',
    registers,
    async collect() {
      // Waits for this scrape's query, so a failure is counted in the same scrape.
      await runCounts();
    },
  });
  function runCounts(): Promise<RunCounts | undefined> {
    const db = opts.db;
    if (!db) return Promise.resolve(undefined);
    if (!cached || (cached.settledAt !== undefined && Date.now() - cached.settledAt >= cacheMs)) {
      const entry: NonNullable<typeof cached> = {
        counts: countRunsByStatus(db)
          .catch((err: unknown) => {
            queryErrors.inc();
            opts.logger?.warn({ err }, 'metrics: run count query failed');
            return undefined;
          })
          .finally(() => {
            entry.settledAt = Date.now();
          }),
      };
      cached = entry;
    }
    return cached.counts;
  }

  new Gauge({
    name: 'flotilla_runs',
    help: 'Runs by status and engine',
    labelNames: ['status', 'engine'] as const,
    registers,
    async collect() {
      const counts = await runCounts();
      if (!counts) return;
      this.reset();
      // Every status of every engine seen, so a status that emptied shows 0 instead of vanishing.
      for (const engine of new Set(counts.map((c) => c.engine))) {
        for (const status of RUN_STATUSES) this.set({ status, engine }, 0);
      }
      for (const c of counts) this.set({ status: c.status, engine: c.engine }, c.n);
    },
  });
  new Gauge({
    name: 'flotilla_queue_depth',
    help: 'QUEUED runs by engine (due now or waiting for a retry backoff)',
    labelNames: ['engine'] as const,
    registers,
    async collect() {
      const counts = await runCounts();
      if (!counts) return;
      this.reset();
      for (const engine of new Set(counts.map((c) => c.engine))) this.set({ engine }, 0);
      for (const c of counts) if (c.status === 'QUEUED') this.set({ engine: c.engine }, c.n);
    },
  });
  new Gauge({
    name: 'flotilla_queue_oldest_age_seconds',
    help: 'Age of the oldest QUEUED run since it was executed (0 when the queue is empty)',
    registers,
    async collect() {
      const counts = await runCounts();
      if (!counts) return;
      const oldest = Math.min(...counts.filter((c) => c.status === 'QUEUED' && c.oldestQueuedAt).map((c) => c.oldestQueuedAt!.getTime()));
      this.set(Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0);
    },
  });

  let loopViews: (() => readonly LoopView[]) | undefined;
  new Gauge({
    name: 'flotilla_worker_loop_state',
    help: 'Each worker loop in this process: 1 for its current state (running, idle, backing-off, stopped), 0 for the others',
    labelNames: ['loop', 'state'] as const,
    registers,
    collect() {
      this.reset();
      for (const l of loopViews?.() ?? []) for (const state of LOOP_STATES) this.set({ loop: l.name, state }, l.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'flotilla_worker_loop_last_success_timestamp_seconds',
    help: 'When each worker loop last finished a pass without error (0: not yet)',
    labelNames: ['loop'] as const,
    registers,
    collect() {
      this.reset();
      for (const l of loopViews?.() ?? []) this.set({ loop: l.name }, l.lastSuccessAt ? l.lastSuccessAt.getTime() / 1000 : 0);
    },
  });
  new Gauge({
    name: 'flotilla_worker_loop_consecutive_failures',
    help: 'Failed passes in a row of each worker loop (0 after a good one)',
    labelNames: ['loop'] as const,
    registers,
    collect() {
      this.reset();
      for (const l of loopViews?.() ?? []) this.set({ loop: l.name }, l.failures);
    },
  });
  new Gauge({
    name: 'flotilla_worker_loop_wedged',
    help: 'Whether a worker loop has been in one pass for longer than it may take (1 = wedged; /health/ready fails)',
    labelNames: ['loop'] as const,
    registers,
    collect() {
      this.reset();
      for (const l of loopViews?.() ?? []) this.set({ loop: l.name }, l.wedged ? 1 : 0);
    },
  });

  const dispatch = new Histogram({
    name: 'flotilla_dispatch_latency_seconds',
    help: 'Time from QUEUED (execute, or a retry becoming due) to accepted by the engine',
    labelNames: ['engine'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const executeToStopped = new Histogram({
    name: 'flotilla_execute_to_stopped_seconds',
    help: 'Time from execute to STOPPED, by engine and outcome (succeeded = exit code 0)',
    labelNames: ['engine', 'outcome'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 48 * 3600],
    registers,
  });
  const engineErrors = new Counter({
    name: 'flotilla_engine_errors_total',
    help: 'Failed engine calls by engine, operation and kind (retryable, permanent, unexpected)',
    labelNames: ['engine', 'operation', 'kind'] as const,
    registers,
  });
  const logLines = new Counter({
    name: 'flotilla_log_lines_total',
    help: 'Log lines collected from engines and stored',
    labelNames: ['engine'] as const,
    registers,
  });
  const logBytes = new Counter({
    name: 'flotilla_log_bytes_total',
    help: 'Bytes of log text collected from engines and stored',
    labelNames: ['engine'] as const,
    registers,
  });
  new Gauge({
    name: 'flotilla_active_subscriptions',
    help: 'Live followers in this process by kind (logs, status)',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      this.set({ kind: 'logs' }, live?.activeLogFollowers ?? 0);
      this.set({ kind: 'status' }, live?.activeStatusFollowers ?? 0);
    },
  });

  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const metrics: Metrics = {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    trackLive(stats) {
      live = stats;
    },
    trackLoops(views) {
      loopViews = views;
    },
    observe(activity) {
      activity.on('dispatched', (run) => metrics.observeDispatch(run));
      activity.on('stopped', (run) => metrics.observeStopped(run));
      activity.on('engineError', (engine, operation, err) => metrics.engineError(engine, operation, err));
      activity.on('logsCollected', (engine, chunks) => metrics.logsCollected(engine, chunks));
    },
    observeDispatch(run, at = new Date()) {
      dispatch.observe({ engine: run.engine }, Math.max(0, (at.getTime() - dispatchStart(run).getTime()) / 1000));
    },
    observeStopped(run) {
      const end = run.finishedAt ?? new Date();
      executeToStopped.observe(
        { engine: run.engine, outcome: run.exitCode === 0 ? 'succeeded' : 'failed' },
        Math.max(0, (end.getTime() - run.queuedAt.getTime()) / 1000),
      );
    },
    engineError(engine, operation, err) {
      engineErrors.inc({ engine, operation, kind: engineErrorKind(err) });
    },
    logsCollected(engine, chunks) {
      let lines = 0;
      let bytes = 0;
      for (const c of chunks) {
        lines += countLines(c.text);
        bytes += Buffer.byteLength(c.text);
      }
      logLines.inc({ engine }, lines);
      logBytes.inc({ engine }, bytes);
    },
  };
  return metrics;
}
