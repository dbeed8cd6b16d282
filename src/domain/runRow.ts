// Building the row of a new run from its executable (definition or template) and the execute request: a pure
// function (no database, no clock but `now`), so every rule of what a run snapshots is
// unit-tested in test/unit/runRow.test.ts.
import { createHash, randomUUID } from 'node:crypto';
import type { EngineName } from '../config.js';
import type { EnvVar, NewRunRow } from '../db/schema.js';
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

/** What a run is launched from: a task definition or a v7 template, in one shape. */
export interface Executable {
  type: 'task_definition' | 'template';
  id: string;
  version: number;
  alias: string;
  groupName: string;
  image: string;
  command: string | null;
  env: EnvVar[];
  cpu: number | null;
  memory: number | null;
  gpu: number | null;
  ephemeralStorage: number | null;
  targetCluster: string | null;
  adaptiveResourceAllocation: boolean | null;
}

export interface RunPlacement {
  runId: string;
  engine: EngineName;
  /** The engine the request named, when a substitute runs it instead (null otherwise). */
  engineRequested?: EngineName | null;
  clusterName: string;
  /** FLOTILLA_SERVER_MODE given to the job. */
  mode: string;
  /** The env var that carries the owner (config.ownerIdVar). */
  ownerIdVar: string;
  maxAttempts: number;
  /** cpu/memory as sized by adaptive resources, with why; absent: override → executable → minimum. */
  resources?: { cpu: number; memory: number; reason: string | null };
  /** A template run's rendered request, kept with the run. */
  executionRequestCustom?: Record<string, unknown> | null;
}

export function reservedEnvNames(ownerIdVar: string): string[] {
  return ['FLOTILLA_RUN_ID', 'FLOTILLA_SERVER_MODE', ownerIdVar, 'AWS_ROLE_SESSION_NAME'];
}

export function newRunId(engine: string): string {
  const prefix = `${engine}-`;
  // Hex without dashes, so the id is a clean DNS label for Kubernetes Job names.
  return (
    prefix +
    randomUUID()
      .replace(/-/g, '')
      .slice(-(36 - prefix.length))
  );
}

/** The command a run executes: the request's, else the executable's (null runs the entrypoint). */
export function runCommand(exe: Pick<Executable, 'command'>, v: Pick<RunRequest, 'command'>): string | null {
  return v.command ?? exe.command ?? null;
}

export function commandHashOf(command: string | null): string | null {
  return command === null ? null : createHash('md5').update(command).digest('hex');
}

/**
 * The new run's row, status QUEUED. Env: the reserved variables first, then the
 * executable's (minus reserved names and those the request sets), then the request's.
 */
export function buildRunRow(exe: Executable, v: RunRequest, at: RunPlacement): NewRunRow & { command: string | null; env: EnvVar[] } {
  const { runId, engine, clusterName } = at;
  const reserved = reservedEnvNames(at.ownerIdVar);
  const gpu = v.gpu ?? exe.gpu ?? null;
  const nodeLifecycle = gpu && gpu > 0 ? 'ondemand' : (v.nodeLifecycle ?? 'spot');
  const { cpu, memory } = at.resources ?? effectiveResources({ cpu: v.cpu, memory: v.memory }, exe);
  const command = runCommand(exe, v);
  const reservedEnv: EnvVar[] = [
    { name: 'FLOTILLA_RUN_ID', value: runId },
    { name: 'FLOTILLA_SERVER_MODE', value: at.mode },
    { name: at.ownerIdVar, value: v.owner },
    { name: 'AWS_ROLE_SESSION_NAME', value: runId },
  ];
  const requestNames = new Set(v.env.map((e) => e.name));
  const env = [...reservedEnv, ...exe.env.filter((e) => !reserved.includes(e.name) && !requestNames.has(e.name)), ...v.env];
  return {
    runId,
    definitionId: exe.id,
    definitionVersion: exe.version,
    executableType: exe.type,
    executionRequestCustom: at.executionRequestCustom ?? null,
    alias: exe.alias,
    groupName: exe.groupName,
    image: exe.image,
    command,
    commandHash: commandHashOf(command),
    env,
    cpu,
    memory,
    cpuLimit: cpu,
    memoryLimit: memory,
    gpu,
    ephemeralStorage: v.ephemeralStorage ?? exe.ephemeralStorage ?? null,
    engine,
    engineRequested: at.engineRequested ?? null,
    resourceReason: at.resources?.reason ?? null,
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
