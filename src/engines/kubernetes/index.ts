// The `kubernetes` engine (the classic `eks`): one batch/v1 Job per run, status pushed by one
// set of watches per cluster and pulled by one set of list calls per cluster, pod logs
// followed with a timestamp cursor, terminate = delete the Job (docs/engines.md "kubernetes").
import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import { RetryableEngineError, errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Engine, EngineEvent, EngineRun, MissingRun, StatusUpdate, SubmitResult } from '../types.js';
import { isAlreadyExists, toEngineError } from './apiErrors.js';
import { createClusterResolver, type ClusterState } from './clusters.js';
import { ATTEMPT_ANNOTATION, buildJobManifest } from './jobManifest.js';
import { followPodLog } from './logs.js';
import { createPodLogSource, newestPod } from './podLogSource.js';
import { engineEventOf, mapRunState, runIdOfPodName, stateKey, toDate, type MappedState } from './status.js';
import { createTracker, type PodEntry } from './tracker.js';

export interface KubernetesClusterConfig {
  /** Kubeconfig context; default: the kubeconfig's current context. */
  context?: string;
  /** Default: the engine's namespace. */
  namespace?: string;
}

export interface KubernetesEngineConfig {
  /** Path to a kubeconfig file (`KUBECONFIG`); absent = the pod's in-cluster service account. */
  kubeconfig?: string;
  /**
   * Clusters by the name runs use (`cluster_name`). Default: one cluster, `defaultCluster`, on
   * the current context. A run naming a cluster not listed here uses the kubeconfig context of
   * that name when there is one.
   */
  clusters?: Record<string, KubernetesClusterConfig>;
  /** Cluster for runs with an empty cluster name. Default `default`. */
  defaultCluster?: string;
  /**
   * The cluster registry (kept out of the engine: a plain function). Consulted for a name
   * before the kubeconfig-context fallback, and again for a known name once its answer is
   * older than `clusterRefreshMs`, so a registered or changed cluster is picked up without a
   * restart. Listed `clusters` keep their settings when the registry has no entry for them.
   */
  lookupCluster?: (name: string) => Promise<KubernetesClusterConfig | undefined>;
  /** How long a registry answer is trusted. Default 30 s. */
  clusterRefreshMs?: number;
  /** `FLOTILLA_K8S_NAMESPACE`, default `flotilla`. */
  namespace?: string;
  /** `FLOTILLA_K8S_SERVICE_ACCOUNT`: for runs that name none. */
  serviceAccount?: string;
  /** `FLOTILLA_K8S_TTL_SECONDS`, default 3600. */
  ttlSeconds?: number;
  /** Client-side rate limit per cluster (`FLOTILLA_K8S_QPS` / `FLOTILLA_K8S_BURST`), default 20 / 30. */
  qps?: number;
  burst?: number;
  /** How long an image pull or container config failure may last before NEEDS_RETRY. Default 60 s. */
  startFailureGraceMs?: number;
  /** Deadline of a single (non-streaming) API call. Default 30 s. */
  requestTimeoutMs?: number;
  /** Server-side timeout of each watch request. Default 300 s. */
  watchTimeoutSeconds?: number;
  /** First delay before reopening a failed watch. Default 500 ms. */
  watchRestartDelayMs?: number;
  /** First wait between looks while a pod's container has not started (logs). Default 500 ms. */
  logPollMs?: number;
}

const MAX_REMEMBERED_RUNS = 20_000;

/** A Map that forgets its oldest entries past a size, for per-run memory that must stay bounded. */
function boundedSet<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > MAX_REMEMBERED_RUNS) map.delete(map.keys().next().value as K);
}

const eventKey = (e: CoreV1Event) => e.metadata?.uid ?? `${e.involvedObject?.name}/${e.reason}/${toDate(e.firstTimestamp ?? e.eventTime)?.toISOString() ?? ''}`;

export function createKubernetesEngine(config: KubernetesEngineConfig = {}, deps: { logger?: Logger } = {}): Engine {
  const logger = deps.logger;
  const namespace = config.namespace ?? 'flotilla';
  const defaultCluster = config.defaultCluster ?? 'default';
  const ttlSeconds = config.ttlSeconds ?? 3600;
  const graceMs = config.startFailureGraceMs ?? 60_000;
  const clusterConfigs = config.clusters ?? { [defaultCluster]: {} };
  if (!clusterConfigs[defaultCluster]) {
    throw new Error(`kubernetes engine: default cluster "${defaultCluster}" is not among the configured clusters (${Object.keys(clusterConfigs).join(', ')})`);
  }
  const log = {
    info: (o: object, m: string) => logger?.info(o, m),
    warn: (o: object, m: string) => logger?.warn(o, m),
  };

  const listeners = new Set<(u: StatusUpdate) => void>();
  const lastKey = new Map<string, string>();
  const seenEvents = new Map<string, Set<string>>();
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

  const resolver = createClusterResolver(config, {
    namespace,
    clusters: clusterConfigs,
    // A cluster met while watching gets its watches at once.
    onCreate: (state) => {
      if (listeners.size) startTracker(state);
    },
  });
  const clusterOf = (run: EngineRun) => resolver.of(run.clusterName || defaultCluster);

  const namespaceOf = (run: EngineRun, cs: ClusterState) => run.namespace || cs.client.namespace;

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

  async function deleteQuietly(cs: ClusterState, name: string, ns: string): Promise<void> {
    try {
      await cs.client.deleteJob(name, ns);
    } catch (err) {
      log.warn({ runId: name, err: errorMessage(err) }, 'deleting the Job of a run to retry failed; the retry will delete it');
    }
  }

  function mapState(runId: string, job: V1Job, pod: V1Pod | undefined, podNameFallback?: string): MappedState {
    return mapRunState({ job, pod, podNameFallback: podNameFallback ?? runId, now: Date.now(), startFailureGraceMs: graceMs });
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
      if (events.length) listeners.forEach((l) => l({ runId, status: 'STOPPED', eventsOnly: true, events }));
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
    const publish = () => listeners.forEach((l) => l(update));
    if (state.terminate) void deleteQuietly(cs, runId, job.metadata?.namespace ?? cs.client.namespace).finally(publish);
    else publish();
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

  function startTracker(cs: ClusterState): void {
    if (cs.tracker || closed) return;
    cs.tracker = createTracker({
      client: cs.client,
      namespace: cs.client.namespace,
      logger: log,
      watchTimeoutSeconds: config.watchTimeoutSeconds ?? 300,
      restartDelayMs: config.watchRestartDelayMs ?? 500,
      onChange: (runId) => markDirty(cs, runId),
      onPodEvent(runId, event) {
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
      },
    });
  }

  async function stopTrackers(): Promise<void> {
    const stops = resolver.all().map(async (cs) => {
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
        if (state.terminate) await deleteQuietly(cs, run.runId, ns);
        const fresh = freshEvents(run.runId, eventsByRun.get(run.runId) ?? []);
        return { runId: run.runId, ...state.update, ...(fresh.length ? { events: fresh } : {}) };
      }),
    );
  }

  return {
    name: 'kubernetes',

    async submit(run: EngineRun): Promise<SubmitResult> {
      const cs = await clusterOf(run);
      const ns = cs.client.namespace;
      const manifest = buildJobManifest(run, { namespace: ns, defaultServiceAccount: config.serviceAccount, ttlSecondsAfterFinished: ttlSeconds });
      try {
        const job = await cs.client.createJob(manifest, ns);
        return { engineRef: job.metadata?.name ?? run.runId, status: 'PENDING', namespace: ns };
      } catch (err) {
        if (!isAlreadyExists(err)) throw toEngineError(err, `creating Job ${run.runId}`);
      }
      // The Job exists: this run was submitted before (a worker died mid-submit) — or an
      // earlier attempt's Job is still there, which must go before this attempt can start.
      let existing: V1Job | undefined;
      try {
        existing = await cs.client.readJob(run.runId, ns);
      } catch (err) {
        throw toEngineError(err, `reading Job ${run.runId}`);
      }
      if (!existing || existing.metadata?.deletionTimestamp) {
        throw new RetryableEngineError(`Job ${run.runId} of an earlier attempt is still being deleted`);
      }
      const attempt = Number(existing.metadata?.annotations?.[ATTEMPT_ANNOTATION] ?? run.attempt);
      if (attempt < run.attempt) {
        await deleteQuietly(cs, run.runId, ns);
        throw new RetryableEngineError(`Job ${run.runId} of attempt ${attempt} is being deleted before attempt ${run.attempt}`);
      }
      return { engineRef: existing.metadata?.name ?? run.runId, status: 'PENDING', namespace: ns };
    },

    async reconcile(runs: EngineRun[]): Promise<(StatusUpdate | MissingRun)[]> {
      const groups = new Map<string, { cs: ClusterState; ns: string; runs: EngineRun[] }>();
      for (const run of runs) {
        try {
          const cs = await clusterOf(run);
          const ns = namespaceOf(run, cs);
          const key = `${cs.client.name}\0${ns}`;
          const group = groups.get(key) ?? { cs, ns, runs: [] };
          group.runs.push(run);
          groups.set(key, group);
        } catch (err) {
          log.warn({ runId: run.runId, err: errorMessage(err) }, 'run names an unknown cluster; not reconciled');
        }
      }
      const results = await Promise.all(
        [...groups.values()].map(async ({ cs, ns, runs: list }) => {
          try {
            return await reconcileNamespace(cs, ns, list);
          } catch (err) {
            log.warn({ cluster: cs.client.name, namespace: ns, err: errorMessage(err) }, 'listing Jobs and pods failed; these runs are reconciled next time');
            return [];
          }
        }),
      );
      return results.flat();
    },

    watch(onUpdate) {
      listeners.add(onUpdate);
      for (const cs of resolver.all()) startTracker(cs);
      return async () => {
        listeners.delete(onUpdate);
        if (listeners.size === 0) await stopTrackers();
      };
    },

    async *logs(run, cursor, signal) {
      const cs = await clusterOf(run);
      yield* followPodLog(createPodLogSource(run.runId, namespaceOf(run, cs), cs.client, cs.tracker), cursor, signal, { pollMs: config.logPollMs ?? 500 });
    },

    async terminate(run: EngineRun): Promise<void> {
      let cs: ClusterState;
      try {
        cs = await clusterOf(run);
      } catch (err) {
        if (err instanceof RetryableEngineError) throw err; // the registry could not be read
        return; // nothing of this run can exist on a cluster we do not know
      }
      try {
        await cs.client.deleteJob(run.engineRef ?? run.runId, namespaceOf(run, cs));
      } catch (err) {
        throw toEngineError(err, `deleting Job ${run.runId}`);
      }
    },

    async describe() {
      return {
        clusters: resolver.names(),
        capabilities: ['gpu', 'spot', 'arch', 'ephemeral-storage', 'service-account', 'active-deadline', 'events'],
      };
    },

    async close() {
      closed = true;
      listeners.clear();
      await stopTrackers();
    },
  };
}
