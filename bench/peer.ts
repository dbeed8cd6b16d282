// npm run bench:peer — the dispatch benchmark's workload through graphile-worker 0.16.6 on
// the same Postgres: N jobs of a no-op task added by BENCH_CONCURRENCY concurrent clients,
// run by a graphile-worker runner in a separate process (as Flotilla's worker is). Prints
// add throughput, completion throughput, and add → start / created → start latencies.
// BENCH_RUNS (default 500, the dispatch benchmark's N), BENCH_CONCURRENCY (default 16),
// BENCH_PEER_CONCURRENCY (the runner's concurrency, default 16). First, with no runner,
// addJob from the same clients in a closed loop for BENCH_ENQUEUE_SECONDS: the figure that
// Flotilla's execute with serve alone is compared with.
//
// What differs from Flotilla's figures: a graphile-worker job is a function call in the
// runner's process; a Flotilla run launches a real process (`bash -c true`) through an
// engine, records status transitions and run_events, and collects its logs. Adding a job is
// one SQL call from the client; executing a run is an HTTP request to a serve process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Logger, makeWorkerUtils, run, type Job } from 'graphile-worker';
import postgres from 'postgres';
import { BENCH_DATABASE_URL, closedLoop, ENQUEUE_SECONDS, fmt, freshDatabase, percentile, pool } from './lib.js';

const N = Number(process.env.BENCH_RUNS ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const RUNNER_CONCURRENCY = Number(process.env.BENCH_PEER_CONCURRENCY ?? 16);

const silent = new Logger(() => () => {});
/** Wall-clock ms with a fraction, comparable between processes on one machine. */
const now = () => performance.timeOrigin + performance.now();

interface Payload {
  /** Client time just before addJob; absent on the warm-up job. */
  t?: number;
}

type RunnerMessage =
  { type: 'ready' } | { type: 'warm' } | { type: 'done'; addToStart: number[]; createdToStart: number[]; createdToComplete: number[]; lastComplete: number };

/** The runner process: runs N + 1 jobs (one warm-up), then reports what it saw. */
async function runnerMain(url: string, jobs: number): Promise<void> {
  const send = (m: RunnerMessage) => process.send!(m);
  const addToStart: number[] = [];
  const createdToStart: number[] = [];
  const createdToComplete: number[] = [];
  let lastComplete = 0;
  const runner = await run({
    connectionString: url,
    concurrency: RUNNER_CONCURRENCY,
    maxPoolSize: Math.min(RUNNER_CONCURRENCY, 20),
    noHandleSignals: true,
    logger: silent,
    taskList: {
      noop: async (payload, helpers) => {
        const started = now();
        const p = payload as Payload;
        if (p.t === undefined) return;
        addToStart.push(started - p.t);
        createdToStart.push(started - new Date(helpers.job.created_at).getTime());
      },
    },
  });
  runner.events.on('job:complete', ({ job }: { job: Job }) => {
    const p = job.payload as Payload;
    if (p.t === undefined) return send({ type: 'warm' });
    const at = now();
    createdToComplete.push(at - new Date(job.created_at).getTime());
    lastComplete = Math.max(lastComplete, at);
    if (createdToComplete.length === jobs) send({ type: 'done', addToStart, createdToStart, createdToComplete, lastComplete });
  });
  const stop = () => void runner.stop().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  send({ type: 'ready' });
}

function startRunner(url: string): { next(type: RunnerMessage['type']): Promise<RunnerMessage>; stop(): Promise<void> } {
  // Run this same file under tsx, resolved from here so the working directory does not matter.
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), '--runner'], {
    env: { ...process.env, PEER_DATABASE_URL: url, PEER_JOBS: String(N), NO_LOG_SUCCESS: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const inbox: RunnerMessage[] = [];
  const waiters: (() => void)[] = [];
  child.on('message', (m: RunnerMessage) => {
    inbox.push(m);
    waiters.splice(0).forEach((w) => w());
  });
  return {
    async next(type) {
      const deadline = Date.now() + 300_000;
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0]!;
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`graphile-worker runner exited (${child.exitCode ?? child.signalCode}) before '${type}'`);
        if (Date.now() > deadline) throw new Error(`graphile-worker runner: no '${type}' after 300 s`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), exited, new Promise((r) => setTimeout(r, 1000))]);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * graphile-worker's release() ends its pg pool without waiting, and the ending clients have
 * lost their error handler: dropping the database under them (WITH FORCE) would crash this
 * process. Wait until they are gone.
 */
async function waitForDisconnect(url: string, timeoutMs = 10_000): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = postgres(BENCH_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const [row] = await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${name}`;
      if (row!.n === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
}

export async function benchPeer(): Promise<Record<string, number>> {
  const db = await freshDatabase('flotilla_bench_peer');
  const utils = await makeWorkerUtils({ connectionString: db.url, maxPoolSize: CONCURRENCY, logger: silent });
  let runner: ReturnType<typeof startRunner> | undefined;
  try {
    await utils.migrate();
    // addJob with no runner, as Flotilla's execute is measured with serve alone: the same
    // closed loop for the same time. The task has no handler, so no runner ever takes these.
    await closedLoop(CONCURRENCY, 1, () => utils.addJob('unhandled', {}));
    const addAlone = await closedLoop(CONCURRENCY, ENQUEUE_SECONDS, () => utils.addJob('unhandled', {}));
    runner = startRunner(db.url);
    await runner.next('ready');
    // Warm up the path once, as the dispatch benchmark does.
    await utils.addJob('noop', {});
    await runner.next('warm');
    await new Promise((r) => setTimeout(r, 1000));

    const started = now();
    await pool(
      Array.from({ length: N }, (_, i) => i),
      CONCURRENCY,
      async () => {
        await utils.addJob('noop', { t: now() } satisfies Payload);
      },
    );
    const addSeconds = (now() - started) / 1000;
    const done = (await runner.next('done')) as Extract<RunnerMessage, { type: 'done' }>;

    const figures = {
      jobs: N,
      add_alone_jobs_per_s: addAlone.perS,
      add_jobs_per_s: N / addSeconds,
      completed_jobs_per_s: N / ((done.lastComplete - started) / 1000),
      add_to_start_p50_ms: percentile(done.addToStart, 50),
      add_to_start_p99_ms: percentile(done.addToStart, 99),
      created_to_start_p50_ms: percentile(done.createdToStart, 50),
      created_to_start_p99_ms: percentile(done.createdToStart, 99),
      created_to_complete_p50_ms: percentile(done.createdToComplete, 50),
      created_to_complete_p99_ms: percentile(done.createdToComplete, 99),
    };
    console.log(
      `peer benchmark: graphile-worker 0.16.6, ${N} no-op jobs, ${CONCURRENCY} concurrent adders, runner (concurrency ${RUNNER_CONCURRENCY}) in a separate process`,
    );
    console.log(`  add throughput, no runner  ${fmt(figures.add_alone_jobs_per_s)} jobs/s (${addAlone.count} jobs in ${ENQUEUE_SECONDS} s)`);
    console.log(`  add throughput             ${fmt(figures.add_jobs_per_s)} jobs/s`);
    console.log(`  completion throughput      ${fmt(figures.completed_jobs_per_s)} jobs/s`);
    console.log(`  add → start                p50 ${fmt(figures.add_to_start_p50_ms)} ms   p99 ${fmt(figures.add_to_start_p99_ms)} ms`);
    console.log(`  created → start            p50 ${fmt(figures.created_to_start_p50_ms)} ms   p99 ${fmt(figures.created_to_start_p99_ms)} ms`);
    console.log(`  created → complete         p50 ${fmt(figures.created_to_complete_p50_ms)} ms   p99 ${fmt(figures.created_to_complete_p99_ms)} ms`);
    return figures;
  } finally {
    await runner?.stop();
    await utils.release();
    await waitForDisconnect(db.url);
    await db.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--runner')) {
    runnerMain(process.env.PEER_DATABASE_URL!, Number(process.env.PEER_JOBS)).catch((err) => {
      console.error(err);
      process.exit(1);
    });
  } else {
    benchPeer().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  }
}
