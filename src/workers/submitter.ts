// Claims due QUEUED runs (FOR UPDATE SKIP LOCKED + lease) and submits them to their engine.
// Engines are idempotent on run id, so a worker killed mid-submit is harmless: the lease
// expires and another worker submits again, getting back what is already there.
import type { RunRow } from '../db/schema.js';
import { toEngineRun } from '../domain/runUpdates.js';
import { FlotillaError, errorMessage } from '../errors.js';
import type { WorkerContext } from './context.js';

/** Backoff for a retryable submit error grows with the time the run has waited: 1 s … 60 s. */
export function submitBackoffMs(run: Pick<RunRow, 'queuedAt'>, now = Date.now()): number {
  return Math.min(60_000, Math.max(1_000, Math.round((now - run.queuedAt.getTime()) / 4)));
}

export function createSubmitter(ctx: WorkerContext) {
  const { config, logger, updates, engines, workerId, activity } = ctx;

  async function submitOne(run: RunRow): Promise<void> {
    const engine = engines.get(run.engine);
    if (!engine) {
      // Claimed only runs of enabled engines, so this is a registry bug; give it back.
      await updates.release(run, workerId, new Date(Date.now() + 30_000), `engine ${run.engine} is not enabled on ${workerId}`);
      return;
    }
    const log = logger.child({ runId: run.runId, engine: run.engine });
    try {
      const result = await engine.submit(toEngineRun(run));
      if (result.status !== 'NEEDS_RETRY') activity?.emit('dispatched', run);
      await updates.submitted(run, result, workerId);
    } catch (err) {
      const reason = errorMessage(err);
      activity?.emit('engineError', run.engine, 'submit', err);
      if (err instanceof FlotillaError && err.code === 'PERMANENT_ENGINE') {
        log.warn({ reason }, 'permanent submit error');
        await updates.rejected(run, reason, workerId);
        return;
      }
      // Retryable (busy, throttled, network) or unexpected: stay QUEUED and back off.
      const delay = submitBackoffMs(run);
      log.warn({ reason, retryInMs: delay }, 'submit failed; will retry');
      await updates.release(run, workerId, new Date(Date.now() + delay), reason);
    }
  }

  // Submits in flight per engine, up to WORKER_CONCURRENCY each. A tick claims only for
  // engines with room and does not wait for its submits: one slow submit (an image pull, a
  // throttled API) no longer holds the next claim back, and engines do not wait on each
  // other. The engines' own limits (the Kubernetes QPS bucket) still pace their calls.
  const inFlight = new Map<string, Set<Promise<void>>>();
  const bound = config.workers.concurrency;
  const all = () => [...inFlight.values()].flatMap((set) => [...set]);

  function launch(run: RunRow): void {
    let set = inFlight.get(run.engine);
    if (!set) inFlight.set(run.engine, (set = new Set()));
    const p: Promise<void> = submitOne(run)
      .catch((err: unknown) => logger.error({ err, runId: run.runId }, 'submit failed unexpectedly'))
      .finally(() => set.delete(p));
    set.add(p);
  }

  async function tick(signal?: AbortSignal): Promise<boolean> {
    let more = false;
    for (const engine of engines.names()) {
      const room = bound - (inFlight.get(engine)?.size ?? 0);
      if (room <= 0) {
        more = true;
        continue;
      }
      const claimed = await updates.claim(workerId, [engine], room, config.workers.leaseMs);
      claimed.forEach(launch);
      if (claimed.length === room) more = true;
    }
    // Full: wait until a submit finishes (or the loop stops), then claim again at once.
    if (more && all().length > 0 && signal && !signal.aborted) {
      let onAbort = () => {};
      const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', (onAbort = () => resolve()), { once: true }));
      await Promise.race([...all(), aborted]);
      signal.removeEventListener('abort', onAbort);
    }
    return more;
  }

  return {
    tick,
    /** After the loop stopped: what was launched finishes (or gives its lease back). */
    async stop(): Promise<void> {
      await Promise.allSettled(all());
    },
  };
}
