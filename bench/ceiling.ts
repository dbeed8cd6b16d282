// npm run bench:ceiling — what this Postgres can do at most for an execute: pgbench with
// BENCH_CONCURRENCY clients (default 16), each transaction one INSERT of a run-shaped row
// into the migrated `runs` table (all its indexes and its foreign key), for
// BENCH_CEILING_SECONDS (default 10). Printed beside the execute figure, so the ratio of
// the two is read from one run on one machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { fmt, freshDatabase } from './lib.js';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SECONDS = Number(process.env.BENCH_CEILING_SECONDS ?? 10);

// The row execute inserts for a definition with a short env, with its reserved variables.
const SCRIPT = `
\\set n random(1, 2000000000)
INSERT INTO runs (run_id, definition_id, definition_version, alias, group_name, image, command, command_hash, env,
  cpu, memory, cpu_limit, memory_limit, engine, cluster_name, status, queued_at, owner, run_tags, node_lifecycle, attempt, max_attempts, updated_at)
VALUES ('local-' || left(md5(:client_id || ':' || :n || ':' || clock_timestamp()), 30), 'bench-00000000-0000-0000-0000-000000000000', 1,
  'bench-true', 'bench', 'none', 'true', md5('true'),
  jsonb_build_array(jsonb_build_object('name', 'FLOTILLA_RUN_ID', 'value', 'x'), jsonb_build_object('name', 'FLOTILLA_SERVER_MODE', 'value', 'prod'),
    jsonb_build_object('name', 'FLOTILLA_RUN_OWNER_ID', 'value', 'bench'), jsonb_build_object('name', 'AWS_ROLE_SESSION_NAME', 'value', 'x')),
  1024, 512, 1024, 512, 'local', 'default', 'QUEUED', now(), 'bench', '{"owner_id":"bench"}'::jsonb, 'spot', 1, 3, now());
`;

export async function benchCeiling(): Promise<Record<string, number>> {
  const db = await freshDatabase('flotilla_bench_ceiling');
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-ceiling-'));
  try {
    const pg = postgres(db.url, { max: 1, onnotice: () => {} });
    await pg.unsafe(`INSERT INTO task_definitions (definition_id, alias, group_name, image, command, memory, cpu, env, version)
      VALUES ('bench-00000000-0000-0000-0000-000000000000', 'bench-true', 'bench', 'none', 'true', 512, 1024, '[]'::jsonb, 1)`);
    await pg.end();
    const file = join(dir, 'insert-run.sql');
    writeFileSync(file, SCRIPT);
    const r = spawnSync('pgbench', ['-n', '-c', String(CONCURRENCY), '-j', '2', '-T', String(SECONDS), '-f', file, db.url], { encoding: 'utf8' });
    if (r.error) throw new Error(`pgbench could not run (${r.error.message}); install the PostgreSQL client tools (apt-get install postgresql-client)`);
    if (r.status !== 0) throw new Error(`pgbench failed: ${r.stderr || r.stdout}`);
    const tps = Number(/tps = ([\d.]+)/.exec(r.stdout)?.[1]);
    const latency = Number(/latency average = ([\d.]+) ms/.exec(r.stdout)?.[1]);
    console.log(
      `ceiling: pgbench, ${CONCURRENCY} clients, one run-shaped INSERT per transaction: ${fmt(tps, 0)} transactions/s (latency average ${fmt(latency, 2)} ms)`,
    );
    return { clients: CONCURRENCY, tps, latency_avg_ms: latency };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchCeiling().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
