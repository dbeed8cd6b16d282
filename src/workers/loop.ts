// A background loop: runs `tick` every `intervalMs`, at once when woken, and again right
// away while `tick` reports more work. Errors are backed off, never thrown. Each loop says
// what it is doing (`status()`) and emits typed events; the log lines and the metrics hang
// off those events (workers/index.ts, metrics.ts), not off calls inside the loop.
import { EventEmitter } from 'node:events';
import { createWaker } from '../engines/io.js';
import type { Logger } from '../logger.js';

export type LoopState = 'running' | 'idle' | 'backing-off' | 'stopped';

export interface LoopStatus {
  name: string;
  state: LoopState;
  /** When the current tick started (state `running`). */
  tickStartedAt: Date | null;
  lastSuccessAt: Date | null;
  lastError: { message: string; at: Date } | null;
  /** Failed ticks in a row. */
  failures: number;
  /** A tick that has run longer than this is wedged (the worker is not ready). */
  wedgedAfterMs: number;
  wedged: boolean;
}

export interface LoopEvents {
  tickStarted: [{ loop: string }];
  tickSucceeded: [{ loop: string; ms: number; more: boolean }];
  tickFailed: [{ loop: string; ms: number; err: unknown; failures: number }];
  stopped: [{ loop: string }];
}

export interface Loop {
  readonly name: string;
  readonly events: EventEmitter<LoopEvents>;
  status(now?: number): LoopStatus;
  wake(): void;
  stop(): Promise<void>;
}

/** A tick may take this many intervals (and at least a minute) before the loop counts as wedged. */
const WEDGED_INTERVALS = 10;
const WEDGED_MIN_MS = 60_000;

export function startLoop(opts: {
  name: string;
  intervalMs: number;
  logger: Logger;
  /** Returns true when there is more work to do now. */
  tick: (signal: AbortSignal) => Promise<boolean>;
  wedgedAfterMs?: number;
}): Loop {
  const ac = new AbortController();
  const events = new EventEmitter<LoopEvents>();
  const wedgedAfterMs = opts.wedgedAfterMs ?? Math.max(WEDGED_MIN_MS, opts.intervalMs * WEDGED_INTERVALS);
  const waker = createWaker();
  let failures = 0;
  let state: LoopState = 'idle';
  let tickStartedAt: Date | null = null;
  let lastSuccessAt: Date | null = null;
  let lastError: LoopStatus['lastError'] = null;

  events.on('tickFailed', ({ err, failures: n }) => opts.logger.error({ err, loop: opts.name, failures: n }, 'worker loop tick failed'));

  const running = (async () => {
    while (!ac.signal.aborted) {
      let more = false;
      state = 'running';
      tickStartedAt = new Date();
      events.emit('tickStarted', { loop: opts.name });
      try {
        more = await opts.tick(ac.signal);
        failures = 0;
        lastSuccessAt = new Date();
        events.emit('tickSucceeded', { loop: opts.name, ms: lastSuccessAt.getTime() - tickStartedAt.getTime(), more });
      } catch (err) {
        failures++;
        lastError = { message: err instanceof Error ? err.message : String(err), at: new Date() };
        events.emit('tickFailed', { loop: opts.name, ms: Date.now() - tickStartedAt.getTime(), err, failures });
      }
      tickStartedAt = null;
      if (ac.signal.aborted) break;
      if (more) continue;
      // Back off after repeated failures (e.g. the database is down) instead of spinning.
      state = failures ? 'backing-off' : 'idle';
      await waker.wait(failures ? Math.min(30_000, opts.intervalMs * 2 ** Math.min(failures, 5)) : opts.intervalMs, ac.signal);
    }
    state = 'stopped';
    events.emit('stopped', { loop: opts.name });
  })();

  return {
    name: opts.name,
    events,
    status(now = Date.now()) {
      return {
        name: opts.name,
        state,
        tickStartedAt,
        lastSuccessAt,
        lastError,
        failures,
        wedgedAfterMs,
        wedged: tickStartedAt !== null && now - tickStartedAt.getTime() > wedgedAfterMs,
      };
    },
    wake: () => waker.wake(),
    async stop() {
      ac.abort();
      await running;
    },
  };
}
