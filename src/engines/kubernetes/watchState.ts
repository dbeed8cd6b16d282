// What the kubernetes engine remembers about each run between watch events and reconciles,
// and how watch changes become status updates: changes are coalesced per run until the next
// turn of the event loop, an unchanged state is not reported again, and each pod event is
// reported once, by whichever of watch or reconcile sees it first. The engine facade
// (index.ts) owns the clusters (clusters.ts), the listeners and the API verbs.
import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import type { EngineEvent, EngineRun, MissingRun, StatusUpdate } from '../types.js';
import type { ClusterState } from './clusters.js';
import { newestPod } from './podLogSource.js';
import { engineEventOf, mapRunState, runIdOfPodName, stateKey, toDate, type MappedState } from './status.js';
import { createTracker, type PodEntry, type TrackerOptions } from './tracker.js';

const MAX_REMEMBERED_RUNS = 20_000;

/** A Map that forgets its oldest entries past a size, for per-run memory that must stay bounded. */
function boundedSet<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > MAX_REMEMBERED_RUNS) map.delete(map.keys().next().value as K);
}

const eventKey = (e: CoreV1Event) => e.metadata?.uid ?? `${e.involvedObject?.name}/${e.reason}/${toDate(e.firstTimestamp ?? e.eventTime)?.toISOString() ?? ''}`;

export interface WatchStateOptions {
  /** How long an image pull or container config failure may last before NEEDS_RETRY. */
  startFailureGraceMs: number;
  watchTimeoutSeconds: number;
  restartDelayMs: number;
  log: TrackerOptions['logger'];
  /** Deletes the Job of a run that is over on the cluster but must run again (best effort). */
  deleteJob(cs: ClusterState, runId: string, namespace: string): Promise<void>;
  /** Hands an update to the engine's watchers. */
  publish(update: StatusUpdate): void;
}

export interface WatchState {
  /** Starts the watches of a cluster, once; their changes are published as updates. */
  watchCluster(cs: ClusterState): void;
  /** Stops the watches of these clusters (they start again on the next `watchCluster`). */
  stopWatching(clusters: ClusterState[]): Promise<void>;
  /** Stops them for good: no cluster is watched after this. */
  close(clusters: ClusterState[]): Promise<void>;
  /** The state of these runs of one namespace, from one list call per kind. */
  reconcileNamespace(cs: ClusterState, namespace: string, runs: EngineRun[]): Promise<(StatusUpdate | MissingRun)[]>;
}

export function createWatchState(opts: WatchStateOptions): WatchState {
  const { log, publish } = opts;
  /** The last state reported per run (stateKey), so an unchanged run is not reported again. */
  const lastKey = new Map<string, string>();
  const seenEvents = new Map<string, Set<string>>();
  /** Pod events not reported yet: those of a Job not seen yet wait for it. */
  const pendingEvents = new Map<string, CoreV1Event[]>();
  /** Runs whose Job this process saw and then saw deleted: their late pod events are reported alone. */
  const goneJobs = new Map<string, true>();
  /** The newest pod each run's events name: the pod name to report once the pod itself is gone. */
  const podNames = new Map<string, { name: string; at: number }>();
  const rechecks = new Map<string, NodeJS.Timeout>();
  // Changes are coalesced per run until the next turn of the event loop, so a burst (a fresh
  // list, a pod's first events) becomes one update per run.
  const dirty = new Map<string, ClusterState>();
  let flushScheduled = false;
  let closed = false;

  /** Events not reported before for this run (watch and reconcile share the memory). */
  function freshEvents(runId: string, events: CoreV1Event[]): EngineEvent[] {
    if (!events.length) return [];
    const seen = seenEvents.get(runId) ?? new Set<string>();
    const out: EngineEvent[] = [];
    for (const e of events) {
      const key = eventKey(e);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(engineEventOf(e));
    }
    boundedSet(seenEvents, runId, seen);
    return out.sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  function mapState(runId: string, job: V1Job, pod: V1Pod | undefined, podNameFallback?: string): MappedState {
    return mapRunState({ job, pod, podNameFallback: podNameFallback ?? runId, now: Date.now(), startFailureGraceMs: opts.startFailureGraceMs });
  }

  // ---- push: watches ----

  function recheck(cs: ClusterState, runId: string, at: number): void {
    if (rechecks.has(runId)) return;
    const timer = setTimeout(
      () => {
        rechecks.delete(runId);
        emit(cs, runId);
      },
      Math.max(0, at - Date.now()) + 10,
    );
    timer.unref();
    rechecks.set(runId, timer);
  }

  function emit(cs: ClusterState, runId: string): void {
    const job = cs.tracker?.job(runId);
    if (!job) {
      if (lastKey.delete(runId)) boundedSet(goneJobs, runId, true);
      clearTimeout(rechecks.get(runId));
      rechecks.delete(runId);
      // The Job is gone (a retry or the end deleted it), but its pod's events can come in after
      // it: the event watch lags the Job watch under load. They are reported on their own, as
      // events only; the run's status is no longer this Job's to say.
      if (!goneJobs.has(runId)) return;
      const events = freshEvents(runId, pendingEvents.get(runId) ?? []);
      pendingEvents.delete(runId);
      if (events.length) publish({ runId, status: 'STOPPED', eventsOnly: true, events });
      return;
    }
    goneJobs.delete(runId);
    const pod = cs.tracker?.pod(runId)?.pod;
    // Right after start-up (a restarted worker) a finished Job's pod may be gone already; its
    // name is then known only from its events, whose watch may not have listed yet.
    if (!pod && !podNames.has(runId) && !cs.tracker?.synced()) return recheck(cs, runId, Date.now() + 100);
    const state = mapState(runId, job, pod, podNames.get(runId)?.name);
    const events = freshEvents(runId, pendingEvents.get(runId) ?? []);
    pendingEvents.delete(runId);
    // A start failure inside its grace period changes nothing visible yet; nothing may change
    // on the cluster either, so look again when the grace period ends.
    if (state.recheckAt !== undefined) recheck(cs, runId, state.recheckAt);
    const key = stateKey(state);
    if (key === lastKey.get(runId) && events.length === 0) return;
    boundedSet(lastKey, runId, key);
    const update: StatusUpdate = { runId, ...state.update, ...(events.length ? { events } : {}) };
    if (state.terminate) void opts.deleteJob(cs, runId, job.metadata?.namespace ?? cs.client.namespace).finally(() => publish(update));
    else publish(update);
  }

  function markDirty(cs: ClusterState, runId: string): void {
    dirty.set(runId, cs);
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      const batch = [...dirty];
      dirty.clear();
      for (const [id, state] of batch) emit(state, id);
    });
  }

  function onPodEvent(cs: ClusterState, runId: string, event: CoreV1Event): void {
    const podName = event.involvedObject?.name;
    const at = toDate(event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp)?.getTime() ?? 0;
    if (podName && at >= (podNames.get(runId)?.at ?? -1)) boundedSet(podNames, runId, { name: podName, at });
    if (seenEvents.get(runId)?.has(eventKey(event))) return;
    const list = pendingEvents.get(runId) ?? [];
    list.push(event);
    boundedSet(pendingEvents, runId, list);
    // Events of a pod whose Job is not known yet wait for it; those of a Job seen and
    // deleted since are reported at once.
    if (cs.tracker?.job(runId) || goneJobs.has(runId)) markDirty(cs, runId);
  }

  async function stopWatching(clusters: ClusterState[]): Promise<void> {
    const stops = clusters.map(async (cs) => {
      const t = cs.tracker;
      cs.tracker = undefined;
      await t?.stop();
    });
    for (const timer of rechecks.values()) clearTimeout(timer);
    rechecks.clear();
    await Promise.allSettled(stops);
  }

  // ---- pull: reconcile ----

  async function reconcileNamespace(cs: ClusterState, ns: string, runs: EngineRun[]): Promise<(StatusUpdate | MissingRun)[]> {
    // One list per kind for the whole batch, never one call per run.
    const [jobs, pods, events] = await Promise.all([cs.client.listJobs(ns), cs.client.listPods(ns), cs.client.listPodEvents(ns)]);
    const jobByRun = new Map(jobs.items.map((j) => [j.metadata?.name ?? '', j]));
    const podsByRun = new Map<string, V1Pod[]>();
    for (const pod of pods.items) {
      const runId = pod.metadata?.labels?.['job-name'] ?? runIdOfPodName(pod.metadata?.name ?? '');
      podsByRun.set(runId, [...(podsByRun.get(runId) ?? []), pod]);
    }
    const eventsByRun = new Map<string, CoreV1Event[]>();
    for (const e of events.items) {
      const runId = runIdOfPodName(e.involvedObject?.name ?? '');
      eventsByRun.set(runId, [...(eventsByRun.get(runId) ?? []), e]);
    }
    return Promise.all(
      runs.map(async (run): Promise<StatusUpdate | MissingRun> => {
        const job = jobByRun.get(run.runId);
        if (!job) return { runId: run.runId, missing: true };
        // A pod deleted since (node lost, evicted and collected) keeps its last state in the watch cache.
        const cached: PodEntry | undefined = cs.tracker?.job(run.runId)?.metadata?.uid === job.metadata?.uid ? cs.tracker?.pod(run.runId) : undefined;
        const pod = newestPod(podsByRun.get(run.runId) ?? [], job) ?? cached?.pod;
        const state = mapState(run.runId, job, pod, run.podName ?? undefined);
        if (state.terminate) await opts.deleteJob(cs, run.runId, ns);
        const fresh = freshEvents(run.runId, eventsByRun.get(run.runId) ?? []);
        return { runId: run.runId, ...state.update, ...(fresh.length ? { events: fresh } : {}) };
      }),
    );
  }

  return {
    watchCluster(cs) {
      if (cs.tracker || closed) return;
      cs.tracker = createTracker({
        client: cs.client,
        namespace: cs.client.namespace,
        logger: log,
        watchTimeoutSeconds: opts.watchTimeoutSeconds,
        restartDelayMs: opts.restartDelayMs,
        onChange: (runId) => markDirty(cs, runId),
        onPodEvent: (runId, event) => onPodEvent(cs, runId, event),
      });
    },
    stopWatching,
    async close(clusters) {
      closed = true;
      await stopWatching(clusters);
    },
    reconcileNamespace,
  };
}
