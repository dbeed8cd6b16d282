// Live views of runs for subscriptions (docs/architecture.md "Events and live updates"). Postgres is the truth; the bus only
// says "something changed" quickly. Every follower subscribes to the bus *before* reading
// Postgres, detects gaps by seq, backfills from Postgres, and holds at most a bounded
// buffer per subscriber: a slow reader costs a re-read, never unbounded memory.
import type { Db } from '../db/client.js';
import type { RunLogRow, RunRow } from '../db/schema.js';
import { createWaker } from '../engines/io.js';
import { NotFoundError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { runFromSnapshot, type RunLogEvent } from '../events/topics.js';
import { readLogChunks } from '../store/runLogs.js';
import { getRun } from '../store/runs.js';
import { RANK } from './lifecycle.js';

export interface LiveLimits {
  /** Live log chunks held per subscriber before it falls back to reading Postgres. */
  maxBufferedChunks: number;
  maxBufferedBytes: number;
  /** How often a follower re-reads Postgres when the bus is silent (lost messages). */
  pollMs: number;
}

export const DEFAULT_LIVE_LIMITS: LiveLimits = { maxBufferedChunks: 256, maxBufferedBytes: 4 * 1024 * 1024, pollMs: 3000 };

export interface RunFeedFilter {
  statuses?: string[];
  owner?: string;
  definitionId?: string;
  alias?: string;
}

function isNewer(a: RunRow, than: RunRow | undefined): boolean {
  if (!than) return true;
  if (a.status !== than.status) return RANK[a.status] > RANK[than.status] || than.status === 'NEEDS_RETRY' || a.status === 'QUEUED';
  return a.updatedAt.getTime() > than.updatedAt.getTime();
}

export function createLiveService(deps: { db: Db; bus: EventBus; limits?: Partial<LiveLimits> }) {
  const { db, bus } = deps;
  const limits = { ...DEFAULT_LIVE_LIMITS, ...deps.limits };
  /**
   * Backfill reads shared between followers: many subscribers of one run that fall back to
   * Postgres at the same position wait for one query and hold one copy of the page,
   * instead of one each. Recent pages are kept in a small LRU bounded by bytes.
   */
  const pages = new Map<string, { rows: Promise<RunLogRow[]>; bytes: number }>();
  let cachedBytes = 0;
  const PAGE_BYTES = 256 * 1024;
  const CACHE_BYTES = 32 * 1024 * 1024;
  function readPage(runId: string, afterSeq: number): Promise<RunLogRow[]> {
    const key = `${runId}:${afterSeq}`;
    const hit = pages.get(key);
    if (hit) {
      pages.delete(key);
      pages.set(key, hit); // most recently used last
      return hit.rows;
    }
    const entry = { rows: readLogChunks(db, runId, afterSeq, PAGE_BYTES, 500), bytes: 0 };
    pages.set(key, entry);
    entry.rows.then(
      (rows) => {
        // An empty page (the follower is at the end) must not be served stale later.
        if (rows.length === 0 || !pages.has(key)) return void pages.delete(key);
        entry.bytes = rows.reduce((n, r) => n + r.text.length, 0);
        cachedBytes += entry.bytes;
        for (const [k, v] of pages) {
          if (cachedBytes <= CACHE_BYTES) break;
          pages.delete(k);
          cachedBytes -= v.bytes;
        }
      },
      () => pages.delete(key),
    );
    return entry.rows;
  }

  /** Counters for /metrics and tests. */
  const stats = { overflows: 0, activeLogFollowers: 0, activeStatusFollowers: 0 };

  return {
    limits,
    stats,

    /** The current run, then every change; ends after STOPPED. */
    async *followStatus(runId: string, signal: AbortSignal): AsyncGenerator<RunRow> {
      const wake = createWaker();
      let latest: RunRow | undefined;
      const unsubscribe = bus.subscribe(
        'run.status',
        (e) => {
          const row = runFromSnapshot(e.run);
          if (isNewer(row, latest)) latest = row;
          wake.wake();
        },
        runId,
      );
      stats.activeStatusFollowers++;
      try {
        const current = await getRun(db, runId);
        if (!current) throw new NotFoundError(`Run with id ${runId} not found`);
        let last = current;
        yield current;
        while (last.status !== 'STOPPED' && !signal.aborted) {
          await wake.wait(limits.pollMs, signal);
          if (signal.aborted) return;
          // Without a bus message, Postgres is asked: a lost message costs one poll interval.
          const next = latest && isNewer(latest, last) ? latest : await getRun(db, runId);
          latest = undefined;
          if (!next) return;
          if (next.status !== last.status || next.updatedAt.getTime() !== last.updatedAt.getTime()) {
            if (!isNewer(next, last)) continue;
            last = next;
            yield next;
          }
        }
      } finally {
        stats.activeStatusFollowers--;
        unsubscribe();
      }
    },

    /**
     * Log chunks after `afterSeq`, in seq order with no gap or repeat: persisted chunks
     * from Postgres, then live ones from the bus. Ends when the run is STOPPED and its
     * logs are complete.
     */
    async *followLogs(runId: string, afterSeq: number, signal: AbortSignal): AsyncGenerator<RunLogRow> {
      const wake = createWaker();
      let buffer: RunLogEvent[] = [];
      let bufferedBytes = 0;
      let overflowed = false;
      let eof = false;
      const unsubscribe = bus.subscribe(
        'run.log',
        (e) => {
          if (e.stream === 'eof') eof = true;
          else if (!overflowed) {
            buffer.push(e);
            bufferedBytes += e.text.length;
            if (buffer.length > limits.maxBufferedChunks || bufferedBytes > limits.maxBufferedBytes) {
              // Drop the live buffer; the follower continues from Postgres at its last seq.
              overflowed = true;
              stats.overflows++;
              buffer = [];
              bufferedBytes = 0;
            }
          }
          wake.wake();
        },
        runId,
      );
      let lastSeq = afterSeq;
      stats.activeLogFollowers++;
      try {
        if (!(await getRun(db, runId))) throw new NotFoundError(`Run with id ${runId} not found`);
        for (;;) {
          if (signal.aborted) return;
          // 1. Catch up from Postgres.
          const rows = await readPage(runId, lastSeq);
          if (rows.length > 0) {
            for (const row of rows) {
              lastSeq = row.seq;
              yield row;
              if (signal.aborted) return;
            }
            continue;
          }
          // 2. Caught up: finished?
          const run = await getRun(db, runId);
          if (!run) return;
          if (run.status === 'STOPPED' && run.logsComplete) {
            // Complete is set after the last flush, so reading on (a page at a time, to keep
            // memory bounded for a reader that is far behind) sees everything.
            for (;;) {
              const rest = await readPage(runId, lastSeq);
              if (rest.length === 0) return;
              for (const row of rest) {
                lastSeq = row.seq;
                yield row;
                if (signal.aborted) return;
              }
            }
          }
          // 3. Follow the bus until a gap, an overflow, the end, or a quiet poll interval.
          overflowed = false;
          for (;;) {
            if (buffer.length === 0 && !overflowed && !eof) await wake.wait(limits.pollMs, signal);
            if (signal.aborted) return;
            if (overflowed || eof || buffer.length === 0) break;
            const batch = buffer;
            buffer = [];
            bufferedBytes = 0;
            let gap = false;
            for (const e of batch) {
              if (e.seq <= lastSeq) continue;
              if (e.seq !== lastSeq + 1) {
                gap = true;
                break;
              }
              lastSeq = e.seq;
              yield { runId, seq: e.seq, stream: e.stream, at: new Date(e.at), text: e.text };
              if (signal.aborted) return;
            }
            if (gap) break;
          }
          eof = false;
        }
      } finally {
        stats.activeLogFollowers--;
        unsubscribe();
      }
    },

    /** Every change of runs matching `filter`, as it happens (no replay). */
    async *followRuns(filter: RunFeedFilter, signal: AbortSignal): AsyncGenerator<RunRow> {
      const wake = createWaker();
      let queue: RunRow[] = [];
      const matches = (r: RunRow) =>
        (!filter.statuses?.length || filter.statuses.includes(r.status)) &&
        (!filter.owner || r.owner === filter.owner) &&
        (!filter.definitionId || r.definitionId === filter.definitionId) &&
        (!filter.alias || r.alias === filter.alias);
      const unsubscribe = bus.subscribe('runs.changed', (e) => {
        const row = runFromSnapshot(e.run);
        if (!matches(row)) return;
        // A feed, not a log: keep the newest change per run when a reader falls behind.
        if (queue.length >= limits.maxBufferedChunks) queue = queue.filter((r) => r.runId !== row.runId).slice(-limits.maxBufferedChunks + 1);
        queue.push(row);
        wake.wake();
      });
      try {
        while (!signal.aborted) {
          if (queue.length === 0) await wake.wait(60_000, signal);
          const batch = queue;
          queue = [];
          for (const row of batch) {
            if (signal.aborted) return;
            yield row;
          }
        }
      } finally {
        unsubscribe();
      }
    },
  };
}

export type LiveService = ReturnType<typeof createLiveService>;
