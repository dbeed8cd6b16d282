// The Kubernetes manifests under deploy/kubernetes, rendered by `kubectl kustomize` as a user
// renders them: every overlay renders; the pods are locked down; the settings parse; and the
// Role grants exactly the (resource, verb) pairs the kubernetes engine is seen to request
// from the fake API server while it runs the engine conformance suite, once driven by
// reconcile (as `serve` stops runs) and once with its watches open (as `worker` runs them).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
// The API models client-node generates from Kubernetes' OpenAPI spec (not re-exported by its index).
import { ObjectSerializer } from '../../node_modules/@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { loadConfig } from '../../src/config.js';
import { createKubernetesEngine } from '../../src/engines/kubernetes/index.js';
import type { Engine } from '../../src/engines/types.js';
import { engineConformance } from '../engines/conformance.js';
import { startFakeKube, type FakeKube, type Route } from '../engines/fakeKube/server.js';

const ROOT = join(import.meta.dirname, '../../deploy/kubernetes');
const OVERLAYS = ['kubernetes', 'ecs'] as const;

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const noKubectl = kubectl.error || kubectl.status !== 0 ? 'kubectl is not installed (apt-get install kubectl), so the manifests cannot be rendered' : '';

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
};

function render(dir: string): Manifest[] {
  const out = spawnSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${out.stderr}`);
  return parseAllDocuments(out.stdout).map((d) => d.toJS() as Manifest);
}

const find = (ms: Manifest[], kind: string, name: string) => {
  const m = ms.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return m;
};

/** The RBAC attributes of each request the fake serves, as the API server derives them. */
const PERMISSION: Record<Route, string | undefined> = {
  createJob: 'batch/jobs:create',
  readJob: 'batch/jobs:get',
  listJobs: 'batch/jobs:list',
  watchJobs: 'batch/jobs:watch',
  deleteJob: 'batch/jobs:delete',
  readPod: '/pods:get',
  listPods: '/pods:list',
  watchPods: '/pods:watch',
  deletePod: '/pods:delete',
  podLog: '/pods/log:get',
  listEvents: '/events:list',
  watchEvents: '/events:watch',
  other: undefined,
};

const seen = new Map<string, number>();
function record(fake: FakeKube): void {
  for (const [route, n] of Object.entries(fake.counts())) seen.set(route, (seen.get(route) ?? 0) + n);
}

/** The conformance suite against its own fake, recording every request it made. */
function recordedConformance(name: string, withWatch: boolean): void {
  let fake: FakeKube;
  let stopWatch: (() => Promise<void>) | undefined;
  // The name is the runs' id prefix, so it stays a valid Job name; the describe says which.
  describe(`requests recorded for RBAC, engine driven by ${name}`, () =>
    engineConformance('kubernetes', {
      async setup() {
        fake = await startFakeKube({ stepMs: 5 });
        const engine: Engine = createKubernetesEngine({
          kubeconfig: fake.kubeconfigPath,
          qps: 10_000,
          burst: 10_000,
          startFailureGraceMs: 0,
          watchRestartDelayMs: 20,
          logPollMs: 20,
        });
        if (withWatch) stopWatch = engine.watch?.(() => {});
        return engine;
      },
      async teardown() {
        await stopWatch?.();
        record(fake);
        await fake.close();
      },
      image: 'busybox:1.36',
      timeoutMs: 10_000,
    }));
}

recordedConformance('reconcile', false);
recordedConformance('watch', true);

describe.skipIf(noKubectl)(`deploy/kubernetes${noKubectl ? ` (skipped: ${noKubectl})` : ''}`, () => {
  const rendered = Object.fromEntries(OVERLAYS.map((o) => [o, render(`overlays/${o}`)])) as Record<(typeof OVERLAYS)[number], Manifest[]>;
  afterAll(() => seen.clear());

  it('the Role grants exactly the (resource, verb) pairs the engine requested, no more', () => {
    const observed = new Set<string>();
    for (const route of seen.keys()) {
      const p = PERMISSION[route as Route];
      if (!p) throw new Error(`the engine made a request the fake does not classify (route ${route})`);
      observed.add(p);
    }
    // Both runs happened (the suites above ran first) and covered the usual calls.
    expect(observed).toContain('batch/jobs:create');
    expect(observed).toContain('batch/jobs:watch');

    const role = find(rendered.kubernetes, 'Role', 'flotilla-engine');
    const granted = new Set<string>();
    for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
      for (const g of rule.apiGroups) for (const r of rule.resources) for (const v of rule.verbs) granted.add(`${g}/${r}:${v}`);
    }
    expect([...granted].sort()).toEqual([...observed].sort());
  });

  it('binds the Role to the service account serve and worker run as, in the namespace Jobs go to', () => {
    const ms = rendered.kubernetes;
    const binding = find(ms, 'RoleBinding', 'flotilla-engine');
    const role = find(ms, 'Role', 'flotilla-engine');
    const config = ms.find((m) => m.kind === 'ConfigMap')!;
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'flotilla-engine' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'flotilla', namespace: 'flotilla' }]);
    expect(role.metadata.namespace).toBe(config.data.FLOTILLA_K8S_NAMESPACE);
    for (const name of ['flotilla-serve', 'flotilla-worker']) {
      const spec = find(ms, 'Deployment', name).spec.template.spec;
      expect(spec.serviceAccountName).toBe('flotilla');
      expect(spec.automountServiceAccountToken).toBe(true);
    }
    // migrate never talks to the Kubernetes API.
    expect(find(ms, 'Job', 'flotilla-migrate').spec.template.spec.automountServiceAccountToken).toBe(false);
  });

  it.each(OVERLAYS)('%s: serve (2 replicas, probes, PDB, Service), worker (health port), migrate Job', (overlay) => {
    const ms = rendered[overlay];
    const config = ms.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('flotilla-'))!;
    const serve = find(ms, 'Deployment', 'flotilla-serve');
    expect(serve.spec.replicas).toBe(2);
    const [api] = serve.spec.template.spec.containers;
    expect(api.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(api.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(api.ports).toEqual([{ name: 'http', containerPort: Number(config.data.PORT) }]);
    const service = find(ms, 'Service', 'flotilla');
    expect(service.spec.selector).toEqual(serve.spec.selector.matchLabels);
    const pdb = find(ms, 'PodDisruptionBudget', 'flotilla-serve');
    expect(pdb.spec.selector).toEqual(serve.spec.selector);
    expect(pdb.spec.minAvailable).toBeLessThan(serve.spec.replicas);

    const [worker] = find(ms, 'Deployment', 'flotilla-worker').spec.template.spec.containers;
    expect(worker.command).toEqual(['node', 'bin/flotilla.js', 'worker']);
    expect(worker.ports).toEqual([{ name: 'health', containerPort: Number(config.data.WORKER_METRICS_PORT) }]);
    expect(worker.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'health' });
    expect(worker.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'health' });

    const [migrate] = find(ms, 'Job', 'flotilla-migrate').spec.template.spec.containers;
    expect(migrate.command).toEqual(['node', 'bin/flotilla.js', 'migrate']);
  });

  it.each(OVERLAYS)('%s: every pod is non-root, read-only, without privilege escalation; secrets come from the Secret', (overlay) => {
    const workloads = rendered[overlay].filter((m) => m.kind === 'Deployment' || m.kind === 'Job');
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual(['flotilla-migrate', 'flotilla-serve', 'flotilla-worker']);
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext, w.metadata.name).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const c of pod.containers) {
        expect(c.securityContext, `${w.metadata.name}/${c.name}`).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        // Node and npm write temporary files; /tmp is the one writable place.
        expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
        const env = Object.fromEntries((c.env as { name: string; valueFrom: unknown }[]).map((e) => [e.name, e.valueFrom]));
        expect(env.DATABASE_URL).toEqual({ secretKeyRef: { name: 'flotilla', key: 'DATABASE_URL' } });
        if (w.metadata.name !== 'flotilla-migrate') expect(env.REDIS_URL).toEqual({ secretKeyRef: { name: 'flotilla', key: 'REDIS_URL' } });
      }
    }
  });

  it.each(OVERLAYS)('%s: the ConfigMap is a valid configuration for each role, with the engine and the auth decision explicit', (overlay) => {
    const config = rendered[overlay].find((m) => m.kind === 'ConfigMap')!;
    const env = { ...config.data, DATABASE_URL: 'postgres://flotilla@db/flotilla', REDIS_URL: 'redis://redis:6379' } as Record<string, string>;
    for (const role of ['serve', 'worker', 'migrate'] as const) {
      const parsed = loadConfig(env, role);
      expect(parsed.enabledEngines).toEqual([overlay]);
      expect(parsed.host).toBe('0.0.0.0');
    }
    expect(config.data.FLOTILLA_AUTH).toBe('none');
    const workloads = rendered[overlay].filter((m) => m.kind === 'Deployment' || m.kind === 'Job');
    for (const w of workloads) expect(w.spec.template.spec.containers[0].envFrom).toEqual([{ configMapRef: { name: config.metadata.name } }]);
  });

  it.each(OVERLAYS)('%s: every object survives a round trip through the Kubernetes API models (no misspelled or misplaced field)', (overlay) => {
    for (const m of rendered[overlay]) {
      const type = `V1${m.kind}`;
      const round: unknown = ObjectSerializer.serialize(ObjectSerializer.deserialize(m, type, ''), type, '');
      // A field the API does not know is dropped by deserialize, so the two differ.
      expect(JSON.parse(JSON.stringify(round)), `${m.kind} ${m.metadata.name}`).toEqual(m);
    }
  });

  it('ecs: no Kubernetes RBAC, and the service account carries the IAM role', () => {
    const ms = rendered.ecs;
    expect(ms.filter((m) => m.apiVersion.startsWith('rbac.authorization.k8s.io'))).toEqual([]);
    expect(find(ms, 'ServiceAccount', 'flotilla').metadata.annotations?.['eks.amazonaws.com/role-arn']).toMatch(/^arn:aws:iam::\d{12}:role\//);
  });
});
