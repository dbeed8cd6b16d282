// Rows → the classic JSON shapes. The classic service omitted null and empty fields
// (Go `omitempty`) except a few the UI reads unguarded; `omitEmpty` is that rule.
import type { TaskDefinitionRow } from '../../db/schema.js';

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
