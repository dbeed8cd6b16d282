// RegisterTaskDefinition input per Flotilla definition version (pure).
//
// One family per definition (`flotilla-<definition_id>`), one revision per definition version.
// Per-run values (command, env, cpu, memory) travel as RunTask overrides, so runs of the same
// version share a revision. The revision records its definition version and a fingerprint of
// everything it was built from as tags: after a restart (cold cache) the engine reuses the
// family's latest revision when its fingerprint matches instead of registering another one.
import { createHash } from 'node:crypto';
import type { RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { PermanentEngineError } from '../../errors.js';
import type { EngineRun } from '../types.js';
import type { EcsEngineConfig } from './config.js';

export const CONTAINER_NAME = 'main';
export const LOG_STREAM_PREFIX = 'flotilla';
export const FINGERPRINT_TAG = 'flotilla-fingerprint';

const FAMILY_MAX = 255;

function shortHash(value: string, length: number): string {
  return createHash('sha256').update(value).digest('hex').slice(0, length);
}

/** ECS families allow letters, digits, `_` and `-`, up to 255 characters. */
export function familyName(definitionId: string): string {
  const family = `flotilla-${definitionId.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  if (family.length <= FAMILY_MAX) return family;
  // Truncation alone could make two long ids collide; the hash keeps them apart.
  return `${family.slice(0, FAMILY_MAX - 9)}-${shortHash(definitionId, 8)}`;
}

const range = (from: number, to: number, step: number) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

/** The cpu/memory pairs Fargate accepts (AWS docs, "Task CPU and memory"). */
export const FARGATE_SIZES: readonly { cpu: number; memory: readonly number[] }[] = [
  { cpu: 256, memory: [512, 1024, 2048] },
  { cpu: 512, memory: range(1024, 4096, 1024) },
  { cpu: 1024, memory: range(2048, 8192, 1024) },
  { cpu: 2048, memory: range(4096, 16384, 1024) },
  { cpu: 4096, memory: range(8192, 30720, 1024) },
  { cpu: 8192, memory: range(16384, 61440, 4096) },
  { cpu: 16384, memory: range(32768, 122880, 8192) },
];

/**
 * Fargate only runs fixed sizes, so a request is rounded **up** to the smallest valid pair that
 * covers both cpu and memory (never down: a job must not get less than it asked for). A request
 * beyond the largest size is a permanent error rather than a silent cut.
 */
export function fargateSize(cpu: number, memory: number): { cpu: number; memory: number } {
  for (const size of FARGATE_SIZES) {
    if (size.cpu < cpu) continue;
    const fit = size.memory.find((m) => m >= memory);
    if (fit !== undefined) return { cpu: size.cpu, memory: fit };
  }
  throw new PermanentEngineError(
    `cpu ${cpu} / memory ${memory} MB is larger than the largest Fargate task (16384 cpu units, 122880 MB); use the EC2 launch type`,
  );
}

export function usesAwsvpc(config: Pick<EcsEngineConfig, 'launchType' | 'subnets'>): boolean {
  return config.launchType === 'FARGATE' || config.subnets.length > 0;
}

/** Cache key of a revision: definition version plus the run facts that live in the task definition. */
export function taskDefinitionKey(run: Pick<EngineRun, 'definitionId' | 'definitionVersion' | 'arch'>): string {
  return `${run.definitionId}@${run.definitionVersion}${run.arch ? `/${run.arch}` : ''}`;
}

function cpuArchitecture(arch: string | null): 'ARM64' | 'X86_64' | undefined {
  if (!arch) return undefined;
  return /^(arm64|aarch64|arm)$/i.test(arch) ? 'ARM64' : 'X86_64';
}

export interface TaskDefinitionRequest {
  input: RegisterTaskDefinitionCommandInput;
  /** Equal fingerprints = an existing revision can be reused. */
  fingerprint: string;
}

/**
 * Builds the task definition for the run's definition version. `region` is the resolved region
 * (the awslogs driver needs it spelled out). cpu/memory come from the run that registers the
 * revision; every RunTask overrides them with its own run's values.
 */
export function buildTaskDefinition(
  run: EngineRun,
  config: Pick<EcsEngineConfig, 'launchType' | 'subnets' | 'logGroup' | 'taskRoleArn' | 'executionRoleArn'>,
  region: string,
): TaskDefinitionRequest {
  const fargate = config.launchType === 'FARGATE';
  const size = fargate ? fargateSize(run.cpu, run.memory) : undefined;
  const architecture = cpuArchitecture(run.arch);
  const input: RegisterTaskDefinitionCommandInput = {
    family: familyName(run.definitionId),
    networkMode: usesAwsvpc(config) ? 'awsvpc' : 'bridge',
    requiresCompatibilities: [config.launchType],
    ...(size ? { cpu: String(size.cpu), memory: String(size.memory) } : {}),
    ...(config.taskRoleArn ? { taskRoleArn: config.taskRoleArn } : {}),
    ...(config.executionRoleArn ? { executionRoleArn: config.executionRoleArn } : {}),
    ...(fargate && architecture ? { runtimePlatform: { cpuArchitecture: architecture, operatingSystemFamily: 'LINUX' } } : {}),
    containerDefinitions: [
      {
        name: CONTAINER_NAME,
        image: run.image,
        essential: true,
        cpu: run.cpu,
        memory: run.memory,
        logConfiguration: {
          logDriver: 'awslogs',
          options: {
            'awslogs-group': config.logGroup,
            'awslogs-region': region,
            'awslogs-stream-prefix': LOG_STREAM_PREFIX,
          },
        },
      },
    ],
  };
  // cpu/memory are left out: they are overridden per run and must not force a new revision.
  const fingerprint = shortHash(
    JSON.stringify({
      v: run.definitionVersion,
      family: input.family,
      image: run.image,
      networkMode: input.networkMode,
      requiresCompatibilities: input.requiresCompatibilities,
      taskRoleArn: input.taskRoleArn ?? null,
      executionRoleArn: input.executionRoleArn ?? null,
      runtimePlatform: input.runtimePlatform ?? null,
      log: input.containerDefinitions?.[0]?.logConfiguration ?? null,
    }),
    32,
  );
  input.tags = [
    { key: 'flotilla-definition-id', value: tagValue(run.definitionId) },
    { key: 'flotilla-definition-version', value: String(run.definitionVersion) },
    { key: FINGERPRINT_TAG, value: fingerprint },
  ];
  return { input, fingerprint };
}

/** ECS tag values: letters, digits, spaces and `_ . : / = + - @`, up to 256 characters. */
export function tagValue(value: string): string {
  return value.replace(/[^\p{L}\p{N}\p{Zs}_.:/=+\-@]/gu, '_').slice(0, 256);
}

/** ECS tag keys: same characters, 1–128, and the `aws:` prefix is reserved. */
export function tagKey(key: string): string | undefined {
  const k = key.replace(/[^\p{L}\p{N}\p{Zs}_.:/=+\-@]/gu, '_').slice(0, 128);
  if (!k || /^aws:/i.test(k)) return undefined;
  return k;
}
