// Pins the ECS requests Flotilla sends: RegisterTaskDefinition per definition version and RunTask
// per run (pure builders, no AWS).
import { describe, expect, it } from 'vitest';
import { PermanentEngineError } from '../../src/errors.js';
import { buildRunTask, clientToken, runTags, shortRunId } from '../../src/engines/ecs/runTask.js';
import { buildTaskDefinition, familyName, fargateSize, taskDefinitionKey } from '../../src/engines/ecs/taskDefinition.js';
import type { EcsEngineConfig } from '../../src/engines/ecs/index.js';
import type { EngineRun } from '../../src/engines/types.js';
import { engineRunFixture } from '../helpers/engineRun.js';

const RUN_ID = 'ecs-0123456789abcdef0123456789abcdef';

function run(overrides: Partial<EngineRun> = {}): EngineRun {
  return engineRunFixture({
    runId: RUN_ID,
    definitionId: 'analytics-5b8e3e0c-6f1d-4c1e-9a57-3f0f3c7d2a11',
    definitionVersion: 3,
    alias: 'nightly',
    groupName: 'analytics',
    image: 'python:3.12-slim',
    command: 'python -c "print(1)"',
    env: [
      { name: 'MODE', value: 'full' },
      { name: 'FLOTILLA_RUN_ID', value: RUN_ID },
    ],
    cpu: 512,
    memory: 1500,
    cpuLimit: 512,
    memoryLimit: 1500,
    clusterName: 'batch',
    owner: 'ada@example.com',
    labels: { team: 'data' },
    ...overrides,
  });
}

const fargate: EcsEngineConfig = {
  cluster: 'batch',
  launchType: 'FARGATE',
  subnets: ['subnet-a', 'subnet-b'],
  securityGroups: ['sg-1'],
  logGroup: '/flotilla/jobs',
  taskRoleArn: 'arn:aws:iam::123456789012:role/flotilla-task',
  executionRoleArn: 'arn:aws:iam::123456789012:role/flotilla-exec',
};
const ec2: EcsEngineConfig = { cluster: 'batch', launchType: 'EC2', subnets: [], securityGroups: [], logGroup: '/flotilla/jobs' };

describe('RegisterTaskDefinition input', () => {
  it('FARGATE: awsvpc, a valid Fargate size, roles, one container "main" logging to the group', () => {
    const { input, fingerprint } = buildTaskDefinition(run(), fargate, 'eu-west-1');
    expect(input).toEqual({
      family: 'flotilla-analytics-5b8e3e0c-6f1d-4c1e-9a57-3f0f3c7d2a11',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '512',
      memory: '2048',
      taskRoleArn: 'arn:aws:iam::123456789012:role/flotilla-task',
      executionRoleArn: 'arn:aws:iam::123456789012:role/flotilla-exec',
      containerDefinitions: [
        {
          name: 'main',
          image: 'python:3.12-slim',
          essential: true,
          cpu: 512,
          memory: 1500,
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': '/flotilla/jobs', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'flotilla' },
          },
        },
      ],
      tags: [
        { key: 'flotilla-definition-id', value: 'analytics-5b8e3e0c-6f1d-4c1e-9a57-3f0f3c7d2a11' },
        { key: 'flotilla-definition-version', value: '3' },
        { key: 'flotilla-fingerprint', value: fingerprint },
      ],
    });
    expect(fingerprint).toMatch(/^[0-9a-f]{32}$/);
  });

  it('EC2 without subnets: bridge networking, container-level cpu/memory only, no roles when none are configured', () => {
    const { input } = buildTaskDefinition(run({ arch: 'arm64' }), ec2, 'us-east-1');
    expect(input.networkMode).toBe('bridge');
    expect(input.requiresCompatibilities).toEqual(['EC2']);
    expect(input).not.toHaveProperty('cpu');
    expect(input).not.toHaveProperty('memory');
    expect(input).not.toHaveProperty('taskRoleArn');
    expect(input).not.toHaveProperty('runtimePlatform');
    expect(input.containerDefinitions?.[0]).toMatchObject({ name: 'main', cpu: 512, memory: 1500 });
  });

  it('EC2 with subnets uses awsvpc; FARGATE arm64 asks for a Graviton runtime', () => {
    expect(buildTaskDefinition(run(), { ...ec2, subnets: ['subnet-a'] }, 'us-east-1').input.networkMode).toBe('awsvpc');
    expect(buildTaskDefinition(run({ arch: 'arm64' }), fargate, 'us-east-1').input.runtimePlatform).toEqual({
      cpuArchitecture: 'ARM64',
      operatingSystemFamily: 'LINUX',
    });
  });

  it('the fingerprint ignores per-run values and changes with the version, image or log group', () => {
    const base = buildTaskDefinition(run(), fargate, 'us-east-1').fingerprint;
    expect(buildTaskDefinition(run({ cpu: 1024, memory: 4096, command: 'other', env: [] }), fargate, 'us-east-1').fingerprint).toBe(base);
    expect(buildTaskDefinition(run({ definitionVersion: 4 }), fargate, 'us-east-1').fingerprint).not.toBe(base);
    expect(buildTaskDefinition(run({ image: 'python:3.13' }), fargate, 'us-east-1').fingerprint).not.toBe(base);
    expect(buildTaskDefinition(run(), { ...fargate, logGroup: 'other' }, 'us-east-1').fingerprint).not.toBe(base);
  });

  it('family names keep to ECS characters and 255 characters, staying distinct when truncated', () => {
    expect(familyName('team a/b-1')).toBe('flotilla-team-a-b-1');
    const long1 = familyName('x'.repeat(300) + '1');
    const long2 = familyName('x'.repeat(300) + '2');
    expect(long1).toHaveLength(255);
    expect(long1).not.toBe(long2);
    expect(long1).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('caches per definition version (and architecture)', () => {
    expect(taskDefinitionKey(run())).toBe('analytics-5b8e3e0c-6f1d-4c1e-9a57-3f0f3c7d2a11@3');
    expect(taskDefinitionKey(run({ arch: 'arm64' }))).toBe('analytics-5b8e3e0c-6f1d-4c1e-9a57-3f0f3c7d2a11@3/arm64');
  });
});

describe('Fargate sizes', () => {
  it.each([
    [256, 512, 256, 512],
    [256, 600, 256, 1024],
    [256, 3000, 512, 3072],
    [300, 512, 512, 1024],
    [1024, 9000, 2048, 9216],
    [4096, 31000, 8192, 32768],
    [16384, 122880, 16384, 122880],
  ])('cpu %i / memory %i rounds up to %i / %i', (cpu, memory, wantCpu, wantMemory) => {
    expect(fargateSize(cpu, memory)).toEqual({ cpu: wantCpu, memory: wantMemory });
  });

  it('refuses what no Fargate size covers', () => {
    expect(() => fargateSize(20000, 1024)).toThrow(PermanentEngineError);
    expect(() => fargateSize(1024, 200_000)).toThrow(/largest Fargate task/);
  });
});

describe('RunTask input', () => {
  const arn = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/flotilla-analytics:7';

  it('FARGATE: idempotency token, startedBy, overrides, rounded task size, awsvpc and tags', () => {
    expect(buildRunTask(run(), arn, fargate)).toEqual({
      cluster: 'batch',
      taskDefinition: arn,
      count: 1,
      launchType: 'FARGATE',
      clientToken: RUN_ID,
      startedBy: RUN_ID,
      overrides: {
        containerOverrides: [
          {
            name: 'main',
            command: ['bash', '-c', 'python -c "print(1)"'],
            environment: [
              { name: 'MODE', value: 'full' },
              { name: 'FLOTILLA_RUN_ID', value: RUN_ID },
            ],
            cpu: 512,
            memory: 1500,
          },
        ],
        cpu: '512',
        memory: '2048',
      },
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' } },
      tags: [
        { key: 'flotilla-run-id', value: RUN_ID },
        { key: 'flotilla-definition-id', value: 'analytics-5b8e3e0c-6f1d-4c1e-9a57-3f0f3c7d2a11' },
        { key: 'flotilla-attempt', value: '1' },
        { key: 'owner', value: 'ada@example.com' },
        { key: 'cluster-name', value: 'batch' },
        { key: 'team', value: 'data' },
      ],
    });
  });

  it('EC2: bridge networking (no network configuration), GPUs and architecture placement', () => {
    const input = buildRunTask(run({ gpu: 2, arch: 'arm64' }), arn, { ...ec2, shell: 'sh' });
    expect(input.launchType).toBe('EC2');
    expect(input).not.toHaveProperty('networkConfiguration');
    expect(input.overrides?.cpu).toBeUndefined();
    expect(input.overrides?.containerOverrides?.[0]).toMatchObject({
      command: ['sh', '-c', 'python -c "print(1)"'],
      resourceRequirements: [{ type: 'GPU', value: '2' }],
    });
    expect(input.placementConstraints).toEqual([{ type: 'memberOf', expression: 'attribute:ecs.cpu-architecture == arm64' }]);
  });

  it('no command keeps the image default; FLOTILLA_RUN_ID is always in the env; big ephemeral storage is requested', () => {
    const input = buildRunTask(run({ command: null, env: [], ephemeralStorage: 50_000 }), arn, { ...fargate, assignPublicIp: true });
    const container = input.overrides?.containerOverrides?.[0];
    expect(container).not.toHaveProperty('command');
    expect(container?.environment).toEqual([{ name: 'FLOTILLA_RUN_ID', value: RUN_ID }]);
    expect(input.overrides?.ephemeralStorage).toEqual({ sizeInGiB: 49 });
    expect(input.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('ENABLED');
  });

  it('a retried attempt gets its own idempotency token', () => {
    expect(clientToken(RUN_ID, 1)).toBe(RUN_ID);
    expect(clientToken(RUN_ID, 3)).toBe(`${RUN_ID}/3`);
    expect(clientToken('x'.repeat(80), 1)).toMatch(/^[0-9a-f]{64}$/);
    expect(buildRunTask(run({ attempt: 2 }), arn, fargate).clientToken).toBe(`${RUN_ID}/2`);
  });

  it('startedBy is the run id when it fits ECS (≤ 36 of [A-Za-z0-9_/-]), else a stable short hash', () => {
    expect(shortRunId(RUN_ID)).toBe(RUN_ID);
    const long = shortRunId('a-run-id-that-is-much-longer-than-thirty-six-characters');
    expect(long).toMatch(/^fl-[0-9a-f]{33}$/);
    expect(shortRunId('a-run-id-that-is-much-longer-than-thirty-six-characters')).toBe(long);
    expect(shortRunId('has spaces')).toMatch(/^fl-/);
  });

  it('tags: ECS characters only, no aws: prefix, at most 50', () => {
    const labels: Record<string, string> = { 'aws:reserved': 'x', 'bad#key': 'v@l!ue' };
    for (let i = 0; i < 60; i++) labels[`l${String(i).padStart(2, '0')}`] = String(i);
    const tags = runTags(run({ labels }));
    expect(tags).toHaveLength(50);
    expect(tags.find((t) => t.key?.startsWith('aws:'))).toBeUndefined();
    expect(tags).toContainEqual({ key: 'bad_key', value: 'v@l_ue' });
  });

  it('refuses what ECS cannot run: GPUs or no subnets on Fargate', () => {
    expect(() => buildRunTask(run({ gpu: 1 }), arn, fargate)).toThrow(PermanentEngineError);
    expect(() => buildRunTask(run(), arn, { ...fargate, subnets: [] })).toThrow(/FLOTILLA_ECS_SUBNETS/);
  });
});
