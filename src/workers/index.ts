// Starts the enabled worker loops (submit, status, retry, logs, sweep) and stops them in
// the order that loses nothing: stop claiming, then flush logs and give leases back.
import type { WorkerName } from '../config.js';
import type { WorkerContext } from './context.js';
import { startLoop, type Loop, type LoopStatus } from './loop.js';
import { createSubmitter } from './submitter.js';
import { createStatusSync } from './statusSync.js';
import { createRetrier } from './retrier.js';
import { createLogCollector } from './logCollector.js';
import { createSweeper } from './sweeper.js';
import { createActivity } from '../domain/activity.js';

export interface Workers {
  loops: Loop[];
  /** What each loop is doing (for /health/ready and /metrics). */
  status(): LoopStatus[];
  stop(): Promise<void>;
  wakeAll(): void;
}

const LOG_INTERVAL_MS = 250;

export function startWorkers(given: WorkerContext, enabled: readonly WorkerName[] = given.config.workers.enabled): Workers {
  const ctx: WorkerContext = { ...given, activity: given.activity ?? createActivity() };
  const { config, logger, bus } = ctx;
  const loops: Loop[] = [];
  const unsubscribers: (() => void)[] = [];
  const stops: (() => Promise<void>)[] = [];
  const intervals = config.workers;

  if (enabled.includes('submit')) {
    const submitter = createSubmitter(ctx);
    const loop = startLoop({ name: 'submit', intervalMs: intervals.submitIntervalMs, logger, tick: submitter.tick });
    loops.push(loop);
    stops.push(submitter.stop);
    unsubscribers.push(bus.subscribe('runs.queued', () => loop.wake()));
  }
  if (enabled.includes('status')) {
    const sync = createStatusSync(ctx);
    loops.push(startLoop({ name: 'status', intervalMs: intervals.statusIntervalMs, logger, tick: sync.tick }));
    stops.push(sync.stop);
  }
  if (enabled.includes('retry')) {
    const loop = startLoop({ name: 'retry', intervalMs: intervals.retryIntervalMs, logger, tick: createRetrier(ctx) });
    loops.push(loop);
    unsubscribers.push(
      bus.subscribe('runs.changed', (e) => {
        if (e.status === 'NEEDS_RETRY') loop.wake();
      }),
    );
  }
  if (enabled.includes('logs')) {
    const collector = createLogCollector(ctx);
    const loop = startLoop({ name: 'logs', intervalMs: LOG_INTERVAL_MS, logger, tick: collector.tick });
    loops.push(loop);
    unsubscribers.push(
      bus.subscribe('runs.changed', (e) => {
        if (e.status === 'RUNNING' || e.status === 'STOPPED') loop.wake();
      }),
    );
    stops.push(collector.stop);
  }
  if (enabled.includes('sweep')) {
    loops.push(startLoop({ name: 'sweep', intervalMs: intervals.sweepIntervalMs, logger, tick: createSweeper(ctx) }));
  }
  logger.info({ workerId: ctx.workerId, loops: loops.map((l) => l.name), engines: ctx.engines.names() }, 'workers started');

  return {
    loops,
    status: () => loops.map((l) => l.status()),
    wakeAll: () => loops.forEach((l) => l.wake()),
    async stop() {
      for (const u of unsubscribers) u();
      await Promise.all(loops.map((l) => l.stop()));
      for (const s of stops) await s();
    },
  };
}
