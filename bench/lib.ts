// Shared pieces of the benchmarks: a fresh database, real processes, percentiles.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { createDatabase, type Database } from '../src/db/client.js';

export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = '/' + name;
  return u.toString();
}

/** A new, migrated database for one benchmark run; dropped by `drop()`. */
export async function freshDatabase(prefix = 'flotilla_bench'): Promise<{ url: string; database: Database; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(BENCH_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(BENCH_DATABASE_URL, name);
  const database = await createDatabase({ url, max: 10 });
  await database.migrate();
  return {
    url,
    database,
    async drop() {
      await database.close();
      const a = postgres(BENCH_DATABASE_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/**
 * Enqueue throughput, measured the same way for Flotilla's execute and the peer's addJob:
 * `clients` callers in a closed loop, each sending the next request when its last one was
 * answered, for `seconds` (the requests still in flight then are counted when they finish).
 * Long enough for JIT and pools to settle, which a few hundred requests are not.
 */
export const ENQUEUE_SECONDS = Number(process.env.BENCH_ENQUEUE_SECONDS ?? 5);
export async function closedLoop(clients: number, seconds: number, fn: () => Promise<unknown>): Promise<{ count: number; perS: number }> {
  const started = performance.now();
  const until = started + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        await fn();
        count++;
      }
    }),
  );
  return { count, perS: count / ((performance.now() - started) / 1000) };
}

/** USER_HZ on Linux: /proc counts CPU time in these ticks. */
const TICKS = 100;

/** CPU seconds a process has used (user + system), from /proc/PID/stat; NaN when it cannot be read. */
export function processCpuSeconds(pid: number | undefined): number {
  try {
    // Fields after the command name (which may hold spaces) start at field 3; utime is 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return NaN;
  }
}

/** CPU seconds the whole machine has used, all cores (/proc/stat: all but idle and iowait); NaN off Linux. */
export function machineCpuSeconds(): number {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / TICKS;
  } catch {
    return NaN;
  }
}

/** A `/proc/PID/status` memory figure (VmRSS, VmHWM, …) in kB; 0 when the process is gone. */
export function procStatusKb(pid: number | undefined, key: string): number {
  try {
    return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
