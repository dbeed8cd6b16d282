// npm run bench:history — the classic UI's run-history queries at 1,000,000 runs.
// Bulk-loads runs (and their definitions) with INSERT … SELECT generate_series into a fresh
// database, VACUUM ANALYZE, then times `services.runs.list(spec)` — the code REST /history
// runs — with the ListSpec the REST parser itself produces for each query string.
// BENCH_HISTORY_ROWS (default 1000000), BENCH_HISTORY_REPS (default 100 per query),
// BENCH_EXPLAIN=1 prints whole the EXPLAIN ANALYZE that is otherwise summed up in one line a
// statement for the heaviest instance of each query; BENCH_HISTORY_KEEP=1
// leaves the loaded database in place (its URL is printed) for looking at plans by hand.
import postgres from 'postgres';
import { sql } from 'drizzle-orm';
import type { Database } from '../src/db/client.js';
import { loadConfig } from '../src/config.js';
import { createRestRouter } from '../src/api/rest/index.js';
import { createServices, type Services } from '../src/domain/services.js';
import { createMemoryBus } from '../src/events/memoryBus.js';
import { silentLogger } from '../src/logger.js';
import type { ListSpec } from '../src/store/listQuery.js';
import { listRunsQueries, rowsOf } from '../src/store/runs.js';
import { fmt, freshDatabase, percentile } from './lib.js';

const ROWS = Number(process.env.BENCH_HISTORY_ROWS ?? 1_000_000);
const REPS = Number(process.env.BENCH_HISTORY_REPS ?? 100);
const EXPLAIN = process.env.BENCH_EXPLAIN === '1';
const KEEP = process.env.BENCH_HISTORY_KEEP === '1';
const DEFINITIONS = 2_000;
const OWNERS = 500;
const DATASETS = 300;
const BATCH = 200_000;

// Skew: a few definitions, owners and datasets account for most runs, as in a real
// installation (a nightly job runs far more often than a one-off). Rank r of n is
// floor(n * u^power); the top definition gets ~8% of all runs, the top owner ~4.5%.
const DEFINITION_SKEW = 3;
const OWNER_SKEW = 2;
const DATASET_SKEW = 2;

/** Deterministic parameters, so two runs of the benchmark ask the same questions. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number) => String(n).padStart(4, '0');

async function loadDefinitions(pg: postgres.Sql): Promise<void> {
  await pg.unsafe(`
    INSERT INTO task_definitions (definition_id, alias, group_name, image, command, memory, cpu, env, version, created_at, updated_at)
    SELECT 'group' || lpad((k % 40)::text, 2, '0') || '-' || md5('definition' || k)::uuid,
           'task-' || lpad(k::text, 4, '0'),
           'group' || lpad((k % 40)::text, 2, '0'),
           'registry.example.com/team' || (k % 40) || '/app:' || (1 + k % 7),
           'python -m jobs.task' || k,
           512 * (1 + k % 8), 256 * (1 + k % 4),
           '[{"name":"LOG_LEVEL","value":"info"}]'::jsonb,
           1 + k % 5, now() - interval '400 days', now() - interval '1 day'
    FROM generate_series(1, ${DEFINITIONS}) k`);
}

// Status mix of a busy installation: ~1.3% of runs active (most of them recent), the rest
// STOPPED over 180 days, one in ten failed. started_at is NULL until RUNNING, as the
// workers leave it.
async function loadRuns(pg: postgres.Sql, lo: number, hi: number): Promise<void> {
  await pg.unsafe(`
    WITH x AS (
      SELECT g,
             1 + floor(${DEFINITIONS} * power(random(), ${DEFINITION_SKEW}))::int AS k,
             1 + floor(${OWNERS} * power(random(), ${OWNER_SKEW}))::int AS o,
             floor(${DATASETS} * power(random(), ${DATASET_SKEW}))::int AS d,
             random() AS rs, random() AS re, random() AS rt, random() AS rx
      FROM generate_series(${lo}, ${hi}) g
    ), y AS (
      SELECT x.*, e.engine,
             e.engine || '-' || left(md5(g || ':run'), 35 - length(e.engine)) AS run_id,
             CASE WHEN rs < 0.004 THEN 'QUEUED' WHEN rs < 0.005 THEN 'PENDING' WHEN rs < 0.013 THEN 'RUNNING'
                  WHEN rs < 0.0135 THEN 'NEEDS_RETRY' ELSE 'STOPPED' END AS status,
             CASE WHEN rs < 0.0135 THEN now() - rt * interval '6 hours' ELSE now() - rt * interval '180 days' END AS queued_at,
             'user' || lpad(o::text, 4, '0') AS owner,
             'python -m jobs.task' || k AS command
      FROM x
      CROSS JOIN LATERAL (SELECT CASE WHEN x.re < 0.7 THEN 'kubernetes' WHEN x.re < 0.95 THEN 'ecs' ELSE 'docker' END AS engine) e
    ), z AS (
      SELECT y.*,
             CASE WHEN status = 'RUNNING' THEN least(now(), queued_at + (2 + rx * 60) * interval '1 second')
                  WHEN status = 'STOPPED' THEN queued_at + (1 + rx * 30) * interval '1 second' END AS started_at
      FROM y
    )
    INSERT INTO runs (run_id, definition_id, definition_version, alias, group_name, image, command, command_hash, env,
                      cpu, memory, cpu_limit, memory_limit, engine, cluster_name, status, exit_code, exit_reason,
                      queued_at, started_at, finished_at, owner, run_tags, node_lifecycle, attempt, logs_complete, updated_at)
    SELECT run_id,
           'group' || lpad((k % 40)::text, 2, '0') || '-' || md5('definition' || k)::uuid,
           1 + k % 5,
           'task-' || lpad(k::text, 4, '0'),
           'group' || lpad((k % 40)::text, 2, '0'),
           'registry.example.com/team' || (k % 40) || '/app:' || (1 + k % 7),
           command, md5(command),
           jsonb_build_array(
             jsonb_build_object('name', 'LOG_LEVEL', 'value', 'info'),
             jsonb_build_object('name', 'DATASET', 'value', 'ds-' || lpad(d::text, 4, '0')),
             jsonb_build_object('name', 'STAGE', 'value', CASE WHEN g % 10 < 7 THEN 'prod' WHEN g % 10 < 9 THEN 'staging' ELSE 'dev' END),
             jsonb_build_object('name', 'FLOTILLA_RUN_ID', 'value', run_id),
             jsonb_build_object('name', 'FLOTILLA_SERVER_MODE', 'value', 'prod'),
             jsonb_build_object('name', 'FLOTILLA_RUN_OWNER_ID', 'value', owner),
             jsonb_build_object('name', 'AWS_ROLE_SESSION_NAME', 'value', run_id)),
           256 * (1 + k % 4), 512 * (1 + k % 8), 256 * (1 + k % 4), 512 * (1 + k % 8),
           engine,
           CASE engine WHEN 'kubernetes' THEN 'eks-prod-' || (k % 3) WHEN 'ecs' THEN 'ecs-batch' ELSE 'docker-host' END,
           status,
           CASE WHEN status <> 'STOPPED' THEN NULL WHEN g % 10 < 9 THEN 0 WHEN g % 3 = 0 THEN 137 ELSE 1 END,
           CASE WHEN status <> 'STOPPED' THEN NULL WHEN g % 10 < 9 THEN 'Exited successfully' WHEN g % 3 = 0 THEN 'OOMKilled' ELSE 'Exited with code 1' END,
           queued_at, started_at,
           CASE WHEN status = 'STOPPED' THEN started_at + power(rx, 3) * interval '2 hours' END,
           owner,
           jsonb_build_object('owner_id', owner),
           CASE WHEN g % 20 = 0 THEN 'ondemand' ELSE 'spot' END,
           CASE WHEN status IN ('QUEUED', 'NEEDS_RETRY') THEN 0 ELSE 1 END,
           status = 'STOPPED',
           coalesce(started_at, queued_at)
    FROM z`);
}

/**
 * Loads the data set. The secondary indexes of `runs` are dropped first and re-created
 * afterwards from their own definitions (pg_indexes), which keeps the schema exactly the
 * migrated one while being several times faster than maintaining a GIN index row by row.
 */
async function load(url: string): Promise<{ seconds: number; tableMb: number; indexMb: number; pairsMb: number }> {
  const pg = postgres(url, { max: 1, onnotice: () => {} });
  const started = performance.now();
  try {
    await pg.unsafe(`SET maintenance_work_mem = '256MB'`);
    // The loader writes consistent rows by construction; skipping the per-row FK trigger
    // halves the load time. (Superuser only, as the bench database's owner is.)
    await pg.unsafe(`SET session_replication_role = replica`);
    await loadDefinitions(pg);
    const indexes = await pg<{ indexname: string; indexdef: string }[]>`
      select indexname, indexdef from pg_indexes
      where schemaname = 'public' and tablename in ('runs', 'run_env_pairs')
        and indexname not in (select conname from pg_constraint where conrelid = 'runs'::regclass)`;
    for (const ix of indexes) await pg.unsafe(`DROP INDEX ${ix.indexname}`);
    for (let lo = 1; lo <= ROWS; lo += BATCH) {
      const hi = Math.min(ROWS, lo + BATCH - 1);
      await loadRuns(pg, lo, hi);
      process.stdout.write(`  loaded ${hi} runs (${fmt((performance.now() - started) / 1000, 0)} s)\n`);
    }
    // The replica role skipped the triggers that keep run_env_pairs: fill it with the
    // triggers' own run_env_pairs_of(), in the order the triggers write it in a live
    // installation (each run's pairs are rewritten when it starts, so they lie in start
    // order), not in this loader's random order: an index-only count checks the visibility
    // map page of every match, and in random order that is a page switch nearly every row.
    await pg.unsafe(`
      INSERT INTO run_env_pairs (name, value, started_at, run_id)
      SELECT p.name, p.value, r.started_at, r.run_id
      FROM (SELECT run_id, started_at, env FROM runs ORDER BY started_at NULLS LAST) r, run_env_pairs_of(r.env) p`);
    process.stdout.write(`  wrote the env pairs (${fmt((performance.now() - started) / 1000, 0)} s)\n`);
    for (const ix of indexes) await pg.unsafe(ix.indexdef);
    await pg.unsafe(`VACUUM ANALYZE task_definitions`);
    await pg.unsafe(`VACUUM ANALYZE runs`);
    await pg.unsafe(`VACUUM ANALYZE run_env_pairs`);
    const [size] = await pg<{ table: string; indexes: string; pairs: string }[]>`
      select pg_table_size('runs') as table, pg_indexes_size('runs') as indexes, pg_total_relation_size('run_env_pairs') as pairs`;
    return {
      seconds: (performance.now() - started) / 1000,
      tableMb: Number(size!.table) / 2 ** 20,
      indexMb: Number(size!.indexes) / 2 ** 20,
      pairsMb: Number(size!.pairs) / 2 ** 20,
    };
  } finally {
    await pg.end({ timeout: 5 });
  }
}

/**
 * The REST router over services whose `runs.list` only records its argument: the ListSpec
 * for a query string comes from the real /history parser, never from a copy of its rules.
 */
function createSpecCapture(services: Services): (path: string) => Promise<ListSpec> {
  let captured: ListSpec | undefined;
  const capturing = {
    ...services,
    runs: {
      ...services.runs,
      list: async (spec: ListSpec) => {
        captured = spec;
        return { total: 0, rows: [], keys: [] };
      },
    },
  } as Services;
  const router = createRestRouter({ services: capturing, logger: silentLogger });
  return async (path) => {
    captured = undefined;
    const res = await router.fetch(new Request(`http://bench${path}`));
    if (res.status !== 200 || !captured) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
    return captured;
  };
}

interface QueryCase {
  name: string;
  key: string;
  /** The query string for repetition i. */
  path(i: number): string;
  /** The instance with the most matches, whose plan the output shows; else path(0). */
  heaviest?: string;
}

function queryCases(definitionIds: string[]): QueryCase[] {
  const random = mulberry32(42);
  const rank = (n: number, skew: number) => Math.floor(n * Math.pow(random(), skew));
  const newestFirst = 'sort_by=started_at&order=desc&limit=50';
  return [
    {
      name: 'active runs, newest first (pages 1-5)',
      key: 'active',
      path: (i) => `/history?status=QUEUED&status=PENDING&status=RUNNING&${newestFirst}&offset=${(i % 5) * 50}`,
    },
    {
      name: "a definition's runs, newest first",
      key: 'definition',
      // Definitions picked with the data's own skew: the busy ones are the ones people open.
      path: () => `/task/${definitionIds[rank(DEFINITIONS, DEFINITION_SKEW)]}/history?${newestFirst}`,
    },
    {
      name: 'status + owner, newest first',
      key: 'status_owner',
      path: (i) =>
        `/history?${new URLSearchParams({ status: ['STOPPED', 'RUNNING', 'QUEUED'][i % 3]!, user: `user${pad(1 + rank(OWNERS, OWNER_SKEW))}` })}&${newestFirst}`,
    },
    {
      name: 'env NAME|VALUE, newest first',
      key: 'env',
      path: () => `/history?${new URLSearchParams({ env: `DATASET|ds-${pad(rank(DATASETS, DATASET_SKEW))}` })}&${newestFirst}`,
      heaviest: `/history?${new URLSearchParams({ env: `DATASET|ds-${pad(0)}` })}&${newestFirst}`,
    },
  ];
}

/** EXPLAIN (ANALYZE, BUFFERS) of the two statements listRuns issues for `spec`, the very ones it runs. */
async function explain(database: Database, spec: ListSpec): Promise<{ sql: string; plan: string[] }[]> {
  const q = listRunsQueries(database.db, spec);
  const out: { sql: string; plan: string[] }[] = [];
  // Through drizzle, so parameters are bound as listRuns binds them.
  for (const query of [q.page, q.total]) {
    const plan = rowsOf<{ 'QUERY PLAN': string }>(await database.db.execute(sql`EXPLAIN (ANALYZE, BUFFERS) ${query}`));
    out.push({ sql: query.toSQL().sql, plan: plan.map((r) => r['QUERY PLAN']) });
  }
  return out;
}

/**
 * One line for a plan: its nodes in order (scans name their index) and what the statement
 * touched, e.g. `Aggregate > Index Only Scan using x (heap fetches 0) · 605 buffers · 12.1 ms`.
 */
function planLine(plan: string[]): string {
  const nodes: string[] = [];
  let buffers = 0;
  for (const line of plan) {
    const node = /^(?:\s*->\s*)?([A-Z][^(]*?)\s+\(cost=/.exec(line);
    if (node) nodes.push(node[1]!.replace(/ on \w+( \w+)?$/, ''));
    const fetches = /Heap Fetches: (\d+)/.exec(line);
    if (fetches && nodes.length) nodes[nodes.length - 1] += ` (heap fetches ${fetches[1]})`;
    const heap = /Heap Blocks: exact=(\d+)/.exec(line);
    if (heap && nodes.length) nodes[nodes.length - 1] += ` (${heap[1]} heap pages)`;
  }
  // The first Buffers line is the top node's: everything the statement read.
  const top = plan.find((l) => /Buffers: shared/.test(l));
  if (top) for (const m of top.matchAll(/(?:hit|read)=(\d+)/g)) buffers += Number(m[1]);
  const time = /Execution Time: ([\d.]+) ms/.exec(plan.join('\n'))?.[1];
  return `${nodes.join(' > ')} · ${buffers} buffers · ${time} ms`;
}

export async function benchHistory(): Promise<Record<string, number>> {
  const db = await freshDatabase('flotilla_bench_history');
  try {
    console.log(`history benchmark: loading ${ROWS} runs over ${DEFINITIONS} definitions and ${OWNERS} owners`);
    const loaded = await load(db.url);
    console.log(
      `  loaded in ${fmt(loaded.seconds, 0)} s; runs table ${fmt(loaded.tableMb, 0)} MB, its indexes ${fmt(loaded.indexMb, 0)} MB, ` +
        `run_env_pairs with its index ${fmt(loaded.pairsMb, 0)} MB`,
    );

    const config = loadConfig({ DATABASE_URL: db.url, FLOTILLA_ENGINE: 'local', LOG_LEVEL: 'silent' }, 'serve');
    const bus = createMemoryBus();
    const services = createServices({ db: db.database.db, bus, config, logger: silentLogger });
    const specOf = createSpecCapture(services);
    const definitionIds = await definitionIdsByRank(db.url);

    const figures: Record<string, number> = { rows: ROWS, load_seconds: loaded.seconds };
    for (const q of queryCases(definitionIds)) {
      // Warm the plan cache and the pages each query touches, as a UI in use would have.
      for (let i = 0; i < 3; i++) await services.runs.list(await specOf(q.path(i)));
      const times: number[] = [];
      let returned = 0;
      let totals = 0;
      for (let i = 0; i < REPS; i++) {
        const spec = await specOf(q.path(i));
        const t = performance.now();
        const { total, rows } = await services.runs.list(spec);
        times.push(performance.now() - t);
        returned += rows.length;
        totals += total;
      }
      figures[`${q.key}_p50_ms`] = percentile(times, 50);
      figures[`${q.key}_p99_ms`] = percentile(times, 99);
      console.log(
        `  ${q.name.padEnd(40)} p50 ${fmt(percentile(times, 50)).padStart(7)} ms   p99 ${fmt(percentile(times, 99)).padStart(7)} ms` +
          `   (${REPS} queries, avg ${fmt(returned / REPS, 0)} rows of avg total ${fmt(totals / REPS, 0)})`,
      );
      // The plan of the case's heaviest instance, one line a statement: the EXPLAIN finding
      // stays in the output (BENCH_EXPLAIN=1 prints the plans whole).
      const plans = await explain(db.database, await specOf(q.heaviest ?? q.path(0)));
      console.log(`    plan of ${q.heaviest ?? q.path(0)}`);
      for (const [i, p] of plans.entries()) {
        console.log(`      ${i === 0 ? 'page ' : 'total'}: ${planLine(p.plan)}`);
        if (EXPLAIN) console.log([p.sql, ...p.plan].map((l) => '        ' + l).join('\n'));
      }
    }
    return figures;
  } finally {
    if (KEEP) {
      await db.database.close();
      console.log(`  kept the database: ${db.url}`);
    } else {
      await db.drop();
    }
  }
}

/** Definition ids ordered by rank k (the alias `task-<k>` carries it). */
async function definitionIdsByRank(url: string): Promise<string[]> {
  const pg = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await pg<{ definition_id: string }[]>`select definition_id from task_definitions order by alias`;
    return rows.map((r) => r.definition_id);
  } finally {
    await pg.end({ timeout: 5 });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchHistory().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
