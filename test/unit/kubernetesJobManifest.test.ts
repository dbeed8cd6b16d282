// Pins the Job a run becomes on Kubernetes (spec/engines.md "kubernetes").
import { describe, expect, it } from 'vitest';
import { buildJobManifest, mergeEnv, normalizeArch, sanitizeLabelKey, sanitizeLabelValue } from '../../src/engines/kubernetes/jobManifest.js';
import type { EngineRun } from '../../src/engines/types.js';
import { engineRunFixture } from '../helpers/engineRun.js';

const RUN_ID = 'kubernetes-0f8c2d0e-6a1b-4c1e-9d5f-1';

function run(overrides: Partial<EngineRun> = {}): EngineRun {
  return engineRunFixture({
    runId: RUN_ID,
    definitionId: 'analytics-4d3c2b1a-0000-4000-8000-000000000001',
    definitionVersion: 3,
    alias: 'nightly-report',
    groupName: 'analytics',
    image: 'registry.example.com/report:1.2',
    command: 'python report.py --date "$DATE"',
    env: [
      { name: 'DATE', value: '2024-01-01' },
      { name: 'MODE', value: 'definition' },
      { name: 'MODE', value: 'request' },
      { name: 'FLOTILLA_RUN_ID', value: RUN_ID },
    ],
    cpu: 1000,
    memory: 2048,
    cpuLimit: 2000,
    memoryLimit: 4096,
    owner: 'Jane.Doe@Example.com',
    ...overrides,
  });
}

const opts = { namespace: 'flotilla', ttlSecondsAfterFinished: 3600 };

describe('buildJobManifest', () => {
  it('builds the whole Job for a plain CPU run on spot capacity', () => {
    const labels = {
      'flotilla-run-id': RUN_ID,
      'flotilla-definition-id': 'analytics-4d3c2b1a-0000-4000-8000-000000000001',
      owner: 'jane.doe_example.com',
      'cluster-name': 'default',
    };
    expect(buildJobManifest(run(), opts)).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: RUN_ID, namespace: 'flotilla', labels, annotations: { 'flotilla/attempt': '1' } },
      spec: {
        backoffLimit: 0,
        ttlSecondsAfterFinished: 3600,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: 'Never',
            containers: [
              {
                name: 'main',
                image: 'registry.example.com/report:1.2',
                command: ['bash', '-l', '-c', 'python report.py --date "$DATE"'],
                env: [
                  { name: 'DATE', value: '2024-01-01' },
                  { name: 'MODE', value: 'request' },
                  { name: 'FLOTILLA_RUN_ID', value: RUN_ID },
                ],
                resources: {
                  requests: { cpu: '1000m', memory: '2048M' },
                  limits: { cpu: '1000m', memory: '2048M' },
                },
              },
            ],
            affinity: {
              nodeAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, preference: { matchExpressions: [{ key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] }] } },
                ],
              },
            },
          },
        },
      },
    });
  });

  it('gives a GPU run the GPU resource, a memory-backed /dev/shm, the GPU toleration and on-demand nodes', () => {
    const job = buildJobManifest(run({ gpu: 2, nodeLifecycle: 'spot', arch: 'x86_64' }), opts);
    const pod = job.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(container.resources).toEqual({
      requests: { cpu: '1000m', memory: '2048M', 'nvidia.com/gpu': '2' },
      limits: { cpu: '1000m', memory: '2048M', 'nvidia.com/gpu': '2' },
    });
    expect(container.volumeMounts).toEqual([{ name: 'dshm', mountPath: '/dev/shm' }]);
    expect(pod.volumes).toEqual([{ name: 'dshm', emptyDir: { medium: 'Memory' } }]);
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] },
                { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['on-demand'] },
              ],
            },
          ],
        },
      },
    });
  });

  it('requires on-demand nodes when asked, and pins arm64 when asked', () => {
    const pod = buildJobManifest(run({ nodeLifecycle: 'ondemand', arch: 'aarch64' }), opts).spec!.template.spec!;
    expect(pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchExpressions).toEqual([
      { key: 'kubernetes.io/arch', operator: 'In', values: ['arm64'] },
      { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['on-demand'] },
    ]);
    expect(pod.affinity!.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(pod.tolerations).toBeUndefined();
    expect(pod.volumes).toBeUndefined();
  });

  it('has no affinity when neither arch nor a known capacity type is asked for', () => {
    expect(buildJobManifest(run({ nodeLifecycle: '' }), opts).spec!.template.spec!.affinity).toBeUndefined();
  });

  it('rounds cpu up to 250m steps and requests ephemeral storage when set', () => {
    const container = buildJobManifest(run({ cpu: 300, memory: 512, ephemeralStorage: 20_000 }), opts).spec!.template.spec!.containers[0]!;
    expect(container.resources).toEqual({
      requests: { cpu: '500m', memory: '512M', 'ephemeral-storage': '20000M' },
      limits: { cpu: '500m', memory: '512M' },
    });
  });

  it('leaves the image default command alone when the run has none', () => {
    const container = buildJobManifest(run({ command: null }), opts).spec!.template.spec!.containers[0]!;
    expect(container.command).toBeUndefined();
    expect(container.args).toBeUndefined();
  });

  it('sets the deadline, the service account (run first, then the default) and the attempt', () => {
    const job = buildJobManifest(run({ activeDeadlineSeconds: 900, serviceAccount: 'reports', attempt: 3 }), {
      ...opts,
      defaultServiceAccount: 'flotilla-runner',
      ttlSecondsAfterFinished: 60,
    });
    expect(job.spec!.activeDeadlineSeconds).toBe(900);
    expect(job.spec!.ttlSecondsAfterFinished).toBe(60);
    expect(job.spec!.template.spec!.serviceAccountName).toBe('reports');
    expect(job.metadata!.annotations).toEqual({ 'flotilla/attempt': '3' });
    const fallback = buildJobManifest(run(), { ...opts, defaultServiceAccount: 'flotilla-runner' });
    expect(fallback.spec!.template.spec!.serviceAccountName).toBe('flotilla-runner');
    expect(buildJobManifest(run(), opts).spec!.template.spec!.serviceAccountName).toBeUndefined();
    expect(buildJobManifest(run({ activeDeadlineSeconds: 0 }), opts).spec!.activeDeadlineSeconds).toBeUndefined();
  });

  it('adds sanitised user labels to Job and pod, and never lets them replace Flotilla’s', () => {
    const job = buildJobManifest(
      run({ labels: { Team: 'Data Science!', 'example.com/Cost Center': '42', 'flotilla-run-id': 'forged', '***': 'dropped' }, clusterName: 'EKS Prod' }),
      opts,
    );
    const expected = {
      team: 'data_science',
      'example.com/cost_center': '42',
      'flotilla-run-id': RUN_ID,
      'flotilla-definition-id': 'analytics-4d3c2b1a-0000-4000-8000-000000000001',
      owner: 'jane.doe_example.com',
      'cluster-name': 'eks_prod',
    };
    expect(job.metadata!.labels).toEqual(expected);
    expect(job.spec!.template.metadata!.labels).toEqual(expected);
  });
});

describe('label sanitising', () => {
  it.each([
    ['Jane.Doe@Example.com', 'jane.doe_example.com'],
    ['  spaced out  ', 'spaced_out'],
    ['--leading-and-trailing--', 'leading-and-trailing'],
    ['__x__', 'x'],
    ['a'.repeat(70), 'a'.repeat(63)],
    [`${'a'.repeat(62)}-b`, 'a'.repeat(62)],
    ['émoji ✓ ok', 'moji_ok'],
    ['', ''],
    ['!!!', ''],
  ])('%j → %j', (input, expected) => {
    const out = sanitizeLabelValue(input);
    expect(out).toBe(expected);
    expect(out.length).toBeLessThanOrEqual(63);
    if (out) expect(out).toMatch(/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/);
  });

  it('keeps a DNS prefix on keys', () => {
    expect(sanitizeLabelKey('Example.COM/My Key')).toBe('example.com/my_key');
    expect(sanitizeLabelKey('/name')).toBe('name');
    expect(sanitizeLabelKey('prefix/')).toBe('');
  });
});

describe('env and arch', () => {
  it('merges env with later values winning, in first-seen order', () => {
    expect(
      mergeEnv([
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
        { name: 'A', value: '3' },
      ]),
    ).toEqual([
      { name: 'A', value: '3' },
      { name: 'B', value: '2' },
    ]);
  });

  it('maps common arch spellings onto kubernetes.io/arch values', () => {
    expect(normalizeArch('x86_64')).toBe('amd64');
    expect(normalizeArch('AMD64')).toBe('amd64');
    expect(normalizeArch('aarch64')).toBe('arm64');
    expect(normalizeArch('arm64')).toBe('arm64');
    expect(normalizeArch('s390x')).toBe('s390x');
  });
});
