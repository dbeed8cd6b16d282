// The engine-facing side of runs: every status move (domain/lifecycle.ts) is carried out
// here, and published here after its commit, whoever asked for it (an API verb in
// runService.ts, a worker loop, an engine's pushed update). Workers come through these verbs,
// never the store, for anything that changes a run's status.
import { createHash } from 'node:crypto';
import type { EngineName } from '../config.js';
import type { Db } from '../db/client.js';
import type { RunRow } from '../db/schema.js';
import type { EngineEvent, EngineRun, StatusUpdate, SubmitResult } from '../engines/types.js';
import type { EngineRegistry } from '../engines/registry.js';
import { errorMessage } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { runSnapshot } from '../events/topics.js';
import type { Logger } from '../logger.js';
import * as store from '../store/runs.js';
import { appendRunEvents } from '../store/runEvents.js';
import * as stopIntents from '../store/stopIntents.js';
import {
  MOVES,
  STOP_INTENT_MOVES,
  giveUpFacts,
  lostFacts,
  rejectedFacts,
  reportedMove,
  reportedPath,
  retryFacts,
  statusUpdateFacts,
  stopFacts,
  submitResultFacts,
  timeoutFacts,
  timeoutReason,
  type MoveName,
  type RunStatus,
} from './lifecycle.js';
import type { Activity } from './activity.js';
import { createBatcher } from '../store/batcher.js';

export interface RunUpdatesDeps {
  db: Db;
  bus: EventBus;
  logger: Logger;
  engines?: EngineRegistry;
  /** Told of STOPPED runs and failed terminates; absent: nobody listens. */
  activity?: Activity;
}

export function toEngineRun(row: RunRow): EngineRun {
  return {
    runId: row.runId,
    definitionId: row.definitionId,
    definitionVersion: row.definitionVersion,
    alias: row.alias,
    groupName: row.groupName,
    image: row.image,
    command: row.command,
    env: row.env,
    cpu: row.cpu,
    memory: row.memory,
    cpuLimit: row.cpuLimit,
    memoryLimit: row.memoryLimit,
    gpu: row.gpu,
    ephemeralStorage: row.ephemeralStorage,
    clusterName: row.clusterName,
    owner: row.owner,
    labels: row.labels,
    nodeLifecycle: row.nodeLifecycle,
    activeDeadlineSeconds: row.activeDeadlineSeconds,
    arch: row.arch,
    serviceAccount: row.serviceAccount,
    status: row.status,
    attempt: row.attempt,
    engineRef: row.engineRef,
    podName: row.podName,
    namespace: row.namespace,
    queuedAt: row.queuedAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

/** Whether a stopped run may have something on its engine to terminate. */
function mayHaveEngineObject(before: Pick<RunRow, 'engineRef' | 'status'>): boolean {
  return Boolean(before.engineRef) || before.status === 'PENDING' || before.status === 'RUNNING';
}

export function createRunUpdates(deps: RunUpdatesDeps) {
  const { db, bus, logger } = deps;
  // Moves wait for the statement in flight and then go together: one round trip for the many
  // submitted/running/finished moves a busy worker makes at once (a run at most once a batch).
  const transitions = createBatcher({ write: (requests: store.TransitionRequest[]) => store.transitionRuns(db, requests), key: (r) => r.runId });

  async function publish(run: RunRow): Promise<void> {
    const event = { runId: run.runId, status: run.status, run: runSnapshot(run) };
    await Promise.all([bus.publish('run.status', event, run.runId), bus.publish('runs.changed', event)]);
  }

  /**
   * Carries out one move: the conditional UPDATE and its run_events row in one statement
   * (batched with the other moves of the moment), then the events. Undefined when the race was lost (the run was not in a status the move
   * starts from, or no longer held by `claimedBy`, or on another attempt).
   */
  async function move(
    name: MoveName,
    runId: string,
    to: RunStatus,
    facts: store.RunFacts,
    reason: string | null,
    opts: { claimedBy?: string; attempt?: number; detail?: Record<string, unknown> } = {},
  ): Promise<RunRow | undefined> {
    const rule = MOVES[name];
    if (!rule.to.includes(to)) throw new Error(`move ${name} cannot lead to ${to}`);
    const result = await transitions.add({
      runId,
      to,
      facts,
      event: { reason, detail: opts.detail },
      from: rule.from,
      claimedBy: opts.claimedBy,
      attempt: opts.attempt,
    });
    if (!result) return undefined;
    if (result.run.status === 'STOPPED') deps.activity?.emit('stopped', result.run);
    await announce(name, result.run);
    return result.run;
  }

  /** The events of a move, after its commit: the run's new state, and a wake-up for submitters. */
  async function announce(name: MoveName, run: RunRow): Promise<void> {
    await Promise.all([publish(run), name === 'queue' || name === 'retry' ? bus.publish('runs.queued', { runId: run.runId }) : undefined]);
  }

  async function recordEngineEvents(runId: string, events: EngineEvent[] | undefined): Promise<void> {
    if (!events?.length) return;
    await appendRunEvents(
      db,
      events.map((e) => ({
        runId,
        kind: 'engine',
        at: e.at,
        reason: e.reason,
        detail: { event_type: e.eventType, message: e.message, source_object: e.sourceObject ?? null },
        // An engine re-reports what it saw before a worker restart (its memory of reported
        // events is per process); the same event gives the same key and is stored once.
        dedupeKey: createHash('md5')
          .update([e.at.toISOString(), e.eventType, e.reason, e.sourceObject ?? '', e.message].join('\n'))
          .digest('hex'),
      })),
    );
  }

  /**
   * Asks the run's engine to terminate it. True when the engine took the request; a failure
   * is logged and put on the timeline. A stop intent is confirmed only by carryOutStops,
   * once the engine says the job is gone.
   */
  async function terminateOnEngine(run: RunRow, reason: string): Promise<boolean> {
    const engine = deps.engines?.get(run.engine);
    if (!engine) {
      logger.warn({ runId: run.runId, engine: run.engine }, 'cannot terminate: engine not enabled in this process');
      await appendRunEvents(db, [
        { runId: run.runId, kind: 'warning', reason: `engine ${run.engine} is not enabled in this process; the job may still be running there` },
      ]);
      return false;
    }
    try {
      await engine.terminate(toEngineRun(run), reason);
      return true;
    } catch (err) {
      logger.error({ err, runId: run.runId }, 'terminate failed');
      deps.activity?.emit('engineError', run.engine, 'terminate', err);
      await appendRunEvents(db, [{ runId: run.runId, kind: 'warning', reason: `terminate failed: ${errorMessage(err)}` }]);
      return false;
    }
  }

  /** Whether the engine says the run's job no longer runs (gone, or ended). */
  async function goneOnEngine(run: RunRow): Promise<boolean> {
    const engine = deps.engines?.get(run.engine);
    if (!engine) return false;
    const [update] = await engine.reconcile([toEngineRun(run)]);
    return !update || 'missing' in update || (update.status !== 'PENDING' && update.status !== 'RUNNING');
  }

  /**
   * One try at a stop intent: terminate (again: engines take a repeated terminate), then ask
   * the engine whether the job is gone. Confirmed, the intent is done and the timeline says
   * so; otherwise the lease is given back and the next sweep pass tries again.
   */
  async function carryOutStop(run: RunRow, workerId: string): Promise<boolean> {
    const confirmed = (await terminateOnEngine(run, run.exitReason ?? 'stopped')) && (await goneOnEngine(run).catch(() => false));
    if (confirmed) {
      await stopIntents.confirmStop(db, run.runId, { reason: `stop confirmed by ${run.engine}`, detail: { engine: run.engine, engine_ref: run.engineRef } });
    } else {
      await store.releaseClaims(db, workerId, [run.runId]);
    }
    return confirmed;
  }

  /** Moves a run to STOPPED with a stop intent, then tries to carry the intent out at once. */
  async function stopWith(name: Extract<MoveName, 'stop' | 'timeOut'>, before: RunRow, facts: store.RunFacts, reason: string, detail: Record<string, unknown>) {
    if (!STOP_INTENT_MOVES.includes(name)) throw new Error(`${name} leaves no stop intent`);
    const stopped = await move(name, before.runId, 'STOPPED', facts, reason, { detail });
    // A QUEUED run has no engine object yet; if a submitter is launching it right now, the
    // submitter loses the race, sees the intent and terminates what it launched.
    if (stopped) {
      if (mayHaveEngineObject(before)) await terminateOnEngine(stopped, reason);
      // Nothing to terminate: the intent is done, and the timeline shows only the stop itself.
      else await stopIntents.confirmStop(db, stopped.runId, null);
    }
    return stopped;
  }

  return {
    publish,
    move,
    /** queue: announces a run execute inserted (the insert is the move; see runService.execute). */
    queued: (run: RunRow) => announce('queue', run),
    recordEngineEvents,
    terminateOnEngine,

    /** A move picked by its target status, as an engine or the job reports it. */
    transition(
      runId: string,
      to: RunStatus,
      facts: store.RunFacts,
      reason: string | null,
      opts: { claimedBy?: string; attempt?: number; detail?: Record<string, unknown> } = {},
    ) {
      return move(reportedMove(to), runId, to, facts, reason, opts);
    },

    /** stop: a user's stop. The intent is committed with the status. */
    stop(run: RunRow, reason: string, by: string | null, actor: string | null = null) {
      return stopWith('stop', run, stopFacts(reason), reason, { action: 'stop', by, actor });
    },

    /** timeOut: a RUNNING run past its active deadline. */
    timeOut(run: RunRow) {
      const reason = timeoutReason(run.activeDeadlineSeconds ?? 0);
      return stopWith('timeOut', run, timeoutFacts(reason), reason, { action: 'timeout' });
    },

    /** retry: NEEDS_RETRY → QUEUED for the next attempt. */
    retry(run: RunRow, reason: string) {
      return move('retry', run.runId, 'QUEUED', retryFacts(run), `retry ${run.attempt + 1} of ${run.maxAttempts}: ${reason}`);
    },

    /** giveUp: NEEDS_RETRY → STOPPED when out of attempts. */
    giveUp(run: RunRow, reason: string) {
      return move('giveUp', run.runId, 'STOPPED', giveUpFacts(reason), `gave up after ${run.attempt} attempts: ${reason}`);
    },

    /** lose: the backend object has been missing past the grace period. */
    lose(run: RunRow) {
      const facts = lostFacts();
      return move('lose', run.runId, 'STOPPED', facts, facts.exitReason ?? null);
    },

    /** Notes that reconcile could not find the backend object (the grace period starts). */
    async markMissing(run: RunRow, now = new Date()): Promise<void> {
      await store.updateRunFacts(db, run.runId, { missingSince: now });
    },

    /** submit: records what the engine said to a submit, for the claim `workerId` holds. */
    async submitted(run: RunRow, result: SubmitResult, workerId: string): Promise<RunRow | undefined> {
      const moved = await move('submit', run.runId, result.status, submitResultFacts(result), result.exitReason ?? `submitted to ${run.engine}`, {
        claimedBy: workerId,
        detail: { engine_ref: result.engineRef },
      });
      await recordEngineEvents(run.runId, result.events);
      if (moved) return moved;
      // Lost the race: stopped by a user, or the engine already reported the end. What
      // submit learned (object name, pod, namespace) is kept either way.
      await store.fillMissingEngineFacts(db, run.runId, run.attempt, {
        engineRef: result.engineRef,
        podName: result.podName ?? null,
        namespace: result.namespace ?? null,
        instanceId: result.instance?.instanceId ?? null,
        instanceDnsName: result.instance?.dnsName ?? null,
      });
      const now = await store.getRun(db, run.runId);
      if (now?.status === 'STOPPED' && now.stopRequestedAt) {
        // Stopped while being submitted: terminate what was launched (the stop loop would
        // too, one sweep later). Stopped because the engine said the command ended: its
        // backend object still holds the logs, so it is left for the collector to release.
        logger.child({ runId: run.runId, engine: run.engine }).info('run was stopped while being submitted; terminating what was launched');
        await terminateOnEngine({ ...now, engineRef: now.engineRef ?? result.engineRef }, now.exitReason ?? 'stopped');
      }
      return undefined;
    },

    /** submit → STOPPED: the engine refused the run for good. */
    rejected(run: RunRow, reason: string, workerId: string) {
      return move('submit', run.runId, 'STOPPED', rejectedFacts(reason), reason, { claimedBy: workerId, detail: { source: 'submit' } });
    },

    /** claim: leases up to `limit` due QUEUED runs of `engineNames` to `workerId`. */
    claim(workerId: string, engineNames: readonly EngineName[], limit: number, leaseMs: number): Promise<RunRow[]> {
      return store.claimDueRuns(db, workerId, engineNames, limit, leaseMs);
    },

    /** Gives a claimed QUEUED run back, to be tried again at `nextAttemptAt` (claim, undone). */
    async release(run: RunRow, workerId: string, nextAttemptAt: Date, lastError: string | null): Promise<void> {
      await store.releaseQueuedClaim(db, run.runId, workerId, nextAttemptAt, lastError);
    },

    /** Applies what an engine says about a run (push or reconcile). */
    async applyUpdate(run: RunRow, update: StatusUpdate): Promise<RunRow | undefined> {
      const facts = statusUpdateFacts(run, update);
      await recordEngineEvents(run.runId, update.events);
      // The update describes the attempt `run` was read on. If the run has been retried
      // since (a reconcile batch read before a retry), it is about the old backend object
      // and must not move or change the new attempt.
      const attempt = run.attempt;
      if (update.status === run.status) {
        const changed = Object.entries(facts).some(([k, v]) => k !== 'missingSince' && (run as Record<string, unknown>)[k] !== v);
        if (!changed && run.missingSince === null) return run;
        const row = await store.updateRunFacts(db, run.runId, facts, { status: update.status, attempt });
        if (row && changed) await publish(row);
        return row;
      }
      let current = run;
      for (const to of reportedPath(run.status, update).slice(0, -1)) {
        const step = await move(reportedMove(to), run.runId, to, statusUpdateFacts(current, { ...update, status: to }), null, {
          detail: { source: 'engine' },
          attempt,
        });
        if (step) current = step;
      }
      return move(reportedMove(update.status), run.runId, update.status, statusUpdateFacts(current, update), update.exitReason ?? null, {
        detail: { source: 'engine' },
        attempt,
      });
    },

    /**
     * Carries out stop intents not yet confirmed (the instance that stopped the run died, the
     * engine failed, or the job is still shutting down): each is terminated again until the
     * engine says it is gone. Returns how many were leased.
     */
    async carryOutStops(workerId: string, engineNames: readonly EngineName[], limit: number, leaseMs: number): Promise<number> {
      const batch = await stopIntents.claimStopIntents(db, workerId, engineNames, limit, leaseMs);
      await Promise.all(batch.map((run) => carryOutStop(run, workerId)));
      return batch.length;
    },
  };
}

export type RunUpdates = ReturnType<typeof createRunUpdates>;
