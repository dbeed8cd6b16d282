// Pure builder of the batch/v1 Job a run becomes (docs/engines.md "kubernetes").
// No I/O: the engine shell around it creates what this returns.
import type { V1Affinity, V1Container, V1EnvVar, V1Job, V1NodeSelectorRequirement, V1PodSpec, V1ResourceRequirements } from '@kubernetes/client-node';
import { kubernetesMillicores } from '../../domain/resources.js';
import type { EngineRun } from '../types.js';

export const CONTAINER_NAME = 'main';
/** Every Job and pod Flotilla creates carries this label; watches and lists select on it. */
export const RUN_ID_LABEL = 'flotilla-run-id';
export const DEFINITION_ID_LABEL = 'flotilla-definition-id';
export const OWNER_LABEL = 'owner';
export const CLUSTER_LABEL = 'cluster-name';
/** Which attempt created the Job, so a resubmit can tell a stale Job from its own. */
export const ATTEMPT_ANNOTATION = 'flotilla/attempt';
export const ARCH_LABEL = 'kubernetes.io/arch';
/**
 * Node label that says spot or on-demand. Karpenter's label (values `spot` / `on-demand`) is
 * the one most EKS clusters that mix capacity types carry; managed node groups without
 * Karpenter label nodes `eks.amazonaws.com/capacityType` instead and need a Karpenter-style
 * label added to their node groups for this affinity to match.
 */
export const CAPACITY_TYPE_LABEL = 'karpenter.sh/capacity-type';
export const GPU_RESOURCE = 'nvidia.com/gpu';

export interface JobManifestOptions {
  namespace: string;
  /** Used when the run does not name one. */
  defaultServiceAccount?: string;
  /** Seconds a finished Job (and its pods and logs) stays on the cluster. */
  ttlSecondsAfterFinished: number;
}

const LABEL_MAX = 63;

/**
 * A valid label value: `[-a-zA-Z0-9_.]`, at most 63 characters, starting and ending with an
 * alphanumeric. Lowercased so that the same owner or id always gives the same label.
 */
export function sanitizeLabelValue(value: string): string {
  const cleaned = value
    .trim()
    .toLowerCase()
    .replace(/[^-a-z0-9_.]+/g, '_')
    .slice(0, LABEL_MAX);
  return cleaned.replace(/^[^a-z0-9]+/, '').replace(/[^a-z0-9]+$/, '');
}

/** A label key: an optional DNS-subdomain prefix and `/`, then a name sanitised like a value. */
export function sanitizeLabelKey(key: string): string {
  const slash = key.lastIndexOf('/');
  const name = sanitizeLabelValue(slash >= 0 ? key.slice(slash + 1) : key);
  if (!name) return '';
  if (slash < 0) return name;
  const prefix = key
    .slice(0, slash)
    .trim()
    .toLowerCase()
    .replace(/[^-a-z0-9.]+/g, '-')
    .slice(0, 253)
    .replace(/^[^a-z0-9]+/, '')
    .replace(/[^a-z0-9]+$/, '');
  return prefix ? `${prefix}/${name}` : name;
}

export function runLabels(run: EngineRun): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(run.labels ?? {})) {
    const k = sanitizeLabelKey(key);
    if (k) labels[k] = sanitizeLabelValue(String(value));
  }
  // Flotilla's own labels come last so a user label can never hide or fake them.
  labels[RUN_ID_LABEL] = sanitizeLabelValue(run.runId);
  labels[DEFINITION_ID_LABEL] = sanitizeLabelValue(run.definitionId);
  labels[OWNER_LABEL] = sanitizeLabelValue(run.owner);
  labels[CLUSTER_LABEL] = sanitizeLabelValue(run.clusterName);
  return labels;
}

/** Later entries win; the first position of a name is kept so the order stays readable. */
export function mergeEnv(env: { name: string; value: string }[]): V1EnvVar[] {
  const byName = new Map<string, string>();
  for (const e of env) byName.set(e.name, e.value);
  return [...byName].map(([name, value]) => ({ name, value }));
}

export function normalizeArch(arch: string): string {
  const a = arch.trim().toLowerCase();
  if (a === 'x86_64' || a === 'x86-64' || a === 'amd64') return 'amd64';
  if (a === 'aarch64' || a === 'arm64') return 'arm64';
  return a;
}

type Capacity = 'spot' | 'on-demand' | 'any';

function capacityOf(run: EngineRun): Capacity {
  if ((run.gpu ?? 0) > 0) return 'on-demand';
  const lifecycle = (run.nodeLifecycle ?? '').trim().toLowerCase();
  if (lifecycle === 'spot') return 'spot';
  if (lifecycle === 'ondemand' || lifecycle === 'on-demand' || lifecycle === 'on_demand' || lifecycle === 'normal') return 'on-demand';
  return 'any';
}

/**
 * On-demand is required (GPU jobs and runs that asked for it must not be interrupted); spot is
 * only preferred, so a cluster without spot capacity still runs the job.
 */
function affinityOf(run: EngineRun): V1Affinity | undefined {
  const required: V1NodeSelectorRequirement[] = [];
  if (run.arch) required.push({ key: ARCH_LABEL, operator: 'In', values: [normalizeArch(run.arch)] });
  const capacity = capacityOf(run);
  if (capacity === 'on-demand') required.push({ key: CAPACITY_TYPE_LABEL, operator: 'In', values: ['on-demand'] });
  const nodeAffinity: NonNullable<V1Affinity['nodeAffinity']> = {};
  if (required.length) nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: [{ matchExpressions: required }] };
  if (capacity === 'spot') {
    nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution = [
      { weight: 100, preference: { matchExpressions: [{ key: CAPACITY_TYPE_LABEL, operator: 'In', values: ['spot'] }] } },
    ];
  }
  return Object.keys(nodeAffinity).length ? { nodeAffinity } : undefined;
}

/**
 * Requests equal limits (Guaranteed QoS), from the run's effective cpu and memory. Memory uses
 * the decimal `M` suffix because Flotilla's memory is in MB, as the classic engine sent it.
 */
export function resourcesOf(run: EngineRun): V1ResourceRequirements {
  const limits: Record<string, string> = {
    cpu: `${kubernetesMillicores(run.cpu)}m`,
    memory: `${run.memory}M`,
  };
  if ((run.gpu ?? 0) > 0) limits[GPU_RESOURCE] = String(run.gpu);
  const requests: Record<string, string> = { ...limits };
  if ((run.ephemeralStorage ?? 0) > 0) requests['ephemeral-storage'] = `${run.ephemeralStorage}M`;
  return { requests, limits };
}

export function buildJobManifest(run: EngineRun, opts: JobManifestOptions): V1Job {
  const labels = runLabels(run);
  const gpu = (run.gpu ?? 0) > 0;

  const container: V1Container = {
    name: CONTAINER_NAME,
    image: run.image,
    env: mergeEnv(run.env),
    resources: resourcesOf(run),
  };
  // A null command leaves the image's entrypoint and command in charge.
  if (run.command !== null) container.command = ['bash', '-l', '-c', run.command];
  if (gpu) container.volumeMounts = [{ name: 'dshm', mountPath: '/dev/shm' }];

  const podSpec: V1PodSpec = { restartPolicy: 'Never', containers: [container] };
  const serviceAccount = run.serviceAccount || opts.defaultServiceAccount;
  if (serviceAccount) podSpec.serviceAccountName = serviceAccount;
  const affinity = affinityOf(run);
  if (affinity) podSpec.affinity = affinity;
  if (gpu) {
    // Frameworks that share tensors between worker processes need more than Docker's 64 MB /dev/shm.
    podSpec.volumes = [{ name: 'dshm', emptyDir: { medium: 'Memory' } }];
    podSpec.tolerations = [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }];
  }

  const spec: NonNullable<V1Job['spec']> = {
    // One pod per attempt: retries are Flotilla's decision (NEEDS_RETRY), not the Job controller's.
    backoffLimit: 0,
    ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished,
    template: { metadata: { labels: { ...labels } }, spec: podSpec },
  };
  if (run.activeDeadlineSeconds && run.activeDeadlineSeconds > 0) spec.activeDeadlineSeconds = run.activeDeadlineSeconds;

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: run.runId,
      namespace: opts.namespace,
      labels,
      annotations: { [ATTEMPT_ANNOTATION]: String(run.attempt) },
    },
    spec,
  };
}
