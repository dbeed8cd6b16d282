// npm run bench:dispatch — executes N runs of `true` through the REST API of a `flotilla serve`
// process, with a separate `flotilla worker` process, on real Postgres and Redis. Prints
// execute throughput, QUEUED → submitted latency and execute → STOPPED latency. First,
// with serve alone (no worker yet), executes from 16 clients in a closed loop for
// BENCH_ENQUEUE_SECONDS (default 5): the API's own throughput, compared with the peer's addJob.
// BENCH_RUNS (default 500), BENCH_CONCURRENCY (default 16). A second, paced phase
// (BENCH_PACED_RUNS, default 100, at BENCH_PACED_RATE runs/s, default 10) measures dispatch
// latency when the worker keeps up, rather than the queueing of a saturated one. Then
// offered-load phases (BENCH_OFFERED_RATES, default 50,100,200,400 runs/s, for
// BENCH_OFFERED_SECONDS each, default 4) send executes on a schedule and read
// flotilla_queue_depth / flotilla_queue_oldest_age_seconds from /metrics meanwhile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { startFlotilla, type FlotillaProcess } from '../test/helpers/processes.js';
import { BENCH_REDIS_URL, closedLoop, ENQUEUE_SECONDS, fmt, freshDatabase, machineCpuSeconds, percentile, pool, processCpuSeconds } from './lib.js';

const N = Number(process.env.BENCH_RUNS ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
/** Offered-load phases: executes sent on a fixed schedule (open loop), whatever the answers. */
const OFFERED_RATES = (process.env.BENCH_OFFERED_RATES ?? '50,100,200,400')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const OFFERED_SECONDS = Number(process.env.BENCH_OFFERED_SECONDS ?? 4);
/** One REST execute of the bench task as `owner`, as a classic client sends it. */
function execute(base: string, owner: string): Promise<Response> {
  return fetch(`${base}/api/v6/task/alias/bench-true/execute`, { method: 'PUT', body: JSON.stringify({ run_tags: { owner_id: owner } }) });
}

/** An execute that must succeed: the answer's body (left unparsed where only the rate counts). */
async function executeOk(base: string, owner: string): Promise<string> {
  const res = await execute(base, owner);
  if (res.status !== 200) throw new Error(`execute answered ${res.status}: ${await res.text()}`);
  return res.text();
}

/** Requests in flight at most; a send that finds them all busy is counted as not accepted. */
const OFFERED_MAX_IN_FLIGHT = 256;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Queue depth and oldest age as the server reports them on /metrics (summed / maxed over engines). */
async function queueGauges(base: string): Promise<{ depth: number; oldestAgeS: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let depth = 0;
  let oldestAgeS = 0;
  for (const line of text.split('\n')) {
    const m = /^(flotilla_queue_depth|flotilla_queue_oldest_age_seconds)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'flotilla_queue_depth') depth += Number(m[2]);
    else oldestAgeS = Math.max(oldestAgeS, Number(m[2]));
  }
  return { depth, oldestAgeS };
}

/**
 * Sends executes at `rate` per second for `seconds`, on a schedule that does not wait for
 * answers (as users would), sampling /metrics meanwhile. Returns what was accepted and the
 * largest queue seen.
 */
async function offer(base: string, owner: string, rate: number, seconds: number) {
  const total = Math.round(rate * seconds);
  let inFlight = 0;
  let refused = 0;
  let failed = 0;
  const sends: Promise<void>[] = [];
  let maxDepth = 0;
  let maxAgeS = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const g = await queueGauges(base).catch(() => ({ depth: 0, oldestAgeS: 0 }));
      maxDepth = Math.max(maxDepth, g.depth);
      maxAgeS = Math.max(maxAgeS, g.oldestAgeS);
      await sleep(250);
    }
  })();
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    if (inFlight >= OFFERED_MAX_IN_FLIGHT) {
      refused++;
      continue;
    }
    inFlight++;
    sends.push(
      execute(base, owner)
        .then(async (res) => {
          if (res.status !== 200) failed++;
          await res.arrayBuffer();
        })
        .catch(() => void failed++)
        .finally(() => void inFlight--),
    );
  }
  await Promise.all(sends);
  const elapsedS = (performance.now() - started) / 1000;
  return {
    accepted: total - refused - failed,
    acceptedPerS: (total - refused - failed) / elapsedS,
    stopSampling: async () => {
      sampling = false;
      await sampler;
      return { maxDepth, maxAgeS };
    },
  };
}

export async function benchDispatch(): Promise<Record<string, number>> {
  const db = await freshDatabase();
  const workdir = mkdtempSync(join(tmpdir(), 'flotilla-bench-'));
  const env = { DATABASE_URL: db.url, REDIS_URL: BENCH_REDIS_URL, FLOTILLA_ENGINE: 'local', FLOTILLA_LOCAL_WORKDIR: workdir, LOG_LEVEL: 'warn' };
  // Started inside the try, so a process that fails to start does not leak the other or the database.
  const processes: FlotillaProcess[] = [];
  try {
    const serve = await startFlotilla('serve', { ...env, LOG_LEVEL: 'info' });
    processes.push(serve);
    const base = serve.url!;
    await fetch(`${base}/api/v6/task`, { method: 'POST', body: JSON.stringify({ alias: 'bench-true', image: 'none', command: 'true' }) });
    const executeAll = async (owner: string) => {
      const started = performance.now();
      const ids = await pool(
        Array.from({ length: N }, (_, i) => i),
        CONCURRENCY,
        async () => (JSON.parse(await executeOk(base, owner)) as { run_id: string }).run_id,
      );
      return { ids, seconds: (performance.now() - started) / 1000 };
    };
    // Warm up the path (JIT, connection pools), then execute with serve alone: the API's
    // own throughput, with no worker competing for the CPU and the database. These runs are
    // then deleted, so the worker starts on an empty queue.
    await closedLoop(CONCURRENCY, 1, () => executeOk(base, 'warmup'));
    const alone = await closedLoop(CONCURRENCY, ENQUEUE_SECONDS, () => executeOk(base, 'alone'));
    await db.database.db.execute(sql`delete from runs where owner in ('warmup', 'alone')`);

    processes.push(await startFlotilla('worker', { ...env, LOG_LEVEL: 'info' }));

    const { ids, seconds: executeSeconds } = await executeAll('bench');

    const waitStopped = async (owner: string, n: number) => {
      const deadline = Date.now() + 300_000;
      for (;;) {
        const rows = await db.database.db.execute<{ n: number }>(
          sql`select count(*)::int as n from runs where owner = ${owner} and status = 'STOPPED' and logs_complete`,
        );
        const done = Number((Array.isArray(rows) ? rows : (rows as any).rows)[0].n);
        if (done >= n) return;
        if (Date.now() > deadline) throw new Error(`only ${done} of ${n} runs stopped`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const latencies = async (owner: string) => {
      const result = await db.database.db.execute<{ dispatch_ms: number; stop_ms: number }>(sql`
        select
          extract(epoch from (sub.at - r.queued_at)) * 1000 as dispatch_ms,
          extract(epoch from (fin.at - r.queued_at)) * 1000 as stop_ms
        from runs r
        join lateral (select at from run_events e where e.run_id = r.run_id and e.kind = 'status' and e.from_status = 'QUEUED' order by seq limit 1) sub on true
        join lateral (select at from run_events e where e.run_id = r.run_id and e.kind = 'status' and e.to_status = 'STOPPED' order by seq limit 1) fin on true
        where r.owner = ${owner}`);
      const rows = (Array.isArray(result) ? result : (result as any).rows) as { dispatch_ms: number; stop_ms: number }[];
      return { dispatch: rows.map((r) => Number(r.dispatch_ms)), stop: rows.map((r) => Number(r.stop_ms)) };
    };
    await waitStopped('bench', N);
    const { dispatch, stop } = await latencies('bench');

    // Paced phase: one execute every 1/RATE s, so the worker is not saturated.
    const PACED = Number(process.env.BENCH_PACED_RUNS ?? 100);
    const RATE = Number(process.env.BENCH_PACED_RATE ?? 10);
    for (let i = 0; i < PACED; i++) {
      const t0 = performance.now();
      await executeOk(base, 'paced');
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 / RATE - (performance.now() - t0))));
    }
    await waitStopped('paced', PACED);
    const paced = await latencies('paced');

    // Offered-load phases: does the worker keep up with what execute accepts? And what a run
    // costs in CPU, the whole machine's and each process's: the machine's idle rate (measured
    // first, with nothing running) is taken off, so what is left is the runs' own cost (serve,
    // worker, Postgres, Redis, the run's processes, the bench client).
    const [servePid, workerPid] = [processes[0]?.child.pid, processes[1]?.child.pid];
    const idleStart = { at: performance.now(), cpu: machineCpuSeconds() };
    await sleep(2000);
    const idleCpuPerS = (machineCpuSeconds() - idleStart.cpu) / ((performance.now() - idleStart.at) / 1000);
    const offered: Record<string, number> = {};
    for (const rate of OFFERED_RATES) {
      const owner = `offered-${rate}`;
      const before = { at: performance.now(), machine: machineCpuSeconds(), serve: processCpuSeconds(servePid), worker: processCpuSeconds(workerPid) };
      const phase = await offer(base, owner, rate, OFFERED_SECONDS);
      await waitStopped(owner, phase.accepted);
      const seconds = (performance.now() - before.at) / 1000;
      const perRunMs = (used: number) => (1000 * used) / Math.max(phase.accepted, 1);
      const cpu = {
        machine: perRunMs(machineCpuSeconds() - before.machine - idleCpuPerS * seconds),
        serve: perRunMs(processCpuSeconds(servePid) - before.serve),
        worker: perRunMs(processCpuSeconds(workerPid) - before.worker),
      };
      const gauges = await phase.stopSampling();
      const lat = await latencies(owner);
      Object.assign(offered, {
        [`offered_${rate}_accepted_per_s`]: phase.acceptedPerS,
        [`offered_${rate}_dispatch_p50_ms`]: percentile(lat.dispatch, 50),
        [`offered_${rate}_dispatch_p99_ms`]: percentile(lat.dispatch, 99),
        [`offered_${rate}_max_queue_depth`]: gauges.maxDepth,
        [`offered_${rate}_max_oldest_age_s`]: gauges.maxAgeS,
        [`offered_${rate}_cpu_ms_per_run_machine`]: cpu.machine,
        [`offered_${rate}_cpu_ms_per_run_serve`]: cpu.serve,
        [`offered_${rate}_cpu_ms_per_run_worker`]: cpu.worker,
      });
      console.log(
        `  offered ${rate} runs/s for ${OFFERED_SECONDS} s: accepted ${fmt(phase.acceptedPerS)} runs/s; QUEUED → submitted p50 ${fmt(percentile(lat.dispatch, 50))} ms ` +
          `p99 ${fmt(percentile(lat.dispatch, 99))} ms; /metrics queue depth max ${gauges.maxDepth}, oldest age max ${fmt(gauges.maxAgeS, 2)} s; ` +
          `CPU per run ${fmt(cpu.machine)} ms (serve ${fmt(cpu.serve)}, worker ${fmt(cpu.worker)})`,
      );
    }
    const figures = {
      idle_machine_cpu_per_s: idleCpuPerS,
      serve_alone_execute_runs_per_s: alone.perS,
      serve_alone_execute_runs: alone.count,
      offered_rates: OFFERED_RATES.length,
      ...offered,
      runs: ids.length,
      execute_runs_per_s: N / executeSeconds,
      dispatch_p50_ms: percentile(dispatch, 50),
      dispatch_p99_ms: percentile(dispatch, 99),
      execute_to_stopped_p50_ms: percentile(stop, 50),
      execute_to_stopped_p99_ms: percentile(stop, 99),
      paced_rate_runs_per_s: RATE,
      paced_dispatch_p50_ms: percentile(paced.dispatch, 50),
      paced_dispatch_p99_ms: percentile(paced.dispatch, 99),
      paced_execute_to_stopped_p50_ms: percentile(paced.stop, 50),
      paced_execute_to_stopped_p99_ms: percentile(paced.stop, 99),
    };
    console.log(`dispatch benchmark: ${N} runs of \`true\`, ${CONCURRENCY} concurrent clients, serve + worker processes, Postgres + Redis, local engine`);
    console.log(
      `  execute throughput, serve alone (no worker) ${fmt(figures.serve_alone_execute_runs_per_s)} runs/s (${alone.count} runs in ${ENQUEUE_SECONDS} s)`,
    );
    console.log(`  execute throughput         ${fmt(figures.execute_runs_per_s)} runs/s`);
    console.log(`  QUEUED → submitted         p50 ${fmt(figures.dispatch_p50_ms)} ms   p99 ${fmt(figures.dispatch_p99_ms)} ms`);
    console.log(`  execute → STOPPED          p50 ${fmt(figures.execute_to_stopped_p50_ms)} ms   p99 ${fmt(figures.execute_to_stopped_p99_ms)} ms`);
    console.log(
      `  paced at ${RATE} runs/s (${PACED} runs): QUEUED → submitted p50 ${fmt(figures.paced_dispatch_p50_ms)} ms p99 ${fmt(figures.paced_dispatch_p99_ms)} ms; execute → STOPPED p50 ${fmt(figures.paced_execute_to_stopped_p50_ms)} ms p99 ${fmt(figures.paced_execute_to_stopped_p99_ms)} ms`,
    );
    return figures;
  } finally {
    await Promise.allSettled(processes.map((p) => p.kill()));
    await db.drop();
    rmSync(workdir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchDispatch().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
