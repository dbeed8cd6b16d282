// npm run bench:dispatch — executes N runs of `true` through the REST API of a `flotilla serve`
// process, with a separate `flotilla worker` process, on real Postgres and Redis. Prints
// execute throughput, QUEUED → submitted latency and execute → STOPPED latency.
// BENCH_RUNS (default 500), BENCH_CONCURRENCY (default 16). A second, paced phase
// (BENCH_PACED_RUNS, default 100, at BENCH_PACED_RATE runs/s, default 10) measures dispatch
// latency when the worker keeps up, rather than the queueing of a saturated one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { startFlotilla, type FlotillaProcess } from '../test/helpers/processes.js';
import { BENCH_REDIS_URL, fmt, freshDatabase, percentile, pool } from './lib.js';

const N = Number(process.env.BENCH_RUNS ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

export async function benchDispatch(): Promise<Record<string, number>> {
  const db = await freshDatabase();
  const workdir = mkdtempSync(join(tmpdir(), 'flotilla-bench-'));
  const env = { DATABASE_URL: db.url, REDIS_URL: BENCH_REDIS_URL, FLOTILLA_ENGINE: 'local', FLOTILLA_LOCAL_WORKDIR: workdir, LOG_LEVEL: 'warn' };
  // Started inside the try, so a process that fails to start does not leak the other or the database.
  const processes: FlotillaProcess[] = [];
  try {
    const serve = await startFlotilla('serve', { ...env, LOG_LEVEL: 'info' });
    processes.push(serve);
    processes.push(await startFlotilla('worker', { ...env, LOG_LEVEL: 'info' }));
    const base = serve.url!;
    await fetch(`${base}/api/v6/task`, { method: 'POST', body: JSON.stringify({ alias: 'bench-true', image: 'none', command: 'true' }) });
    // Warm up the path once (JIT, connection pools).
    await fetch(`${base}/api/v6/task/alias/bench-true/execute`, { method: 'PUT', body: JSON.stringify({ run_tags: { owner_id: 'warmup' } }) });
    await new Promise((r) => setTimeout(r, 1000));

    const started = performance.now();
    const ids = await pool(Array.from({ length: N }, (_, i) => i), CONCURRENCY, async () => {
      const res = await fetch(`${base}/api/v6/task/alias/bench-true/execute`, { method: 'PUT', body: JSON.stringify({ run_tags: { owner_id: 'bench' } }) });
      if (res.status !== 200) throw new Error(`execute answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { run_id: string }).run_id;
    });
    const executeSeconds = (performance.now() - started) / 1000;

    const waitStopped = async (owner: string, n: number) => {
      const deadline = Date.now() + 300_000;
      for (;;) {
        const rows = await db.database.db.execute<{ n: number }>(sql`select count(*)::int as n from runs where owner = ${owner} and status = 'STOPPED' and logs_complete`);
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
      const res = await fetch(`${base}/api/v6/task/alias/bench-true/execute`, { method: 'PUT', body: JSON.stringify({ run_tags: { owner_id: 'paced' } }) });
      if (res.status !== 200) throw new Error(`execute answered ${res.status}`);
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 / RATE - (performance.now() - t0))));
    }
    await waitStopped('paced', PACED);
    const paced = await latencies('paced');
    const figures = {
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
    console.log(`  execute throughput         ${fmt(figures.execute_runs_per_s)} runs/s`);
    console.log(`  QUEUED → submitted         p50 ${fmt(figures.dispatch_p50_ms)} ms   p99 ${fmt(figures.dispatch_p99_ms)} ms`);
    console.log(`  execute → STOPPED          p50 ${fmt(figures.execute_to_stopped_p50_ms)} ms   p99 ${fmt(figures.execute_to_stopped_p99_ms)} ms`);
    console.log(`  paced at ${RATE} runs/s (${PACED} runs): QUEUED → submitted p50 ${fmt(figures.paced_dispatch_p50_ms)} ms p99 ${fmt(figures.paced_dispatch_p99_ms)} ms; execute → STOPPED p50 ${fmt(figures.paced_execute_to_stopped_p50_ms)} ms p99 ${fmt(figures.paced_execute_to_stopped_p99_ms)} ms`);
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
