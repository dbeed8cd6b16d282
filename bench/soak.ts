// Soak test (not in CI): the production topology — 2 `flotilla serve`, 2 `flotilla worker`,
// Postgres, a private Redis — under mixed load for SOAK_MINUTES (default 60), while a random
// process is SIGKILLed every SOAK_KILL_EVERY (default 60 s), Redis is restarted and every
// Postgres connection is cut now and then. Each process is restarted when it exits, as an
// orchestrator would. At the end it prints: runs executed; runs that ended exactly once
// (one transition to STOPPED) and were launched exactly once; log lines written, stored and
// delivered to live followers; the maximum RSS of each process slot; how many processes
// exited on their own (the goal is 0).
//
//   npm run bench:soak                       # one hour
//   SOAK_MINUTES=10 npm run bench:soak       # shorter
// Needs Postgres (BENCH_DATABASE_URL or TEST_DATABASE_URL) and redis-server on PATH.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { sql } from 'drizzle-orm';
import { cutPostgresConnections, freePort, killAndWait, startRedis } from '../test/helpers/services.js';
import { fmt, freshDatabase, procStatusKb } from './lib.js';

const BIN = fileURLToPath(new URL('../bin/flotilla.js', import.meta.url));
const MINUTES = Number(process.env.SOAK_MINUTES ?? 60);
const KILL_EVERY_MS = Number(process.env.SOAK_KILL_EVERY_SECONDS ?? 60) * 1000;
const REDIS_RESTART_EVERY_MS = Number(process.env.SOAK_REDIS_RESTART_SECONDS ?? 180) * 1000;
const CUT_EVERY_MS = Number(process.env.SOAK_CUT_SECONDS ?? 45) * 1000;
/** Executes per second, spread over the two API processes. */
const RATE = Number(process.env.SOAK_RATE ?? 2);
/** Share of runs a follower watches live over graphql-ws. */
const FOLLOW_SHARE = 0.1;
/** Share of runs stopped by the soak while they run (all from the longer fifth of the runs). */
const STOP_SHARE = 0.05;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface Slot {
  name: string;
  role: 'serve' | 'worker';
  child?: ChildProcess;
  url?: string;
  /** Set while the soak itself is killing this process. */
  killing: boolean;
  ownExits: string[];
  killedByUs: number;
  starts: number;
  maxRssKb: number;
  tail: string;
}

async function startSlot(slot: Slot, env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, [BIN, slot.role], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  slot.child = child;
  slot.starts++;
  slot.killing = false;
  const ready = slot.role === 'serve' ? /"url":"(http:[^"]+)".*flotilla API listening/ : /workers started/;
  let head = '';
  const keepTail = (b: Buffer) => {
    slot.tail = (slot.tail + b.toString()).slice(-4000);
  };
  child.stdout!.on('data', keepTail);
  child.stderr!.on('data', keepTail);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${slot.name} not ready:\n${slot.tail}`)), 120_000);
    const onData = (b: Buffer) => {
      head += b.toString();
      const m = ready.exec(head);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      if (slot.role === 'serve') slot.url = m[1];
      resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${slot.name} exited before it was ready:\n${slot.tail}`));
    });
  });
}

const rssKb = (pid: number | undefined) => (pid ? procStatusKb(pid, 'VmRSS') : 0);

async function main(): Promise<void> {
  const started = Date.now();
  const endAt = started + MINUTES * 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-soak-'));
  const fresh = await freshDatabase('flotilla_soak');
  const redisPort = await freePort();
  let redis = await startRedis(redisPort);
  const env = {
    DATABASE_URL: fresh.url,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    FLOTILLA_ENGINES: 'local',
    FLOTILLA_ENGINE: 'local',
    FLOTILLA_LOCAL_WORKDIR: join(dir, 'runs'),
    WORKER_LEASE: '10s',
    WORKER_SUBMIT_INTERVAL: '500ms',
    WORKER_STATUS_INTERVAL: '1s',
    WORKER_SWEEP_INTERVAL: '5s',
  };
  const slots: Slot[] = (['serve', 'serve', 'worker', 'worker'] as const).map((role, i) => ({
    name: `${role}-${(i % 2) + 1}`,
    role,
    killing: false,
    ownExits: [],
    killedByUs: 0,
    starts: 0,
    maxRssKb: 0,
    tail: '',
  }));
  let finishing = false;
  const supervise = (slot: Slot) => {
    slot.child!.once('exit', (code, signal) => {
      if (finishing) return;
      if (!slot.killing) {
        slot.ownExits.push(`${slot.name} exited on its own (${code ?? signal}):\n${slot.tail.split('\n').slice(-12).join('\n')}`);
        log(`${slot.name} exited on its own (${code ?? signal})`);
      }
      void startSlot(slot, env)
        .then(() => supervise(slot))
        .catch((err: unknown) => log(`restart of ${slot.name} failed: ${(err as Error).message}`));
    });
  };
  for (const slot of slots) {
    await startSlot(slot, env);
    supervise(slot);
  }
  log(`topology up: ${slots.map((s) => `${s.name} pid ${s.child!.pid}`).join(', ')}; running ${MINUTES} min`);

  const serveUrl = () => {
    const up = slots.filter((s) => s.role === 'serve' && s.url && s.child?.exitCode === null && !s.killing);
    return up[Math.floor(Math.random() * up.length)]?.url;
  };
  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    for (let attempt = 1; attempt <= 40; attempt++) {
      const url = serveUrl();
      if (url) {
        try {
          const res = await fetch(`${url}${path}`, {
            method,
            headers: { 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
          });
          if (res.status < 500) return { status: res.status, json: await res.json() };
        } catch {
          // that instance is down or was cut; try another
        }
      }
      await sleep(250);
    }
    throw new Error(`${method} ${path} failed 40 times`);
  }

  const def = await api('POST', '/api/v6/task', { alias: 'soak', group_name: 'soak', image: 'x', command: 'true' });
  const outDir = join(dir, 'out');
  const launches = join(dir, 'launches');
  // Each run records its launch and every line it writes, so "written" is counted by the job.
  const command = (lines: number, pause: number, exit: number) =>
    `mkdir -p ${outDir}; echo "$FLOTILLA_RUN_ID" >> ${launches}; ` +
    `for i in $(seq 1 ${lines}); do echo "line $i of $FLOTILLA_RUN_ID"; echo x >> ${outDir}/$FLOTILLA_RUN_ID; ` +
    `if [ $((i % 10)) -eq 0 ]; then sleep ${pause}; fi; done; exit ${exit}`;

  const runIds: string[] = [];
  const followed = new Map<string, { lines: number; done: Promise<void> }>();
  let executeFailures = 0;
  let stopsAsked = 0;

  function follow(runId: string): void {
    const url = serveUrl();
    if (!url) return;
    const entry = { lines: 0, done: Promise.resolve() };
    // Reconnects after a killed API process, from the last cursor: the delivered count is
    // what a careful client gets.
    entry.done = (async () => {
      let after: string | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        const base = serveUrl();
        if (!base) {
          await sleep(500);
          continue;
        }
        const client = createClient({ url: base.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, retryAttempts: 0 });
        try {
          for await (const r of client.iterate<{ runLogs: { text: string; cursor: string } }>({
            query: 'subscription ($id: ID!, $after: String) { runLogs(runId: $id, after: $after) { text cursor } }',
            variables: { id: runId, after },
          })) {
            if (!r.data) throw new Error(JSON.stringify(r.errors));
            entry.lines += r.data.runLogs.text.split('\n').filter(Boolean).length;
            after = r.data.runLogs.cursor;
          }
          return;
        } catch {
          await sleep(500);
        } finally {
          await client.dispose();
        }
      }
    })();
    followed.set(runId, entry);
  }

  const load = (async () => {
    let n = 0;
    while (Date.now() < endAt) {
      n++;
      const kind = n % 20;
      const body = {
        run_tags: { owner_id: 'soak' },
        idempotence_key: `soak-${n}-${started}`,
        command: kind === 0 ? command(30, 0.5, 3) : kind < 5 ? command(200, 0.05, 0) : command(20, 0.2, 0),
      };
      try {
        const res = await api('PUT', `/api/v6/task/${def.json.definition_id}/execute`, body);
        if (res.status !== 200) throw new Error(JSON.stringify(res.json));
        const runId = res.json.run_id as string;
        runIds.push(runId);
        if (Math.random() < FOLLOW_SHARE) follow(runId);
        // Stops go to the longer runs, soon after their execute, so most land while they run.
        if (kind < 5 && Math.random() < STOP_SHARE * 4) {
          stopsAsked++;
          setTimeout(() => void api('DELETE', `/api/v6/task/${def.json.definition_id}/history/${runId}`).catch(() => {}), 400);
        }
      } catch {
        executeFailures++;
      }
      await sleep(1000 / RATE);
    }
  })();

  const rss = setInterval(() => {
    for (const s of slots) s.maxRssKb = Math.max(s.maxRssKb, rssKb(s.child?.pid));
  }, 2000);

  let kills = 0;
  let redisRestarts = 0;
  let cutRounds = 0;
  let cutConnections = 0;
  const chaos = (async () => {
    let nextKill = Date.now() + KILL_EVERY_MS;
    let nextRedis = Date.now() + REDIS_RESTART_EVERY_MS;
    let nextCut = Date.now() + CUT_EVERY_MS;
    while (Date.now() < endAt) {
      await sleep(1000);
      const now = Date.now();
      if (now >= nextKill) {
        nextKill = now + KILL_EVERY_MS;
        const slot = slots[Math.floor(Math.random() * slots.length)]!;
        if (slot.child && slot.child.exitCode === null) {
          slot.killing = true;
          slot.killedByUs++;
          kills++;
          log(`SIGKILL ${slot.name} (pid ${slot.child.pid})`);
          slot.child.kill('SIGKILL');
        }
      }
      if (now >= nextRedis) {
        nextRedis = now + REDIS_RESTART_EVERY_MS;
        log('restarting Redis');
        await killAndWait(redis);
        await sleep(2000);
        redis = await startRedis(redisPort);
        redisRestarts++;
      }
      if (now >= nextCut) {
        nextCut = now + CUT_EVERY_MS;
        const cut = await cutPostgresConnections(fresh.url).catch(() => 0);
        cutRounds++;
        cutConnections += cut;
        log(`cut ${cut} Postgres connections`);
      }
    }
  })();

  const progress = setInterval(() => log(`${runIds.length} runs executed, ${kills} kills, ${redisRestarts} Redis restarts, ${cutRounds} cut rounds`), 60_000);
  await Promise.all([load, chaos]);
  clearInterval(progress);
  log(`load over after ${((Date.now() - started) / 60_000).toFixed(1)} min; waiting for runs to settle`);

  // Settle: every executed run STOPPED with its logs complete (at most 10 minutes).
  const db = fresh.database.db;
  const rows = async <T>(q: ReturnType<typeof sql>): Promise<T[]> => {
    const res: any = await db.execute(q);
    return (Array.isArray(res) ? res : res.rows) as T[];
  };
  const settleUntil = Date.now() + 10 * 60_000;
  let open = runIds.length;
  while (Date.now() < settleUntil) {
    const [r] = await rows<{ n: string }>(sql`select count(*) as n from runs where status <> 'STOPPED' or logs_complete = false`).catch(() => [{ n: '-1' }]);
    open = Number(r!.n);
    if (open === 0) break;
    await sleep(2000);
  }
  await Promise.race([Promise.allSettled([...followed.values()].map((f) => f.done)), sleep(60_000)]);
  clearInterval(rss);

  // Figures.
  const stoppedOnce = await rows<{ run_id: string; stops: string }>(
    sql`select r.run_id, (select count(*) from run_events e where e.run_id = r.run_id and e.to_status = 'STOPPED') as stops from runs r`,
  );
  const endedExactlyOnce = stoppedOnce.filter((r) => Number(r.stops) === 1).length;
  const launchLines = existsSync(launches) ? readFileSync(launches, 'utf8').trim().split('\n').filter(Boolean) : [];
  const launchCounts = new Map<string, number>();
  for (const l of launchLines) launchCounts.set(l, (launchCounts.get(l) ?? 0) + 1);
  const launchedOnce = runIds.filter((id) => launchCounts.get(id) === 1).length;
  const launchedTwice = runIds.filter((id) => (launchCounts.get(id) ?? 0) > 1).length;
  const neverLaunched = runIds.filter((id) => !launchCounts.has(id)).length;
  const writtenPerRun = new Map<string, number>();
  if (existsSync(outDir)) for (const f of readdirSync(outDir)) writtenPerRun.set(f, readFileSync(join(outDir, f), 'utf8').length / 2);
  const written = [...writtenPerRun.values()].reduce((a, b) => a + b, 0);
  const storedRows = await rows<{ run_id: string; lines: string }>(
    sql`select run_id, sum(array_length(string_to_array(rtrim(text, E'\n'), E'\n'), 1)) as lines from run_logs group by run_id`,
  );
  const storedPerRun = new Map(storedRows.map((r) => [r.run_id, Number(r.lines)]));
  const stored = [...storedPerRun.values()].reduce((a, b) => a + b, 0);
  const runsMissingLines = [...writtenPerRun].filter(([id, w]) => (storedPerRun.get(id) ?? 0) < w).length;
  let deliveredExpected = 0;
  let delivered = 0;
  let followersWhole = 0;
  for (const [id, f] of followed) {
    const s = storedPerRun.get(id) ?? 0;
    deliveredExpected += s;
    delivered += f.lines;
    if (f.lines === s) followersWhole++;
  }
  const [stoppedByUs] = await rows<{ n: string }>(sql`select count(*) as n from runs where exit_reason ilike '%terminated by user%'`);
  const ownExits = slots.flatMap((s) => s.ownExits);
  const minutes = (Date.now() - started) / 60_000;

  finishing = true;
  for (const s of slots) s.child?.kill('SIGKILL');
  await killAndWait(redis);
  // Local runs are detached process groups: end whatever a stop did not.
  for (const run of existsSync(join(dir, 'runs')) ? readdirSync(join(dir, 'runs')) : []) {
    try {
      process.kill(-(JSON.parse(readFileSync(join(dir, 'runs', run, 'pid'), 'utf8')) as { pid: number }).pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await fresh.drop();
  rmSync(dir, { recursive: true, force: true });

  const out = [
    `# Soak: ${MINUTES} min of load (${fmt(minutes, 1)} min with settling), 2 serve + 2 worker, Postgres, Redis, local engine`,
    '',
    `| figure | value |`,
    `| --- | ---: |`,
    `| runs executed (answered) | ${runIds.length} |`,
    `| executes that failed after 40 tries | ${executeFailures} |`,
    `| runs still not settled at the end | ${open} |`,
    `| runs that ended exactly once (one transition to STOPPED) | ${endedExactlyOnce} / ${stoppedOnce.length} |`,
    `| runs launched exactly once / twice or more / never | ${launchedOnce} / ${launchedTwice} / ${neverLaunched} |`,
    `| runs stopped by the soak (asked / "terminated by user") | ${stopsAsked} / ${Number(stoppedByUs?.n ?? 0)} |`,
    `| log lines written (counted by the jobs) | ${written} |`,
    `| log lines stored | ${stored} |`,
    `| runs with fewer lines stored than written | ${runsMissingLines} |`,
    `| log lines delivered to live followers / stored for those runs | ${delivered} / ${deliveredExpected} (${followersWhole} of ${followed.size} followers got every line) |`,
    `| chaos: SIGKILLs / Redis restarts / connection-cut rounds (connections cut) | ${kills} / ${redisRestarts} / ${cutRounds} (${cutConnections}) |`,
    `| processes that exited on their own | ${ownExits.length} |`,
    '',
    `| process slot | starts | killed by the soak | exited on its own | max RSS |`,
    `| --- | ---: | ---: | ---: | ---: |`,
    ...slots.map((s) => `| ${s.name} | ${s.starts} | ${s.killedByUs} | ${s.ownExits.length} | ${fmt(s.maxRssKb / 1024, 0)} MB |`),
  ];
  process.stdout.write(`\n${out.join('\n')}\n`);
  if (ownExits.length) process.stdout.write(`\nExits on their own:\n${ownExits.join('\n---\n')}\n`);
  process.exit(ownExits.length === 0 && open === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
