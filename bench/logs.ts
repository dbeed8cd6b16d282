// npm run bench:logs — a run writes timestamped lines as fast as it can for BENCH_SECONDS
// (default 10) while 1, 100 and 1,000 graphql-ws subscribers follow it through a
// `flotilla serve` process (logs collected by a separate `flotilla worker`, Postgres +
// Redis). Prints lines/s persisted and delivered, delivery latency (written → received)
// p50/p99, how far delivery fell behind persistence (the largest time a persisted chunk
// waited before the slowest subscriber had it), and the serve process's RSS.
// With N subscribers every line is delivered N times, so a firehose writer also stops after
// BENCH_FANOUT_LINES / N lines (default 50,000,000 deliveries: 50,000 lines for 1,000
// subscribers): "every subscriber got every line" can then be decided within the drain time.
// BENCH_SUBSCRIBERS="1,100,1000" to choose the firehose scenarios. Before them, writers paced
// at BENCH_PACED_LINES (default "10000,50000") lines/s for BENCH_PACED_SECONDS (default 30),
// one subscriber each: there the latency is the delivery path's own, not a backlog.
// Each scenario is bounded: subscribers that have not received every line BENCH_DRAIN_SECONDS
// (default 60) after the writer stops are cut off and counted as incomplete, and a serve
// process whose RSS passes BENCH_MAX_RSS_MB (default 2048) ends the scenario at once — the
// writer outruns any fan-out, and an unbounded wait (or an unbounded server) would hold the
// whole suite, or the machine's memory, hostage.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startFlotilla, type FlotillaProcess } from '../test/helpers/processes.js';
import { BENCH_REDIS_URL, fmt, freshDatabase, percentile, procStatusKb } from './lib.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** A firehose scenario per subscriber count, then paced writers (lines/s) with one subscriber each. */
const FIREHOSE = (process.env.BENCH_SUBSCRIBERS ?? '1,100,1000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const PACED_RATES = (process.env.BENCH_PACED_LINES ?? '10000,50000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 30);
const SCENARIOS: { subscribers: number; rate?: number }[] = [
  ...PACED_RATES.map((rate) => ({ subscribers: 1, rate })),
  ...FIREHOSE.map((subscribers) => ({ subscribers })),
];
const DRAIN_SECONDS = Number(process.env.BENCH_DRAIN_SECONDS ?? 60);
const FANOUT_LINES = Number(process.env.BENCH_FANOUT_LINES ?? 50_000_000);
const MAX_RSS_MB = Number(process.env.BENCH_MAX_RSS_MB ?? 2048);

// The writers write with fs.writeSync, at most 500 lines (about 11 KB) per write: the local
// engine's stdout is a datagram socket (src/engines/local/tagger.ts), and process.stdout
// would gather queued writes into one larger than a datagram may be, which fails.
// The firehose: lines "<epoch ms with fraction> <n>", as fast as the socket takes them, for
// SECONDS seconds or `max` lines.
const firehoseWriter = (max: number) => `node -e '
const fs = require("fs"), end = Date.now() + ${SECONDS} * 1000, max = ${max}; let n = 0;
while (n < max && Date.now() <= end) {
  let buf = "";
  for (let i = 0; i < 500 && n < max; i++) { n++; buf += (performance.timeOrigin + performance.now()).toFixed(3) + " " + n + "\\n"; }
  fs.writeSync(1, buf);
}'`;

// A paced writer: `rate` lines per second for PACED_SECONDS, written every 10 ms against the
// clock (a late tick writes what it owes), the way a busy but steady job logs.
const pacedWriter = (rate: number) => `node -e '
const fs = require("fs"), rate = ${rate}, start = Date.now(), end = start + ${PACED_SECONDS} * 1000; let n = 0;
function tick() {
  const owed = Math.min(rate * ${PACED_SECONDS}, Math.floor(((Math.min(Date.now(), end) - start) / 1000) * rate));
  while (n < owed) {
    let buf = "";
    for (let i = 0; i < 500 && n < owed; i++) { n++; buf += (performance.timeOrigin + performance.now()).toFixed(3) + " " + n + "\\n"; }
    fs.writeSync(1, buf);
  }
  if (Date.now() < end) setTimeout(tick, 10); else if (n < rate * ${PACED_SECONDS}) setImmediate(tick);
}
tick();'`;

const rssMb = (pid: number) => ({ rss: procStatusKb(pid, 'VmRSS') / 1024, hwm: procStatusKb(pid, 'VmHWM') / 1024 });

interface Sub {
  received: number;
  /** seq of the last chunk received. */
  seq: number;
  latencies: number[];
  done: Promise<void>;
  /** Resolves when the socket is acknowledged (or fails). */
  connected: Promise<void>;
  /** Why the subscription ended early (the server closed it, say), if it did. */
  failed?: string;
  /** Ends the subscription now (deadline); `done` then resolves. */
  stop(): void;
}

class CutOff extends Error {}

function subscribe(url: string, runId: string, sample: boolean): Sub {
  const client = createClient({ url: url.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, retryAttempts: 3, lazy: true });
  const it = client.iterate<{ runLogs: { seq: number; text: string } }>({
    query: 'subscription ($id: ID!) { runLogs(runId: $id) { seq text } }',
    variables: { id: runId },
  });
  // throw() wakes the iterator even while it waits for the next message; return() would not.
  const sub: Sub = { received: 0, seq: 0, latencies: [], done: Promise.resolve(), connected: Promise.resolve(), stop: () => void it.throw!(new CutOff()) };
  sub.connected = new Promise<void>((resolve) => {
    client.on('connected', () => resolve());
    client.on('closed', () => resolve());
  });
  sub.done = (async () => {
    try {
      for await (const r of it) {
        const text = r.data?.runLogs.text ?? '';
        sub.seq = r.data?.runLogs.seq ?? sub.seq;
        const now = performance.timeOrigin + performance.now();
        let start = 0;
        for (;;) {
          const nl = text.indexOf('\n', start);
          if (nl < 0) break;
          sub.received++;
          // Sample every 50th line for latency: cheap enough for 1,000 subscribers.
          if (sample && sub.received % 50 === 0) sub.latencies.push(now - Number(text.slice(start, text.indexOf(' ', start))));
          start = nl + 1;
        }
      }
    } catch (err) {
      // Counted as a subscriber without every line, with the reason, not a crash of the bench.
      if (!(err instanceof CutOff)) sub.failed = err instanceof Error ? err.message : String((err as { reason?: string }).reason ?? err);
    } finally {
      await client.dispose();
    }
  })();
  return sub;
}

export async function benchLogs(): Promise<Record<string, number>[]> {
  const results: Record<string, number>[] = [];
  for (const { subscribers, rate } of SCENARIOS) {
    const writerSeconds = rate ? PACED_SECONDS : SECONDS;
    const db = await freshDatabase();
    const workdir = mkdtempSync(join(tmpdir(), 'flotilla-bench-logs-'));
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: BENCH_REDIS_URL,
      FLOTILLA_ENGINE: 'local',
      FLOTILLA_LOCAL_WORKDIR: workdir,
      LOG_LEVEL: 'info',
      WORKER_STATUS_INTERVAL: '1s',
      // Every subscriber is a connection from this one address.
      FLOTILLA_MAX_CONNECTIONS_PER_CLIENT: String(subscribers + 50),
    };
    // Started inside the try, so a process that fails to start does not leak the other or the database.
    const processes: FlotillaProcess[] = [];
    let killSignal: NodeJS.Signals = 'SIGTERM';
    try {
      const serve = await startFlotilla('serve', env);
      processes.push(serve);
      processes.push(await startFlotilla('worker', env));
      const base = serve.url!;
      const alias = rate ? `paced-${rate}` : 'firehose';
      await fetch(`${base}/api/v6/task`, {
        method: 'POST',
        body: JSON.stringify({ alias, image: 'none', command: rate ? pacedWriter(rate) : firehoseWriter(Math.floor(FANOUT_LINES / subscribers)) }),
      });
      const res = await fetch(`${base}/api/v6/task/alias/${alias}/execute`, { method: 'PUT', body: JSON.stringify({ run_tags: { owner_id: 'bench' } }) });
      const runId = ((await res.json()) as { run_id: string }).run_id;
      // Latency from about 20 subscribers spread over all of them: under fan-out some
      // subscribers get far more than others, and the first 20 alone may have got nothing.
      const every = Math.max(1, Math.floor(subscribers / 20));
      // Connected 100 at a time: a thousand handshakes at once on a loaded machine pass the
      // server's 3 s connection_init timeout.
      const started = performance.now();
      const subs: Sub[] = [];
      for (let i = 0; i < subscribers; i += 100) {
        const batch = Array.from({ length: Math.min(100, subscribers - i) }, (_, j) => subscribe(base, runId, (i + j) % every === 0));
        subs.push(...batch);
        await Promise.race([Promise.all(batch.map((s) => s.connected)), new Promise((r) => setTimeout(r, 10_000))]);
      }
      let peak = 0;
      let stopReason: string | undefined;
      let cutOff = () => {};
      const limit = new Promise<void>((resolve) => (cutOff = resolve));
      const sampler = setInterval(() => {
        if (serve.child.exitCode !== null || serve.child.signalCode !== null) {
          stopReason ??= `serve exited (${serve.child.exitCode ?? serve.child.signalCode})`;
          return cutOff();
        }
        try {
          peak = Math.max(peak, rssMb(serve.child.pid!).rss);
        } catch {
          return; // exited between the check and the read; the next tick says so
        }
        if (peak > MAX_RSS_MB && !stopReason) {
          stopReason = `serve RSS passed ${MAX_RSS_MB} MB`;
          cutOff();
        }
      }, 200);
      const deadline = setTimeout(
        () => {
          stopReason ??= `drain deadline (${DRAIN_SECONDS} s after the writer stopped)`;
          cutOff();
        },
        (writerSeconds + DRAIN_SECONDS) * 1000,
      );
      // Delivery against persistence: every 100 ms, the highest seq stored, and for each
      // subscriber still short of it, how long ago the first chunk it lacks was stored.
      const storedAt: { seq: number; at: number }[] = [];
      let lagMax = 0;
      let sampling = Promise.resolve();
      const lagSampler = setInterval(() => {
        sampling = sampling.then(
          async () => {
            const rows = await db.database.db.execute<{ seq: number | null }>(sql`select max(seq) as seq from run_logs where run_id = ${runId}`);
            const now = performance.now();
            const top = Number((Array.isArray(rows) ? rows : (rows as any).rows)[0]?.seq ?? 0);
            if (top > (storedAt.at(-1)?.seq ?? 0)) storedAt.push({ seq: top, at: now });
            for (const s of subs) {
              if (s.seq >= top) continue;
              const since = storedAt.find((p) => p.seq > s.seq)!.at;
              lagMax = Math.max(lagMax, (now - since) / 1000);
            }
          },
          () => {},
        );
      }, 100);
      const allDone = Promise.all(subs.map((s) => s.done));
      await Promise.race([allDone, limit]);
      const elapsed = (performance.now() - started) / 1000;
      clearInterval(sampler);
      clearInterval(lagSampler);
      await sampling;
      clearTimeout(deadline);
      const hwm = serve.child.exitCode === null && serve.child.signalCode === null ? rssMb(serve.child.pid!).hwm : 0;
      if (stopReason) {
        killSignal = 'SIGKILL';
        subs.forEach((s) => s.stop());
        await allDone;
      }
      const persisted = await db.database.db.execute<{ lines: number; first: string; last: string }>(
        sql`select sum(length(text) - length(replace(text, E'\\n', '')))::bigint as lines, min(at) as first, max(at) as last from run_logs where run_id = ${runId}`,
      );
      const row = (Array.isArray(persisted) ? persisted : (persisted as any).rows)[0];
      const lines = Number(row.lines);
      const persistSeconds = Math.max(0.001, (new Date(row.last).getTime() - new Date(row.first).getTime()) / 1000);
      const latencies = subs.flatMap((s) => s.latencies);
      const complete = subs.filter((s) => s.received === lines).length;
      const failed = subs.filter((s) => s.failed);
      const meanReceived = subs.reduce((n, s) => n + s.received, 0) / subscribers;
      const figures = {
        subscribers,
        /** Lines/s of a paced writer; 0 for the firehose. */
        paced_rate: rate ?? 0,
        lines_written: lines,
        lines_per_s_persisted: lines / persistSeconds,
        lines_per_s_delivered_per_subscriber: meanReceived / elapsed,
        lines_per_s_delivered_aggregate: (meanReceived * subscribers) / elapsed,
        /** The longest a stored chunk waited for the slowest subscriber (sampled every 100 ms). */
        delivery_lag_max_s: lagMax,
        subscribers_with_every_line: complete,
        latency_p50_ms: percentile(latencies, 50),
        latency_p99_ms: percentile(latencies, 99),
        serve_rss_peak_mb: Math.max(peak, hwm),
        /** 1 when the scenario was cut off (deadline or RSS limit) before every subscriber finished. */
        cut_off: stopReason ? 1 : 0,
      };
      results.push(figures);
      console.log(
        `logs benchmark, ${rate ? `writer paced at ${rate} lines/s, ` : 'firehose, '}${subscribers} subscriber(s): ${lines} lines in ${fmt(elapsed)} s; persisted ${fmt(figures.lines_per_s_persisted, 0)} lines/s; ` +
          `delivered ${fmt(figures.lines_per_s_delivered_per_subscriber, 0)} lines/s per subscriber, ${fmt(figures.lines_per_s_delivered_aggregate / 1e6, 2)} M lines/s in all (${complete}/${subscribers} got every line; ` +
          `each got ${Math.min(...subs.map((s) => s.received))}…${Math.max(...subs.map((s) => s.received))} lines); ` +
          `latency p50 ${fmt(figures.latency_p50_ms)} ms p99 ${fmt(figures.latency_p99_ms)} ms; delivery behind persistence at most ${fmt(lagMax, 2)} s; serve RSS peak ${fmt(figures.serve_rss_peak_mb, 0)} MB` +
          (stopReason ? `; cut off: ${stopReason}` : '') +
          (failed.length ? `; ${failed.length} subscription(s) ended early (${failed[0]!.failed})` : ''),
      );
    } finally {
      // A cut-off worker may still hold a large log backlog; its graceful flush is not measured.
      await Promise.allSettled(processes.map((p) => p.kill(killSignal)));
      await db.drop();
      rmSync(workdir, { recursive: true, force: true });
    }
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchLogs().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
