// The `kubernetes` engine (the classic `eks`): one batch/v1 Job per run, status pushed by one
// set of watches per cluster and pulled by one set of list calls per cluster, pod logs
// followed with a timestamp cursor, terminate = delete the Job (docs/engines.md "kubernetes").
// This facade holds the engine's verbs; which cluster a run goes to is clusters.ts, what the
// engine remembers between watch events and reconciles is watchState.ts.
import type { V1Job } from '@kubernetes/client-node';
import { RetryableEngineError, errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Engine, EngineRun, MissingRun, StatusUpdate, SubmitResult } from '../types.js';
import { isAlreadyExists, toEngineError } from './apiErrors.js';
import { createClusterResolver, type ClusterState } from './clusters.js';
import { ATTEMPT_ANNOTATION, buildJobManifest } from './jobManifest.js';
import { followPodLog } from './logs.js';
import { createPodLogSource } from './podLogSource.js';
import { createWatchState } from './watchState.js';

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

export function createKubernetesEngine(config: KubernetesEngineConfig = {}, deps: { logger?: Logger } = {}): Engine {
  const logger = deps.logger;
  const namespace = config.namespace ?? 'flotilla';
  const defaultCluster = config.defaultCluster ?? 'default';
  const ttlSeconds = config.ttlSeconds ?? 3600;
  const clusterConfigs = config.clusters ?? { [defaultCluster]: {} };
  if (!clusterConfigs[defaultCluster]) {
    throw new Error(`kubernetes engine: default cluster "${defaultCluster}" is not among the configured clusters (${Object.keys(clusterConfigs).join(', ')})`);
  }
  const log = {
    info: (o: object, m: string) => logger?.info(o, m),
    warn: (o: object, m: string) => logger?.warn(o, m),
  };

  const listeners = new Set<(u: StatusUpdate) => void>();

  async function deleteQuietly(cs: ClusterState, name: string, ns: string): Promise<void> {
    try {
      await cs.client.deleteJob(name, ns);
    } catch (err) {
      log.warn({ runId: name, err: errorMessage(err) }, 'deleting the Job of a run to retry failed; the retry will delete it');
    }
  }

  const state = createWatchState({
    startFailureGraceMs: config.startFailureGraceMs ?? 60_000,
    watchTimeoutSeconds: config.watchTimeoutSeconds ?? 300,
    restartDelayMs: config.watchRestartDelayMs ?? 500,
    log,
    deleteJob: deleteQuietly,
    publish: (update) => listeners.forEach((l) => l(update)),
  });

  const resolver = createClusterResolver(config, {
    namespace,
    clusters: clusterConfigs,
    // A cluster met while watching gets its watches at once.
    onCreate: (cs) => {
      if (listeners.size) state.watchCluster(cs);
    },
  });
  const clusterOf = (run: EngineRun) => resolver.of(run.clusterName || defaultCluster);

  const namespaceOf = (run: EngineRun, cs: ClusterState) => run.namespace || cs.client.namespace;

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
            return await state.reconcileNamespace(cs, ns, list);
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
      for (const cs of resolver.all()) state.watchCluster(cs);
      return async () => {
        listeners.delete(onUpdate);
        if (listeners.size === 0) await state.stopWatching(resolver.all());
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
      listeners.clear();
      await state.close(resolver.all());
    },
  };
}
