// Rows → the classic JSON shapes. The classic service omitted null and empty fields
// (Go `omitempty`) except a few the UI reads unguarded; `omitEmpty` is that rule.
import type { RunEventRow, RunRow, TaskDefinitionRow } from '../../db/schema.js';

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (value instanceof Date) return false;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/**
 * Drops undefined, null, '', [] and {} values, keeping key order. Keys in `alwaysPresent`
 * stay even when empty. `false` and `0` are values, not emptiness: callers that want a
 * boolean only when true pass `undefined` for false.
 */
export function omitEmpty(obj: Record<string, unknown>, alwaysPresent: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined) continue;
    if (isEmpty(value) && !alwaysPresent.includes(key)) continue;
    out[key] = value;
  }
  return out;
}

/** RFC 3339 with zone, as the classic service wrote times; undefined for null. */
export function timeJson(value: Date | null | undefined): string | undefined {
  return value ? value.toISOString() : undefined;
}

const DEFINITION_ALWAYS = ['env', 'tags', 'ports'] as const;

export function definitionJson(row: TaskDefinitionRow): Record<string, unknown> {
  return omitEmpty(
    {
      definition_id: row.definitionId,
      alias: row.alias,
      group_name: row.groupName,
      image: row.image,
      command: row.command,
      memory: row.memory,
      cpu: row.cpu,
      gpu: row.gpu,
      ephemeral_storage: row.ephemeralStorage,
      env: row.env ?? [],
      tags: row.tags ?? [],
      ports: row.ports ?? [],
      adaptive_resource_allocation: row.adaptiveResourceAllocation,
      requires_docker: row.requiresDocker ? true : undefined,
      target_cluster: row.targetCluster,
    },
    DEFINITION_ALWAYS,
  );
}

/** One run_events row as a classic `pod_events` entry. */
export function podEventJson(e: RunEventRow): Record<string, unknown> {
  const detail = e.detail ?? {};
  if (e.kind === 'status') {
    return {
      timestamp: e.at.toISOString(),
      event_type: 'Normal',
      reason: `Status${e.toStatus ? e.toStatus.charAt(0) + e.toStatus.slice(1).toLowerCase().replace('_r', 'R') : ''}`,
      source_object: 'flotilla',
      message: `${e.fromStatus ?? 'new'} → ${e.toStatus}${e.reason ? `: ${e.reason}` : ''}`,
    };
  }
  return {
    timestamp: e.at.toISOString(),
    event_type: typeof detail.event_type === 'string' ? detail.event_type : e.kind === 'warning' ? 'Warning' : 'Normal',
    reason: e.reason ?? e.kind,
    source_object: typeof detail.source_object === 'string' ? detail.source_object : 'flotilla',
    message: typeof detail.message === 'string' ? detail.message : (e.reason ?? ''),
  };
}

const RUN_ALWAYS = [
  'run_id',
  'definition_id',
  'alias',
  'image',
  'cluster',
  'status',
  'group_name',
  'description',
  'instance',
  'pod_events',
  'cloudtrail_notifications',
  'spark_extension',
  'cpu',
  'memory',
  'cpu_limit',
  'memory_limit',
  // Every run has an executable (a definition or a template); classic clients branch on
  // its type, so they are not left to the omit-empty rule.
  'executable_id',
  'executable_type',
] as const;

/**
 * The classic run JSON. `events` fills `pod_events` for single-run reads; lists leave it
 * empty rather than read every run's timeline.
 */
export function runJson(run: RunRow, events: RunEventRow[] = []): Record<string, unknown> {
  return omitEmpty(
    {
      run_id: run.runId,
      definition_id: run.definitionId,
      alias: run.alias,
      image: run.image,
      cluster: run.clusterName,
      status: run.status,
      group_name: run.groupName,
      description: run.description || run.alias,
      instance: { instance_id: run.instanceId ?? '', dns_name: run.instanceDnsName ?? '' },
      pod_events: events.filter((e) => e.kind !== 'status').map(podEventJson),
      cloudtrail_notifications: { Records: [] },
      spark_extension: {},
      cpu: run.cpu,
      memory: run.memory,
      cpu_limit: run.cpuLimit,
      memory_limit: run.memoryLimit,
      exit_code: run.exitCode,
      exit_reason: run.exitReason,
      queued_at: timeJson(run.queuedAt),
      started_at: timeJson(run.startedAt),
      finished_at: timeJson(run.finishedAt),
      user: run.owner,
      env: run.env,
      command: run.command,
      command_hash: run.commandHash,
      gpu: run.gpu,
      ephemeral_storage: run.ephemeralStorage,
      engine: run.engine,
      // Ours: the engine the request named, when another ran it (FLOTILLA_ENGINE_SUBSTITUTES).
      engine_requested: run.engineRequested,
      executable_id: run.definitionId,
      executable_type: run.executableType,
      execution_request_custom: run.executionRequestCustom,
      max_memory_used: run.maxMemoryUsed,
      max_cpu_used: run.maxCpuUsed,
      // Ours: why the run got its cpu and memory (adaptive resources); like every key
      // classic clients do not know, omitted when empty rather than always present.
      resource_reason: run.resourceReason,
      node_lifecycle: run.nodeLifecycle,
      pod_name: run.podName,
      namespace: run.namespace,
      attempt_count: run.attempt,
      active_deadline_seconds: run.activeDeadlineSeconds,
      idempotence_key: run.idempotenceKey,
      arch: run.arch,
      labels: run.labels,
      service_account: run.serviceAccount,
      tier: run.tier,
      task_type: 'task',
    },
    RUN_ALWAYS,
  );
}
