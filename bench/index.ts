// npm run bench — every benchmark against real Postgres and Redis, then one table of figures
// (bench/results/latest.md and latest.json), with graphile-worker side by side.
// BENCH_ONLY=dispatch,peer chooses benchmarks; each benchmark's own variables still apply
// (BENCH_RUNS, BENCH_CONCURRENCY, BENCH_SECONDS, BENCH_SUBSCRIBERS, BENCH_HISTORY_ROWS, …).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { benchDispatch } from './dispatch.js';
import { benchHistory } from './history.js';
import { benchLogs } from './logs.js';
import { benchPeer } from './peer.js';
import { benchStartup } from './startup.js';
import { benchCeiling } from './ceiling.js';
import { BENCH_DATABASE_URL, BENCH_REDIS_URL, ENQUEUE_SECONDS, fmt } from './lib.js';

const BENCHMARKS = {
  startup: benchStartup,
  ceiling: benchCeiling,
  dispatch: benchDispatch,
  logs: benchLogs,
  history: benchHistory,
  peer: benchPeer,
} as const;
type Name = keyof typeof BENCHMARKS;
type Figures = Record<string, number>;

interface Results {
  startup?: Figures;
  ceiling?: Figures;
  dispatch?: Figures;
  logs?: Figures[];
  history?: Figures;
  peer?: Figures;
}

function chosen(): Name[] {
  const all = Object.keys(BENCHMARKS) as Name[];
  const raw = process.env.BENCH_ONLY?.trim();
  if (!raw) return all;
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !all.includes(n as Name));
  if (unknown.length) throw new Error(`BENCH_ONLY: unknown benchmark ${unknown.join(', ')}; choose from ${all.join(', ')}`);
  return all.filter((n) => names.includes(n));
}

/** The commit measured: BENCH_COMMIT (for a snapshot without .git), else git's HEAD, marked when the tree differs. */
function commit(): string {
  if (process.env.BENCH_COMMIT) return process.env.BENCH_COMMIT;
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: new URL('.', import.meta.url), encoding: 'utf8' }).trim();
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? ' with uncommitted changes' : '');
  } catch {
    return 'unknown';
  }
}

const loadAverage = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' / ');

async function machine(): Promise<Record<string, string | number>> {
  const pg = postgres(BENCH_DATABASE_URL, { max: 1, onnotice: () => {} });
  const redis = new Redis(BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    const [row] = await pg<{ server_version: string }[]>`show server_version`;
    await redis.connect();
    const info = await redis.info('server');
    return {
      commit: commit(),
      cpus: os.availableParallelism(),
      cpu_model: os.cpus()[0]?.model ?? 'unknown',
      memory_gib: Number((os.totalmem() / 2 ** 30).toFixed(1)),
      node: process.version,
      postgres: row!.server_version,
      redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    };
  } finally {
    await pg.end({ timeout: 5 });
    redis.disconnect();
  }
}

const num = (n: number | undefined, digits = 1) => (n === undefined ? '—' : fmt(n, digits));
/** A figure with its unit, or a bare dash when the benchmark did not run. */
const withUnit = (n: number | undefined, unit: string) => (n === undefined ? '—' : `${fmt(n)} ${unit}`);
const ratio = (flotilla: number | undefined, peer: number | undefined) =>
  flotilla === undefined || peer === undefined || peer === 0 ? '—' : `${fmt(flotilla / peer, 2)}×`;

const HISTORY_QUERIES: [string, string][] = [
  ['active', 'active runs (QUEUED, PENDING, RUNNING), newest first, 50 a page'],
  ['definition', "a definition's runs, newest first"],
  ['status_owner', 'status + owner, newest first'],
  // The pipe is escaped: unescaped, it splits the table cell even inside a code span.
  ['env', 'env `NAME\\|VALUE`, newest first'],
];

const met = (ok: boolean | undefined) => (ok === undefined ? '—' : ok ? 'yes' : 'no');

/** The issue's table: every figure with its goal, read from this one run. */
function summary(r: Results): string[] {
  const s = r.startup;
  const d = r.dispatch;
  const p = r.peer;
  const c = r.ceiling;
  const h = r.history;
  const paced = (rate: number) => r.logs?.find((l) => l.paced_rate === rate);
  const fire = (n: number) => r.logs?.find((l) => !l.paced_rate && l.subscribers === n);
  const defined = (...xs: (number | undefined)[]) => xs.every((x) => x !== undefined && Number.isFinite(x));
  const alone = d?.serve_alone_execute_runs_per_s;
  const p200 = d?.offered_200_dispatch_p99_ms;
  const l50 = paced(50000);
  const l10 = paced(10000);
  const f1 = fire(1);
  const f1000 = fire(1000);
  const rows: [string, string, string, string][] = [
    [
      '`npm start` first start, fresh data dir, to /health/ready',
      withUnit(s?.first_wall_ms, 'ms'),
      '< 3000 ms',
      met(defined(s?.first_wall_ms) ? s!.first_wall_ms! < 3000 : undefined),
    ],
    ['`npm start` restart', withUnit(s?.restart_wall_ms, 'ms'), '< 1500 ms', met(defined(s?.restart_wall_ms) ? s!.restart_wall_ms! < 1500 : undefined)],
    [
      '`npm start` RSS after start, process tree: first / restart',
      s ? `${num(s.first_tree_rss_mb, 0)} / ${num(s.restart_tree_rss_mb, 0)} MB` : '—',
      '< 300 MB',
      met(s ? Math.max(s.first_tree_rss_mb ?? Infinity, s.restart_tree_rss_mb ?? Infinity) < 300 : undefined),
    ],
    [
      'REST execute, `serve` alone, 16 clients (× graphile-worker addJob with no runner; × the ceiling)',
      alone === undefined ? '—' : `${fmt(alone)} runs/s (${ratio(alone, p?.add_alone_jobs_per_s)}; ${c?.tps ? fmt((100 * alone) / c.tps, 1) + ' %' : '—'})`,
      '≥ 2× addJob and ≥ 10 % of the ceiling',
      met(defined(alone, p?.add_alone_jobs_per_s, c?.tps) ? alone! >= 2 * p!.add_alone_jobs_per_s! && alone! >= 0.1 * c!.tps! : undefined),
    ],
    [
      'REST execute while the worker runs them, 16 clients (× graphile-worker addJob while its runner runs them)',
      withUnit(d?.execute_runs_per_s, 'runs/s') +
        (defined(d?.execute_runs_per_s, p?.add_jobs_per_s) ? ` (${ratio(d!.execute_runs_per_s, p!.add_jobs_per_s)})` : ''),
      '≥ 2× addJob',
      met(defined(d?.execute_runs_per_s, p?.add_jobs_per_s) ? d!.execute_runs_per_s! >= 2 * p!.add_jobs_per_s! : undefined),
    ],
    ['the ceiling: pgbench, 16 clients, one run-shaped INSERT per transaction', withUnit(c?.tps, 'transactions/s'), 'printed beside execute', '—'],
    [
      '`bench:dispatch` saturated: QUEUED → submitted p50 / p99',
      d ? `${num(d.dispatch_p50_ms)} / ${num(d.dispatch_p99_ms)} ms at ${num(d.execute_runs_per_s)} runs/s` : '—',
      '—',
      '—',
    ],
    ['QUEUED → submitted p99 at 200 runs/s offered', withUnit(p200, 'ms'), '< 100 ms', met(defined(p200) ? p200! < 100 : undefined)],
    [
      'what a run of `true` costs the machine at 50 runs/s offered (CPU per run), and the cores 200 runs/s would take',
      defined(d?.offered_50_cpu_ms_per_run_machine)
        ? `${fmt(d!.offered_50_cpu_ms_per_run_machine!)} ms (serve ${num(d!.offered_50_cpu_ms_per_run_serve)}, worker ${num(d!.offered_50_cpu_ms_per_run_worker)}) · ` +
          `${fmt(d!.offered_50_cpu_ms_per_run_machine! * 0.2, 1)} cores of ${os.cpus().length}`
        : '—',
      'explains the row above',
      '—',
    ],
    [
      'queue → start p99, Flotilla / graphile-worker (saturated phase)',
      ratio(d?.dispatch_p99_ms, p?.created_to_start_p99_ms),
      '≤ 1×',
      met(defined(d?.dispatch_p99_ms, p?.created_to_start_p99_ms) ? d!.dispatch_p99_ms! <= p!.created_to_start_p99_ms! : undefined),
    ],
    [
      'log latency, writer paced at 10,000 lines/s, 1 subscriber: p50 / p99',
      l10 ? `${num(l10.latency_p50_ms)} / ${num(l10.latency_p99_ms)} ms` : '—',
      '—',
      '—',
    ],
    [
      'log latency, writer paced at 50,000 lines/s, 1 subscriber: p99',
      withUnit(l50?.latency_p99_ms, 'ms'),
      '< 250 ms',
      met(l50 ? l50.latency_p99_ms! < 250 && l50.subscribers_with_every_line === 1 : undefined),
    ],
    [
      'log latency, firehose, 1 subscriber: p50 / p99 (includes the backlog in front of the collector) · delivery behind persistence, max',
      f1 ? `${num(f1.latency_p50_ms)} / ${num(f1.latency_p99_ms)} ms · ${fmt(f1.delivery_lag_max_s!, 2)} s` : '—',
      'delivery within 1 s of persistence',
      met(f1 && defined(f1.delivery_lag_max_s) ? f1.delivery_lag_max_s! <= 1 && f1.subscribers_with_every_line === 1 : undefined),
    ],
    [
      '1,000 subscribers on one run: serve RSS · every line · aggregate delivered',
      f1000
        ? `${num(f1000.serve_rss_peak_mb, 0)} MB · ${f1000.subscribers_with_every_line} / 1000 · ${fmt((f1000.lines_per_s_delivered_aggregate ?? f1000.lines_per_s_delivered_per_subscriber! * 1000) / 1e6, 2)} M lines/s`
        : '—',
      '< 300 MB · 1000 / 1000 · ≥ 2 M lines/s',
      met(
        f1000
          ? f1000.serve_rss_peak_mb! < 300 &&
              f1000.subscribers_with_every_line === 1000 &&
              (f1000.lines_per_s_delivered_aggregate ?? f1000.lines_per_s_delivered_per_subscriber! * 1000) >= 2e6
          : undefined,
      ),
    ],
    [
      'history, env `NAME\\|VALUE` filter at 1M runs: p99',
      withUnit(h?.env_p99_ms, 'ms'),
      '< 50 ms',
      met(defined(h?.env_p99_ms) ? h!.env_p99_ms! < 50 : undefined),
    ],
  ];
  return [
    '## The figures and their goals',
    '',
    '| figure | result | goal | met |',
    '| --- | ---: | ---: | :---: |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
  ];
}

function markdown(
  results: Results,
  errors: Record<string, string>,
  meta: { date: string; machine: Record<string, string | number>; loadStart: string; loadEnd: string; seconds: number },
): string {
  const m = meta.machine;
  const out: string[] = [
    '# Flotilla benchmark results',
    '',
    `${meta.date} · commit ${m.commit} · ${m.cpus} CPUs (${m.cpu_model}) · ${m.memory_gib} GiB memory · Node ${m.node} · PostgreSQL ${m.postgres} · Redis ${m.redis}`,
    '',
    `Load average (1 / 5 / 15 min) at the start ${meta.loadStart}, at the end ${meta.loadEnd}. ` +
      'Other work on the machine competes for the same cores, so figures taken under load are pessimistic. ' +
      `The suite took ${fmt(meta.seconds, 0)} s.`,
    '',
  ];
  out.push(...summary(results));
  const s = results.startup;
  if (s) {
    const part = (prefix: string) =>
      [
        ['modulesMs', 'modules'],
        ['apiModulesMs', 'API modules*'],
        ['databaseOpenMs', 'database open*'],
        ['migrateMs', 'migrate'],
        ['enginesMs', 'engines'],
        ['appMs', 'app'],
        ['workersMs', 'workers'],
        ['listenMs', 'listen'],
      ]
        .map(([k, label]) => `${label} ${num(s[`${prefix}_${k}`], 0)}`)
        .join(' · ');
    out.push(
      `## Start-up: \`npm start\` (flotilla dev, embedded database), median of ${s.reps}`,
      '',
      '| figure | value | goal |',
      '| --- | ---: | ---: |',
      `| first start, fresh data dir, spawn → /health/ready 200 | ${num(s.first_wall_ms, 0)} ms | < 3000 ms |`,
      `| restart, same data dir | ${num(s.restart_wall_ms, 0)} ms | < 1500 ms |`,
      `| RSS of the process tree after start (npm + server): first / restart | ${num(s.first_tree_rss_mb, 0)} / ${num(s.restart_tree_rss_mb, 0)} MB | < 300 MB |`,
      `| RSS of the server alone: first / restart | ${num(s.first_server_rss_mb, 0)} / ${num(s.restart_server_rss_mb, 0)} MB | — |`,
      `| CPU time the server used to get ready: first / restart | ${num(s.first_server_cpu_s, 2)} / ${num(s.restart_server_cpu_s, 2)} s | — |`,
      '',
      `Where the first start's time went (ms, the server's own clock; total ${num(s.first_totalMs, 0)} from process start): ${part('first')}.`,
      '',
      `Restart (total ${num(s.restart_totalMs, 0)}): ${part('restart')}.`,
      '',
      '\\* The API modules load while the database opens (PGlite compiles its WebAssembly off the main thread): these two overlap. ' +
        'The CPU time is the less load-sensitive figure on a shared machine: the wall clock of a start is at least its CPU time.',
      '',
    );
  }
  const d = results.dispatch;
  if (d) {
    out.push(
      `## Dispatch: ${d.runs} runs of \`true\` through REST, separate serve and worker processes, local engine`,
      '',
      '| figure | value |',
      '| --- | ---: |',
      `| execute throughput, serve alone (no worker running) | ${num(d.serve_alone_execute_runs_per_s)} runs/s |`,
      `| execute throughput, worker running | ${num(d.execute_runs_per_s)} runs/s |`,
      `| QUEUED → submitted (dispatch) p50 / p99 | ${num(d.dispatch_p50_ms)} / ${num(d.dispatch_p99_ms)} ms |`,
      `| execute → STOPPED p50 / p99 | ${num(d.execute_to_stopped_p50_ms)} / ${num(d.execute_to_stopped_p99_ms)} ms |`,
      `| paced at ${num(d.paced_rate_runs_per_s)} runs/s: QUEUED → submitted p50 / p99 | ${num(d.paced_dispatch_p50_ms)} / ${num(d.paced_dispatch_p99_ms)} ms |`,
      `| paced: execute → STOPPED p50 / p99 | ${num(d.paced_execute_to_stopped_p50_ms)} / ${num(d.paced_execute_to_stopped_p99_ms)} ms |`,
      '',
    );
    const rates = Object.keys(d)
      .map((k) => /^offered_(\d+)_dispatch_p50_ms$/.exec(k)?.[1])
      .filter((x): x is string => x !== undefined);
    if (rates.length) {
      out.push(
        'Offered load: executes sent on a schedule (not waiting for answers); the queue gauges are read from /metrics during the phase. ' +
          "CPU per run: the machine's CPU time over the phase (until its last run stopped), less its idle rate " +
          `(${num(d.idle_machine_cpu_per_s, 2)} CPU-s/s measured just before), per accepted run: serve, worker, Postgres, Redis, the run's own processes and the bench client. ` +
          `"Cores at 200/s" is that cost times 200 runs/s, against the ${os.cpus().length} this machine has.`,
        '',
        '| offered | accepted | QUEUED → submitted p50 / p99 | /metrics queue depth max | oldest queued age max | CPU per run: machine (serve, worker) | cores at 200/s |',
        '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...rates.map(
          (rate) =>
            `| ${rate} runs/s | ${num(d[`offered_${rate}_accepted_per_s`])} runs/s | ${num(d[`offered_${rate}_dispatch_p50_ms`])} / ${num(d[`offered_${rate}_dispatch_p99_ms`])} ms | ` +
            `${num(d[`offered_${rate}_max_queue_depth`], 0)} | ${num(d[`offered_${rate}_max_oldest_age_s`], 2)} s | ` +
            `${num(d[`offered_${rate}_cpu_ms_per_run_machine`])} ms (${num(d[`offered_${rate}_cpu_ms_per_run_serve`])}, ${num(d[`offered_${rate}_cpu_ms_per_run_worker`])}) | ` +
            `${num((d[`offered_${rate}_cpu_ms_per_run_machine`] ?? NaN) * 0.2, 1)} |`,
        ),
        '',
      );
    }
    if (results.ceiling) {
      out.push(
        `Ceiling on the same Postgres: pgbench, ${results.ceiling.clients} clients, one run-shaped INSERT into \`runs\` per transaction: ` +
          `${num(results.ceiling.tps, 0)} transactions/s (execute with serve alone reaches ${d.serve_alone_execute_runs_per_s && results.ceiling.tps ? fmt((100 * d.serve_alone_execute_runs_per_s) / results.ceiling.tps, 1) : '—'} % of it).`,
        '',
      );
    }
  }
  if (results.logs?.length) {
    out.push(
      '## Logs: one run writing lines (paced, or as fast as it can), followed over graphql-ws',
      '',
      '| writer | subscribers | lines | persisted lines/s | delivered lines/s per subscriber | delivered lines/s, all subscribers | subscribers with every line | latency p50 / p99 | delivery behind persistence, max | serve RSS peak |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...results.logs.map(
        (l) =>
          `| ${l.paced_rate ? `paced ${l.paced_rate.toLocaleString('en-US')} lines/s` : 'firehose'} | ${l.subscribers} | ${l.lines_written} | ${num(l.lines_per_s_persisted, 0)} | ${num(l.lines_per_s_delivered_per_subscriber, 0)} | ${num(l.lines_per_s_delivered_aggregate, 0)} | ` +
          `${l.subscribers_with_every_line} / ${l.subscribers}${l.cut_off ? ' (cut off)' : ''} | ${num(l.latency_p50_ms)} / ${num(l.latency_p99_ms)} ms | ${l.delivery_lag_max_s !== undefined && Number.isFinite(l.delivery_lag_max_s) ? `${fmt(l.delivery_lag_max_s!, 2)} s` : '—'} | ${num(l.serve_rss_peak_mb, 0)} MB |`,
      ),
      '',
      'The firehose writer writes as fast as it can, faster than lines are persisted, so its latency (written → received) ' +
        'includes the backlog in front of the collector. "Cut off" means some subscribers had not received every line ' +
        'when the scenario ended (BENCH_DRAIN_SECONDS after the writer stopped, or the serve RSS limit). "Delivery behind persistence" ' +
        'is the longest a stored chunk waited for the slowest subscriber (sampled every 100 ms). With N subscribers the firehose stops ' +
        'after BENCH_FANOUT_LINES / N lines, so that every line can reach every subscriber within the drain time.',
      '',
    );
  }
  const h = results.history;
  if (h) {
    out.push(
      `## Run history at ${h.rows?.toLocaleString('en-US')} runs: \`services.runs.list\` with the REST /history parser's specs (rows + total)`,
      '',
      `Loaded in ${fmt(h.load_seconds ?? NaN, 0)} s (INSERT … SELECT generate_series, indexes rebuilt, VACUUM ANALYZE).`,
      '',
      '| query | p50 | p99 |',
      '| --- | ---: | ---: |',
      ...HISTORY_QUERIES.map(([key, label]) => `| ${label} | ${num(h[`${key}_p50_ms`])} ms | ${num(h[`${key}_p99_ms`])} ms |`),
      '',
    );
  }
  const p = results.peer;
  if (p) {
    out.push(
      `## Side by side: graphile-worker 0.16.6 on the same Postgres, ${p.jobs} no-op jobs`,
      '',
      'Ratios are Flotilla / graphile-worker: above 1 means Flotilla is higher (better for throughput, worse for latency).',
      '',
      '| figure | Flotilla | graphile-worker | Flotilla / graphile-worker |',
      '| --- | ---: | ---: | ---: |',
      `| enqueue throughput, nothing consuming (serve alone / no runner), closed loop for ${ENQUEUE_SECONDS} s | ${withUnit(d?.serve_alone_execute_runs_per_s, 'runs/s')} | ${withUnit(p.add_alone_jobs_per_s, 'jobs/s')} | ${ratio(d?.serve_alone_execute_runs_per_s, p.add_alone_jobs_per_s)} |`,
      `| enqueue throughput while consuming (REST execute / addJob, ${p.jobs} each) | ${withUnit(d?.execute_runs_per_s, 'runs/s')} | ${withUnit(p.add_jobs_per_s, 'jobs/s')} | ${ratio(d?.execute_runs_per_s, p.add_jobs_per_s)} |`,
      `| queue → start p50 (QUEUED → submitted / created → task start) | ${withUnit(d?.dispatch_p50_ms, 'ms')} | ${withUnit(p.created_to_start_p50_ms, 'ms')} | ${ratio(d?.dispatch_p50_ms, p.created_to_start_p50_ms)} |`,
      `| queue → start p99 | ${withUnit(d?.dispatch_p99_ms, 'ms')} | ${withUnit(p.created_to_start_p99_ms, 'ms')} | ${ratio(d?.dispatch_p99_ms, p.created_to_start_p99_ms)} |`,
      `| queue → done p50 (QUEUED → STOPPED / created → job complete) | ${withUnit(d?.execute_to_stopped_p50_ms, 'ms')} | ${withUnit(p.created_to_complete_p50_ms, 'ms')} | ${ratio(d?.execute_to_stopped_p50_ms, p.created_to_complete_p50_ms)} |`,
      `| queue → done p99 | ${withUnit(d?.execute_to_stopped_p99_ms, 'ms')} | ${withUnit(p.created_to_complete_p99_ms, 'ms')} | ${ratio(d?.execute_to_stopped_p99_ms, p.created_to_complete_p99_ms)} |`,
      `| completion throughput (first add → last job complete) | — | ${withUnit(p.completed_jobs_per_s, 'jobs/s')} | — |`,
      `| add → start p50 / p99 (client clock before addJob) | — | ${num(p.add_to_start_p50_ms)} / ${num(p.add_to_start_p99_ms)} ms | — |`,
      '',
      'What differs: a Flotilla run is a real process (`bash -c true` under the local engine) launched by the worker, ' +
        'with its status transitions and run_events written and its logs collected; a graphile-worker job is a function ' +
        "call in the runner's process. Flotilla's enqueue is an HTTP request to a separate serve process (validation, " +
        "definition lookup, idempotence check, insert, bus publish); graphile-worker's is one SQL call from the client. " +
        'Both use the same client concurrency and a worker in its own process.',
      '',
    );
  }
  for (const [name, message] of Object.entries(errors)) out.push(`**${name} failed:** ${message}`, '');
  return out.join('\n');
}

async function main(): Promise<number> {
  const names = chosen();
  const date = new Date().toISOString();
  const loadStart = loadAverage();
  const started = performance.now();
  const info = await machine();
  console.log(`benchmarks: ${names.join(', ')}; load average ${loadStart}`);
  const results: Results = {};
  const errors: Record<string, string> = {};
  for (const name of names) {
    try {
      // Each result type belongs to its own key; the table builder knows the shapes.
      (results as Record<string, unknown>)[name] = await BENCHMARKS[name]();
    } catch (err) {
      errors[name] = err instanceof Error ? err.message : String(err);
      console.error(`${name} failed:`, err);
    }
  }
  const meta = { date, machine: info, loadStart, loadEnd: loadAverage(), seconds: (performance.now() - started) / 1000 };
  const table = markdown(results, errors, meta);
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('latest.md', dir), table + '\n');
  writeFileSync(new URL('latest.json', dir), JSON.stringify({ ...meta, results, errors }, null, 2) + '\n');
  console.log('\n' + table);
  return Object.keys(errors).length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
