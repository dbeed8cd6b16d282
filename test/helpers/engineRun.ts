// The one EngineRun fixture: what an engine is handed, with plain defaults. Tests name
// what matters to them in `overrides`.
import type { EngineRun } from '../../src/engines/types.js';

export function engineRunFixture(overrides: Partial<EngineRun> = {}): EngineRun {
  const runId = overrides.runId ?? 'local-0123456789abcdef0123456789a';
  return {
    runId,
    definitionId: 'default-00000000-0000-4000-8000-000000000000',
    definitionVersion: 1,
    alias: 'fixture',
    groupName: 'default',
    image: 'flotilla-test:latest',
    command: 'echo hello',
    env: [{ name: 'FLOTILLA_RUN_ID', value: runId }],
    cpu: 256,
    memory: 512,
    cpuLimit: 256,
    memoryLimit: 512,
    gpu: null,
    ephemeralStorage: null,
    clusterName: 'default',
    owner: 'tester',
    labels: {},
    nodeLifecycle: 'spot',
    activeDeadlineSeconds: null,
    arch: null,
    serviceAccount: null,
    status: 'QUEUED',
    attempt: 1,
    engineRef: null,
    podName: null,
    namespace: null,
    queuedAt: new Date('2024-01-01T00:00:00Z'),
    startedAt: null,
    finishedAt: null,
    ...overrides,
  };
}
