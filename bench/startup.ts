// npm run bench:startup — `npm start` (flotilla dev on the embedded database) as a user
// meets it: the first start in a fresh data directory and a restart on the same one, each
// timed from spawning `npm start` to /health/ready answering 200. Also the memory of the
// process tree once started, the CPU time the server used to get ready (less sensitive to
// a busy machine than the wall clock), and the server's own breakdown of where the time
// went (its ready log line). BENCH_STARTUP_REPS (default 3) of each; medians are reported.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, percentile, processCpuSeconds, procStatusKb } from './lib.js';

const REPS = Number(process.env.BENCH_STARTUP_REPS ?? 3);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** dist/ as bin/flotilla.js judges it: built and not older than src/. */
function distCurrent(): boolean {
  const cli = join(ROOT, 'dist/bundle/cli.js');
  if (!existsSync(cli) || !existsSync(join(ROOT, 'dist/pglite-template'))) return false;
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce(
      (m, e) => Math.max(m, e.isDirectory() ? newest(join(dir, e.name)) : e.name.endsWith('.ts') ? statSync(join(dir, e.name)).mtimeMs : 0),
      0,
    );
  return statSync(cli).mtimeMs >= newest(join(ROOT, 'src'));
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function tree(pid: number): number[] {
  return [pid, ...children(pid).flatMap(tree)];
}

const rssMb = (pid: number) => procStatusKb(pid, 'VmRSS') / 1024;

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

interface Start {
  wallMs: number;
  serverCpuS: number;
  treeRssMb: number;
  serverRssMb: number;
  breakdown: Record<string, number>;
}

async function startOnce(dataDir: string): Promise<Start> {
  const started = performance.now();
  const child: ChildProcess = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', FLOTILLA_DATA_DIR: dataDir, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  try {
    const deadline = Date.now() + 120_000;
    let url: string | undefined;
    for (;;) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not get ready:\n${out}`);
      url ??= /"url":"(http:[^"]+)"/.exec(out)?.[1];
      if (url) {
        const res = await fetch(`${url}/health/ready`).catch(() => undefined);
        if (res?.status === 200) break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const wallMs = performance.now() - started;
    // The node process itself, not the `sh -c` npm runs it through (its command line names it too).
    const server = tree(child.pid!).findLast((p) => commandOf(p).includes('bin/flotilla.js'));
    const serverCpuS = server ? processCpuSeconds(server) : NaN;
    // Settled memory: a moment after ready, as a user's first request would find it.
    await new Promise((r) => setTimeout(r, 1000));
    const pids = tree(child.pid!);
    const line = out.split('\n').find((l) => l.includes('"startup"'));
    const breakdown = line ? ((JSON.parse(line) as { startup: Record<string, number> }).startup ?? {}) : {};
    if (line) breakdown.totalMs = (JSON.parse(line) as { startupMs: number }).startupMs;
    return {
      wallMs,
      serverCpuS,
      treeRssMb: pids.reduce((s, p) => s + rssMb(p), 0),
      serverRssMb: server ? pids.filter((p) => p === server || tree(server).includes(p)).reduce((s, p) => s + rssMb(p), 0) : NaN,
      breakdown,
    };
  } finally {
    const pids = tree(child.pid!);
    // The whole group: npm, its shell and the server.
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // gone
    }
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    // npm may exit before its child: wait for every process of the tree to be gone, so the
    // next start does not meet a data directory still in use.
    const until = Date.now() + 15_000;
    while (Date.now() < until && pids.some((p) => existsSync(`/proc/${p}`))) await new Promise((r) => setTimeout(r, 50));
  }
}

const median = (xs: number[]) => percentile(xs, 50);

function summarize(prefix: string, runs: Start[], figures: Record<string, number>): void {
  figures[`${prefix}_wall_ms`] = median(runs.map((r) => r.wallMs));
  figures[`${prefix}_server_cpu_s`] = median(runs.map((r) => r.serverCpuS));
  figures[`${prefix}_tree_rss_mb`] = median(runs.map((r) => r.treeRssMb));
  figures[`${prefix}_server_rss_mb`] = median(runs.map((r) => r.serverRssMb));
  const keys = new Set(runs.flatMap((r) => Object.keys(r.breakdown)));
  for (const k of keys) figures[`${prefix}_${k}`] = median(runs.map((r) => r.breakdown[k] ?? NaN).filter(Number.isFinite));
}

export async function benchStartup(): Promise<Record<string, number>> {
  if (!distCurrent()) {
    console.log('startup benchmark: dist/ is missing or older than src/, building it first (npm run build:server)');
    const r = spawnSync('npm', ['run', 'build:server', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build:server failed');
  }
  const base = mkdtempSync(join(tmpdir(), 'flotilla-bench-startup-'));
  try {
    const first: Start[] = [];
    const restart: Start[] = [];
    for (let i = 0; i < REPS; i++) {
      const dir = join(base, `data-${i}`);
      first.push(await startOnce(dir));
      restart.push(await startOnce(dir));
      const f = first.at(-1)!;
      const r = restart.at(-1)!;
      console.log(
        `  start ${i + 1}: first ${fmt(f.wallMs, 0)} ms (server CPU ${fmt(f.serverCpuS, 2)} s, tree RSS ${fmt(f.treeRssMb, 0)} MB), ` +
          `restart ${fmt(r.wallMs, 0)} ms (server CPU ${fmt(r.serverCpuS, 2)} s, tree RSS ${fmt(r.treeRssMb, 0)} MB); load ${fmt(loadavg()[0]!, 1)}\n` +
          `    first's breakdown ${JSON.stringify(f.breakdown)}\n    restart's breakdown ${JSON.stringify(r.breakdown)}`,
      );
    }
    // The wall clock depends on what else the machine runs; CPU time much less so.
    const figures: Record<string, number> = { reps: REPS, load_avg_1m: loadavg()[0]! };
    summarize('first', first, figures);
    summarize('restart', restart, figures);
    return figures;
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchStartup().then(
    (f) => {
      console.log(f);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
