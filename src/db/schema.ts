// The whole data model (docs/architecture.md "Data"). Migrations in drizzle/ are generated from this file
// with `npm run db:generate` and only ever appended.
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { EngineName } from '../config.js';
import type { RunStatus } from '../engines/types.js';

export interface EnvVar {
  name: string;
  value: string;
}

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const taskDefinitions = pgTable(
  'task_definitions',
  {
    definitionId: text('definition_id').primaryKey(),
    alias: text('alias').notNull(),
    groupName: text('group_name').notNull(),
    image: text('image').notNull(),
    command: text('command'),
    memory: integer('memory'),
    cpu: integer('cpu'),
    gpu: integer('gpu'),
    ephemeralStorage: integer('ephemeral_storage'),
    env: jsonb('env').$type<EnvVar[]>().notNull().default([]),
    tags: jsonb('tags').$type<string[]>().notNull().default([]),
    ports: jsonb('ports').$type<number[]>().notNull().default([]),
    adaptiveResourceAllocation: boolean('adaptive_resource_allocation'),
    requiresDocker: boolean('requires_docker').notNull().default(false),
    targetCluster: text('target_cluster'),
    version: integer('version').notNull().default(1),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    /**
     * Set by a delete: the definition is hidden from lists and its alias is free again,
     * while its runs, their events and logs stay readable by id. A purge removes it.
     */
    archivedAt: ts('archived_at'),
    /** Who made the change (the request's identity; null with auth none and before audit existed). */
    createdBy: text('created_by'),
    updatedBy: text('updated_by'),
  },
  (t) => [
    // Only live definitions own their alias; archived ones may share it with a new one.
    uniqueIndex('task_definitions_alias_key')
      .on(t.alias)
      .where(sql`archived_at is null`),
    index('task_definitions_group_name_idx').on(t.groupName),
    index('task_definitions_env_gin').using('gin', t.env),
  ],
);

export const runs = pgTable(
  'runs',
  {
    runId: text('run_id').primaryKey(),
    /**
     * The executable's id: a definition's, or for a template run the template's (the classic
     * service did the same). No foreign key, since it names one of two tables; deleting a
     * definition deletes its runs explicitly (store/definitions.ts).
     */
    definitionId: text('definition_id').notNull(),
    definitionVersion: integer('definition_version').notNull(),
    /** `task_definition` or `template` (README "Classic web UI, templates and adaptive resources"). */
    executableType: text('executable_type').notNull().default('task_definition'),
    /** For a template run: `{"template_payload": <payload as sent>}`. */
    executionRequestCustom: jsonb('execution_request_custom').$type<Record<string, unknown>>(),
    // snapshot of what was launched
    alias: text('alias').notNull(),
    groupName: text('group_name').notNull(),
    image: text('image').notNull(),
    command: text('command'),
    commandHash: text('command_hash'),
    env: jsonb('env').$type<EnvVar[]>().notNull().default([]),
    cpu: integer('cpu').notNull(),
    memory: integer('memory').notNull(),
    cpuLimit: integer('cpu_limit').notNull(),
    memoryLimit: integer('memory_limit').notNull(),
    gpu: integer('gpu'),
    ephemeralStorage: integer('ephemeral_storage'),
    // where and how
    /** The engine that runs it. */
    engine: text('engine').$type<EngineName>().notNull(),
    /** The engine the request named (canonical), when it named one; differs from engine when substituted. */
    engineRequested: text('engine_requested').$type<EngineName>(),
    /** Why the run got its cpu and memory (adaptive resources), in words; null when nothing adapted. */
    resourceReason: text('resource_reason'),
    /** Peak usage the engine reported: MB and cpu units (1024 = one core). */
    maxMemoryUsed: integer('max_memory_used'),
    maxCpuUsed: integer('max_cpu_used'),
    clusterName: text('cluster_name').notNull(),
    status: text('status').$type<RunStatus>().notNull(),
    exitCode: integer('exit_code'),
    exitReason: text('exit_reason'),
    queuedAt: ts('queued_at').notNull().defaultNow(),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
    owner: text('owner').notNull(),
    runTags: jsonb('run_tags').$type<Record<string, string>>().notNull().default({}),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    nodeLifecycle: text('node_lifecycle').notNull().default('spot'),
    activeDeadlineSeconds: integer('active_deadline_seconds'),
    description: text('description'),
    idempotenceKey: text('idempotence_key'),
    arch: text('arch'),
    serviceAccount: text('service_account'),
    tier: text('tier'),
    // engine facts
    engineRef: text('engine_ref'),
    podName: text('pod_name'),
    namespace: text('namespace'),
    instanceId: text('instance_id'),
    instanceDnsName: text('instance_dns_name'),
    // scheduling
    attempt: integer('attempt').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(3),
    nextAttemptAt: ts('next_attempt_at'),
    claimedBy: text('claimed_by'),
    claimExpiresAt: ts('claim_expires_at'),
    lastError: text('last_error'),
    /** When reconcile first could not find the backend object (cleared when found). */
    missingSince: ts('missing_since'),
    /**
     * The stop intent: set in the same transaction as a stop (or timeout) moves the run to
     * STOPPED; a worker terminates the engine object until the engine confirms, then sets
     * stop_confirmed_at. An API instance that dies after the commit cannot lose the stop.
     */
    stopRequestedAt: ts('stop_requested_at'),
    stopConfirmedAt: ts('stop_confirmed_at'),
    // log collection: the engine's resume cursor is stored with each persisted chunk
    logCursor: text('log_cursor'),
    logsComplete: boolean('logs_complete').notNull().default(false),
    logClaimedBy: text('log_claimed_by'),
    logClaimExpiresAt: ts('log_claim_expires_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('runs_status_started_at_idx').on(t.status, t.startedAt.desc()),
    index('runs_definition_started_at_idx').on(t.definitionId, t.startedAt.desc()),
    // Adaptive resources: recent runs of one executable with one command.
    index('runs_definition_command_hash_idx').on(t.definitionId, t.commandHash, t.queuedAt.desc()),
    // The classic UI's "my runs in this status, newest first" (measured at 1M runs: 112 ms → 3 ms).
    index('runs_owner_status_started_at_idx').on(t.owner, t.status, t.startedAt.desc().nullsLast()),
    index('runs_cluster_idx').on(t.clusterName),
    index('runs_queued_at_idx').on(t.queuedAt.desc()),
    // jsonb_path_ops: containment (`env @> …`) is all we ask, and the index is half the size.
    index('runs_env_path_gin').using('gin', t.env.op('jsonb_path_ops')),
    // Active runs newest first reads only the non-final rows.
    index('runs_unfinished_started_at_idx')
      .on(t.startedAt.desc().nullsLast(), t.runId.desc())
      .where(sql`${t.status} <> 'STOPPED'`),
    index('runs_idempotence_key_idx')
      .on(t.idempotenceKey)
      .where(sql`${t.idempotenceKey} IS NOT NULL`),
    // The submit worker's claim query: due QUEUED runs, oldest first.
    index('runs_due_idx')
      .on(t.nextAttemptAt, t.queuedAt)
      .where(sql`${t.status} = 'QUEUED'`),
    index('runs_active_idx')
      .on(t.engine, t.status)
      .where(sql`${t.status} IN ('PENDING', 'RUNNING')`),
    index('runs_stop_pending_idx')
      .on(t.stopRequestedAt)
      .where(sql`${t.stopRequestedAt} IS NOT NULL AND ${t.stopConfirmedAt} IS NULL`),
    index('runs_logs_pending_idx')
      .on(t.queuedAt)
      .where(sql`${t.logsComplete} = false AND ${t.status} IN ('RUNNING', 'STOPPED')`),
  ],
);

/**
 * Each run's env pairs, one row a pair, with the run's started_at: the list filter
 * `env=NAME|VALUE` counts its matches and reads its newest-first page from this index alone
 * (the GIN index on runs.env must visit one heap page per match: 0.5 s for 58k matches at 1M
 * runs). Written only by triggers on runs (drizzle/0007_run_env_pairs.sql), so it
 * always holds exactly the pairs `runs.env @> '[{"name":…,"value":…}]'` matches.
 */
export const runEnvPairs = pgTable(
  'run_env_pairs',
  {
    name: text('name').notNull(),
    value: text('value').notNull(),
    startedAt: ts('started_at'),
    runId: text('run_id').notNull(),
  },
  // run_id NULLS FIRST is what the lists' `run_id desc` means: the index is then the page's order, no sort.
  (t) => [index('run_env_pairs_pair_started_at_idx').on(t.name, t.value, t.startedAt.desc().nullsLast(), t.runId.desc().nullsFirst())],
);

export const runEvents = pgTable(
  'run_events',
  {
    // Global sequence: orders one run's timeline and is cheap to insert concurrently.
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.runId, { onDelete: 'cascade' }),
    at: ts('at').notNull().defaultNow(),
    kind: text('kind').notNull(),
    fromStatus: text('from_status').$type<RunStatus>(),
    toStatus: text('to_status').$type<RunStatus>(),
    reason: text('reason'),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
    /**
     * Set for events a backend reports (pod events): the same event reported again — by a
     * restarted worker, or by another worker's watch — is the same key and is not appended twice.
     */
    dedupeKey: text('dedupe_key'),
  },
  (t) => [
    index('run_events_run_idx').on(t.runId, t.seq),
    uniqueIndex('run_events_dedupe_idx')
      .on(t.runId, t.dedupeKey)
      .where(sql`${t.dedupeKey} IS NOT NULL`),
  ],
);

export const runLogs = pgTable(
  'run_logs',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.runId, { onDelete: 'cascade' }),
    /** Dense per run, starting at 1: the position a reader resumes from. */
    seq: bigint('seq', { mode: 'number' }).notNull(),
    stream: text('stream').notNull(),
    at: ts('at').notNull().defaultNow(),
    /** A chunk of whole lines, newline-terminated. */
    text: text('text').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] }), index('run_logs_at_idx').on(t.at)],
);

export const clusters = pgTable('clusters', {
  name: text('name').primaryKey(),
  engine: text('engine').$type<EngineName>().notNull(),
  status: text('status').notNull().default('active'),
  allowedTiers: jsonb('allowed_tiers').$type<string[]>().notNull().default([]),
  capabilities: jsonb('capabilities').$type<string[]>().notNull().default([]),
  region: text('region'),
  namespace: text('namespace'),
  config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  updatedBy: text('updated_by'),
});

/** Every change of a definition: who, when, what it became (kept after the definition is deleted). */
export const definitionHistory = pgTable(
  'definition_history',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    definitionId: text('definition_id').notNull(),
    version: integer('version').notNull(),
    action: text('action').notNull(),
    actor: text('actor'),
    at: ts('at').notNull().defaultNow(),
    snapshot: jsonb('snapshot').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('definition_history_definition_idx').on(t.definitionId, t.seq)],
);

/** API tokens (FLOTILLA_AUTH=token): only the SHA-256 of the secret is stored. */
export const apiTokens = pgTable(
  'api_tokens',
  {
    tokenId: text('token_id').primaryKey(),
    hash: text('hash').notNull(),
    owner: text('owner').notNull(),
    role: text('role').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    createdBy: text('created_by'),
    expiresAt: ts('expires_at'),
    revokedAt: ts('revoked_at'),
    revokedBy: text('revoked_by'),
    lastUsedAt: ts('last_used_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash_key').on(t.hash)],
);

/** v7 templates (README "Classic web UI, templates and adaptive resources"): one row per (template_name, version). */
export const templates = pgTable(
  'templates',
  {
    templateId: text('template_id').primaryKey(),
    templateName: text('template_name').notNull(),
    version: integer('version').notNull(),
    schema: jsonb('schema').$type<Record<string, unknown>>().notNull(),
    commandTemplate: text('command_template').notNull(),
    defaults: jsonb('defaults').$type<Record<string, unknown>>().notNull().default({}),
    avatarUri: text('avatar_uri'),
    image: text('image').notNull(),
    memory: integer('memory').notNull(),
    cpu: integer('cpu').notNull(),
    gpu: integer('gpu'),
    env: jsonb('env').$type<EnvVar[]>().notNull().default([]),
    adaptiveResourceAllocation: boolean('adaptive_resource_allocation').notNull().default(true),
    ports: jsonb('ports').$type<number[]>().notNull().default([]),
    tags: jsonb('tags').$type<string[]>().notNull().default([]),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('templates_name_version_key').on(t.templateName, t.version)],
);

export type TaskDefinitionRow = typeof taskDefinitions.$inferSelect;
export type NewTaskDefinitionRow = typeof taskDefinitions.$inferInsert;
export type RunRow = typeof runs.$inferSelect;
export type NewRunRow = typeof runs.$inferInsert;
export type RunEventRow = typeof runEvents.$inferSelect;
export type RunLogRow = typeof runLogs.$inferSelect;
export type ClusterRow = typeof clusters.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;
export type TemplateRow = typeof templates.$inferSelect;
