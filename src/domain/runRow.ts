// Building the row of a new run from its definition and the execute request: a pure
// function (no database, no clock but `now`), so every rule of what a run snapshots is
// unit-tested in test/unit/runRow.test.ts.
import { createHash, randomUUID } from 'node:crypto';
import type { EngineName } from '../config.js';
import type { EnvVar, NewRunRow, TaskDefinitionRow } from '../db/schema.js';
import { effectiveResources } from './resources.js';

export const DEFAULT_DEADLINE = { spot: 172_800, ondemand: 604_800 } as const;

/** The execute request after validation (service form). */
export interface RunRequest {
  owner: string;
  runTags: Record<string, string>;
  env: EnvVar[];
  command?: string;
  memory?: number;
  cpu?: number;
  gpu?: number;
  ephemeralStorage?: number;
  nodeLifecycle?: 'spot' | 'ondemand';
  activeDeadlineSeconds?: number;
  description?: string;
  idempotenceKey?: string;
  arch?: string;
  labels: Record<string, string>;
  serviceAccount?: string;
  tier?: string;
}

export interface RunPlacement {
  runId: string;
  engine: EngineName;
  clusterName: string;
  /** FLOTILLA_SERVER_MODE given to the job. */
  mode: string;
  /** The env var that carries the owner (config.ownerIdVar). */
  ownerIdVar: string;
  maxAttempts: number;
}

export function reservedEnvNames(ownerIdVar: string): string[] {
  return ['FLOTILLA_RUN_ID', 'FLOTILLA_SERVER_MODE', ownerIdVar, 'AWS_ROLE_SESSION_NAME'];
}

export function newRunId(engine: string): string {
  const prefix = `${engine}-`;
  // Hex without dashes, so the id is a clean DNS label for Kubernetes Job names.
  return prefix + randomUUID().replace(/-/g, '').slice(-(36 - prefix.length));
}

/**
 * The new run's row, status QUEUED. Env: the reserved variables first, then the
 * definition's (minus reserved names and those the request sets), then the request's.
 */
export function buildRunRow(definition: TaskDefinitionRow, v: RunRequest, at: RunPlacement): NewRunRow {
  const { runId, engine, clusterName } = at;
  const reserved = reservedEnvNames(at.ownerIdVar);
  const gpu = v.gpu ?? definition.gpu ?? null;
  const nodeLifecycle = gpu && gpu > 0 ? 'ondemand' : (v.nodeLifecycle ?? 'spot');
  const { cpu, memory } = effectiveResources({ cpu: v.cpu, memory: v.memory }, definition);
  const command = v.command ?? definition.command ?? null;
  const reservedEnv: EnvVar[] = [
    { name: 'FLOTILLA_RUN_ID', value: runId },
    { name: 'FLOTILLA_SERVER_MODE', value: at.mode },
    { name: at.ownerIdVar, value: v.owner },
    { name: 'AWS_ROLE_SESSION_NAME', value: runId },
  ];
  const requestNames = new Set(v.env.map((e) => e.name));
  const env = [...reservedEnv, ...definition.env.filter((e) => !reserved.includes(e.name) && !requestNames.has(e.name)), ...v.env];
  return {
    runId,
    definitionId: definition.definitionId,
    definitionVersion: definition.version,
    alias: definition.alias,
    groupName: definition.groupName,
    image: definition.image,
    command,
    commandHash: command === null ? null : createHash('md5').update(command).digest('hex'),
    env,
    cpu,
    memory,
    cpuLimit: cpu,
    memoryLimit: memory,
    gpu,
    ephemeralStorage: v.ephemeralStorage ?? definition.ephemeralStorage ?? null,
    engine,
    clusterName,
    status: 'QUEUED',
    owner: v.owner,
    runTags: { ...v.runTags, owner_id: v.owner },
    labels: v.labels,
    nodeLifecycle,
    activeDeadlineSeconds: v.activeDeadlineSeconds ?? DEFAULT_DEADLINE[nodeLifecycle],
    description: v.description ?? null,
    idempotenceKey: v.idempotenceKey ?? null,
    arch: v.arch ?? null,
    serviceAccount: v.serviceAccount ?? null,
    tier: v.tier ?? null,
    attempt: 1,
    maxAttempts: at.maxAttempts,
  };
}
