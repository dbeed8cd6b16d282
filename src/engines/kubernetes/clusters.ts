// Which cluster a run goes to, and its API client: the clusters listed in the engine's
// configuration, the cluster registry (asked again once its answer is older than
// `clusterRefreshMs`), or a kubeconfig context of the run's cluster name. The watches of each
// cluster hang on what this returns (`tracker`, started by watchState.ts).
import { PermanentEngineError, RetryableEngineError, errorMessage } from '../../errors.js';
import { createClusterClient, loadKubeConfig, type ClusterClient } from './cluster.js';
import type { KubernetesClusterConfig, KubernetesEngineConfig } from './index.js';
import type { Tracker } from './tracker.js';

export interface ClusterState {
  client: ClusterClient;
  tracker?: Tracker;
  settings: KubernetesClusterConfig;
  /** When the registry last confirmed `settings` (0: never asked). */
  checkedAt: number;
}

export interface ClusterResolver {
  /** The cluster of this name: listed, registered, or a kubeconfig context of that name. */
  of(name: string): Promise<ClusterState>;
  all(): ClusterState[];
  names(): string[];
}

const sameSettings = (a: KubernetesClusterConfig, b: KubernetesClusterConfig) =>
  (a.context ?? '') === (b.context ?? '') && (a.namespace ?? '') === (b.namespace ?? '');

export function createClusterResolver(
  config: KubernetesEngineConfig,
  opts: { namespace: string; clusters: Record<string, KubernetesClusterConfig>; onCreate(state: ClusterState): void },
): ClusterResolver {
  const clusters = new Map<string, ClusterState>();
  const refreshMs = config.clusterRefreshMs ?? 30_000;
  const resolving = new Map<string, Promise<ClusterState>>();

  function makeCluster(name: string, c: KubernetesClusterConfig, checkedAt = 0): ClusterState {
    const client = createClusterClient({
      name,
      kubeconfigPath: config.kubeconfig,
      context: c.context,
      namespace: c.namespace ?? opts.namespace,
      qps: config.qps ?? 20,
      burst: config.burst ?? 30,
      requestTimeoutMs: config.requestTimeoutMs ?? 30_000,
    });
    const state: ClusterState = { client, settings: c, checkedAt };
    clusters.set(name, state);
    opts.onCreate(state);
    return state;
  }
  for (const [name, c] of Object.entries(opts.clusters)) makeCluster(name, c);

  async function resolveCluster(name: string, known: ClusterState | undefined): Promise<ClusterState> {
    if (config.lookupCluster) {
      let found: KubernetesClusterConfig | undefined;
      try {
        found = await config.lookupCluster(name);
      } catch (err) {
        // Keep using what works while the registry cannot be read.
        if (known) return known;
        throw new RetryableEngineError(`looking up Kubernetes cluster "${name}" in the registry failed: ${errorMessage(err)}`, { cause: err });
      }
      if (found && !(known && sameSettings(known.settings, found))) {
        // New, or its context or namespace changed: new clients and watches.
        if (known?.tracker) {
          const old = known.tracker;
          known.tracker = undefined;
          void old.stop();
        }
        return makeCluster(name, found, Date.now());
      }
      if (known) {
        known.checkedAt = Date.now();
        return known;
      }
    }
    let hasContext: boolean;
    try {
      hasContext = loadKubeConfig(config.kubeconfig, undefined)
        .getContexts()
        .some((c) => c.name === name);
    } catch {
      hasContext = false;
    }
    if (hasContext) return makeCluster(name, { context: name }, Date.now());
    throw new PermanentEngineError(
      `Kubernetes cluster "${name}" is not configured (known: ${[...clusters.keys()].join(', ')}) and the kubeconfig has no context of that name`,
    );
  }

  return {
    of(name) {
      const known = clusters.get(name);
      if (known && (!config.lookupCluster || Date.now() - known.checkedAt < refreshMs)) return Promise.resolve(known);
      // One registry question per name at a time, however many runs ask (a reconcile batch).
      let pending = resolving.get(name);
      if (!pending) {
        pending = resolveCluster(name, known).finally(() => resolving.delete(name));
        resolving.set(name, pending);
      }
      return pending;
    },
    all: () => [...clusters.values()],
    names: () => [...clusters.keys()],
  };
}
