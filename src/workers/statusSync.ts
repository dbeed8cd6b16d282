// Keeps PENDING/RUNNING runs in sync with their engines: pushed updates (watch) applied as
// they come, and a reconcile pass over leased batches as the safety net.
import type { EngineName } from '../config.js';
import type { RunRow } from '../db/schema.js';
import { createBatcher } from '../store/batcher.js';
import { MISSING_GRACE_MS } from '../domain/lifecycle.js';
import { toEngineRun } from '../domain/runUpdates.js';
import type { StatusUpdate } from '../engines/types.js';
import * as store from '../store/runs.js';
import type { WorkerContext } from './context.js';

const BATCH = 500;

export function createStatusSync(ctx: WorkerContext) {
  const { db, logger, updates, engines, workerId, config } = ctx;

  // Pushed updates arrive in bursts (every run a busy worker launched reports running, then
  // its end): the runs they are about are read together, one query for the burst.
  const reads = createBatcher({
    write: async (ids: string[]) => {
      const byId = new Map((await store.getRunsByIds(db, ids)).map((r) => [r.runId, r]));
      return ids.map((id) => byId.get(id));
    },
  });

  async function applyPushed(update: StatusUpdate): Promise<void> {
    const run = await reads.add(update.runId);
    logger.debug({ runId: update.runId, status: update.status, current: run?.status }, 'pushed update');
    // Updates for runs we do not know (another Flotilla's, or deleted) are ignored.
    if (!run) return;
    // A stopped run does not move, but its engine events still belong on its timeline: an
    // event watch may lag the status watch (Kubernetes pod events after the Job completed).
    if (run.status === 'STOPPED') return updates.recordEngineEvents(run.runId, update.events);
    // Pushes are at-least-once and unordered (SQS, EventBridge): a late one about an earlier
    // attempt's backend object must not move a retried run. Until the new attempt's object is
    // recorded, which object a push is about cannot be told; the submit result and reconcile cover it.
    if (update.engineRef && run.engineRef && update.engineRef !== run.engineRef) return;
    if (update.engineRef && !run.engineRef && run.attempt > 1) return;
    // Events of a backend object that is gone (an attempt's pod events that came in after the
    // retry deleted its Job) belong on the timeline but say nothing about the run's status now.
    if (update.eventsOnly) return updates.recordEngineEvents(run.runId, update.events);
    await updates.applyUpdate(run, update);
  }

  // A watch pushes a run's updates in order; applied concurrently they could land out of
  // order (a run's pod events stored Pulled before Scheduled). One chain per run keeps it.
  const applying = new Map<string, Promise<void>>();
  function enqueue(update: StatusUpdate): void {
    const next = (applying.get(update.runId) ?? Promise.resolve())
      .then(() => applyPushed(update))
      .catch((err) => logger.error({ err, runId: update.runId }, 'applying pushed update failed'))
      .finally(() => {
        if (applying.get(update.runId) === next) applying.delete(update.runId);
      });
    applying.set(update.runId, next);
  }

  const stopWatches = engines.all().flatMap((engine) => (engine.watch ? [engine.watch(enqueue)] : []));

  async function reconcileBatch(batch: RunRow[]): Promise<void> {
    const byEngine = new Map<EngineName, RunRow[]>();
    for (const run of batch) byEngine.set(run.engine, [...(byEngine.get(run.engine) ?? []), run]);
    for (const [name, list] of byEngine) {
      const engine = engines.get(name);
      if (!engine) continue;
      const byId = new Map(list.map((r) => [r.runId, r]));
      const reported = await engine.reconcile(list.map(toEngineRun)).catch((err: unknown) => {
        ctx.activity?.emit('engineError', name, 'reconcile', err);
        throw err;
      });
      for (const u of reported) {
        const run = byId.get(u.runId);
        if (!run) continue;
        try {
          if ('missing' in u) await handleMissing(run);
          else await updates.applyUpdate(run, u);
        } catch (err) {
          logger.error({ err, runId: run.runId }, 'applying reconciled update failed');
        }
      }
    }
  }

  async function handleMissing(run: RunRow): Promise<void> {
    const now = new Date();
    if (!run.missingSince) {
      await updates.markMissing(run, now);
      return;
    }
    if (now.getTime() - run.missingSince.getTime() < MISSING_GRACE_MS) return;
    await updates.lose(run);
  }

  async function tick(): Promise<boolean> {
    const seen: string[] = [];
    for (;;) {
      const batch = await store.claimActiveRuns(db, workerId, engines.names(), BATCH, config.workers.leaseMs, seen);
      if (batch.length === 0) break;
      seen.push(...batch.map((r) => r.runId));
      try {
        await reconcileBatch(batch);
      } finally {
        await store.releaseClaims(
          db,
          workerId,
          batch.map((r) => r.runId),
        );
      }
      if (batch.length < BATCH) break;
    }
    return false;
  }

  return {
    tick,
    async stop() {
      await Promise.allSettled(stopWatches.map((s) => s()));
      // Updates already pushed are written before the database goes away.
      await Promise.allSettled([...applying.values()]);
    },
  };
}
