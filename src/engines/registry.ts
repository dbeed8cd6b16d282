// Builds the enabled engines from the process config. This is the only place that maps
// Config sections onto engine configs, so engines never see process.env.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalEngine, type Config, type EngineName } from '../config.js';
import type { Logger } from '../logger.js';
import type { Engine } from './types.js';

/** A cluster registry entry as engines need it (the clusters table, without the DB). */
export interface RegisteredCluster {
  engine: string;
  namespace: string | null;
  config: Record<string, unknown>;
}

/** What the composition root gives the engines besides the Config. */
export interface EngineDeps {
  /** The cluster registry by name; engines that route by cluster consult it. */
  lookupCluster?: (name: string) => Promise<RegisteredCluster | undefined>;
}

/** A registered kubernetes cluster → the engine's cluster settings (config.context, namespace). */
export function kubernetesClusterOf(cluster: RegisteredCluster | undefined): { context?: string; namespace?: string } | undefined {
  if (!cluster || canonicalEngine(cluster.engine) !== 'kubernetes') return undefined;
  const context = typeof cluster.config.context === 'string' && cluster.config.context.trim() ? cluster.config.context.trim() : undefined;
  return { ...(context ? { context } : {}), ...(cluster.namespace ? { namespace: cluster.namespace } : {}) };
}

export interface EngineRegistry {
  names(): EngineName[];
  defaultName(): EngineName;
  get(name: EngineName): Engine | undefined;
  all(): Engine[];
  close(): Promise<void>;
}

/** Builds one engine. Engines other than local load lazily, so their SDKs cost nothing unless used. */
export async function createEngine(name: EngineName, config: Config, logger: Logger, deps: EngineDeps = {}): Promise<Engine> {
  const log = logger.child({ engine: name });
  switch (name) {
    case 'local': {
      const { createLocalEngine } = await import('./local/index.js');
      const workdir = config.local.workdir ?? (config.embedded ? join(config.dataDir, 'runs') : undefined);
      return createLocalEngine({ workdir, graceMs: config.local.graceMs }, { logger: log });
    }
    case 'docker': {
      const { createDockerEngine } = await import('./docker/index.js');
      return createDockerEngine({ host: config.docker.host }, { logger: log });
    }
    case 'kubernetes': {
      const { createKubernetesEngine } = await import('./kubernetes/index.js');
      return createKubernetesEngine(
        {
          kubeconfig: config.kubernetes.kubeconfig,
          namespace: config.kubernetes.namespace,
          serviceAccount: config.kubernetes.serviceAccount,
          ttlSeconds: config.kubernetes.ttlSeconds,
          qps: config.kubernetes.qps,
          burst: config.kubernetes.burst,
          startFailureGraceMs: config.kubernetes.startFailureGraceMs,
          ...(deps.lookupCluster ? { lookupCluster: async (cluster: string) => kubernetesClusterOf(await deps.lookupCluster!(cluster)) } : {}),
        },
        { logger: log },
      );
    }
    case 'ecs': {
      const { createEcsEngine } = await import('./ecs/index.js');
      return createEcsEngine(config.ecs, { logger: log });
    }
  }
}

/** Is a Docker daemon answering (DOCKER_HOST or the default socket)? */
export async function dockerAnswers(config: Config): Promise<boolean> {
  // No DOCKER_HOST and no default socket: answer at once, without loading the Docker client.
  if (!config.docker.host && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { isDockerAvailable } = await import('./docker/index.js');
    return await isDockerAvailable(config.docker.host);
  } catch {
    return false;
  }
}

/**
 * Which engines this process runs: FLOTILLA_ENGINES when set; otherwise the default engine
 * (FLOTILLA_ENGINE), or in dev docker when a daemon answers, else local.
 */
export async function resolveEngines(config: Config): Promise<{ enabled: EngineName[]; defaultName: EngineName }> {
  if (config.enabledEngines) {
    const defaultName = config.defaultEngine ?? config.enabledEngines[0]!;
    const enabled = config.enabledEngines.includes(defaultName) ? config.enabledEngines : [...config.enabledEngines, defaultName];
    return { enabled, defaultName };
  }
  if (config.defaultEngine) {
    // local stays available next to docker in dev, as the zero-dependency fallback.
    const enabled: EngineName[] = config.role === 'dev' && config.defaultEngine !== 'local' ? [config.defaultEngine, 'local'] : [config.defaultEngine];
    return { enabled, defaultName: config.defaultEngine };
  }
  if (config.role === 'dev' && (await dockerAnswers(config))) return { enabled: ['docker', 'local'], defaultName: 'docker' };
  return { enabled: ['local'], defaultName: 'local' };
}

export async function createEngineRegistry(
  config: Config,
  logger: Logger,
  chosen?: { enabled: EngineName[]; defaultName: EngineName },
  deps: EngineDeps = {},
): Promise<EngineRegistry> {
  const { enabled, defaultName } = chosen ?? (await resolveEngines(config));
  const engines = new Map<EngineName, Engine>();
  try {
    for (const name of enabled) engines.set(name, await createEngine(name, config, logger, deps));
  } catch (err) {
    await Promise.allSettled([...engines.values()].map((e) => e.close()));
    throw err;
  }
  return {
    names: () => [...engines.keys()],
    defaultName: () => defaultName,
    get: (name) => engines.get(name),
    all: () => [...engines.values()],
    async close() {
      await Promise.allSettled([...engines.values()].map((e) => e.close()));
    },
  };
}

/** A registry over engines built elsewhere (tests). */
export function registryOf(engines: Engine[], defaultName?: EngineName): EngineRegistry {
  const map = new Map(engines.map((e) => [e.name, e]));
  return {
    names: () => [...map.keys()],
    defaultName: () => defaultName ?? (engines[0]?.name as EngineName),
    get: (name) => map.get(name),
    all: () => [...map.values()],
    async close() {
      await Promise.allSettled(engines.map((e) => e.close()));
    },
  };
}
