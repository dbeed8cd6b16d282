// Task definitions: validation and rules. REST and GraphQL both call this; nothing else
// writes task_definitions.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db, DbOrTx } from '../db/client.js';
import type { TaskDefinitionRow } from '../db/schema.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import * as store from '../store/definitions.js';
import type { ListSpec } from '../store/listQuery.js';
import { LIMITS } from './resources.js';
import { envLimitIssues, limitedCommand, limitedTags } from './inputLimits.js';
import { LOCAL_ADMIN, assertAllowed, type Actor } from './authorization.js';
import { definitionHistory } from '../db/schema.js';
import { parseOrThrow, storable } from './validation.js';
import { isUniqueViolation } from '../store/errors.js';

export type TaskDefinition = TaskDefinitionRow;

const GROUP_NAME = /^[A-Za-z0-9_-]{1,255}$/;

export const requiredString = (name: string) =>
  z
    .string({ error: (iss) => (iss.input === undefined || iss.input === null ? `${name} must be specified` : `${name} must be a string`) })
    .trim()
    .min(1, { error: `${name} must be specified` })
    .max(1024, { error: `${name} must be at most 1024 characters` });

export const intField = (name: string, max: number) =>
  z
    .number({ error: `${name} must be an integer between 0 and ${max}` })
    .int({ error: `${name} must be an integer between 0 and ${max}` })
    .min(0, { error: `${name} must be an integer between 0 and ${max}` })
    .max(max, { error: `${name} must be an integer between 0 and ${max}` });

const envVar = z.object(
  {
    name: z.string({ error: 'env name must be a non-empty string' }).regex(/^[^=\0]+$/, { error: 'env name must be a non-empty string without "="' }),
    value: z.string({ error: 'env value must be a string (quote numbers and booleans)' }),
  },
  { error: 'env entries must be objects {"name": "...", "value": "..."}' },
);

export const envField = z.array(envVar, { error: 'env must be an array of {"name": "...", "value": "..."}' }).superRefine((env, ctx) => {
  for (const issue of envLimitIssues(env)) ctx.addIssue({ code: 'custom', path: issue.path.slice(1), message: issue.message });
});

const fields = {
  groupName: z.string({ error: 'groupName must be a string' }).regex(GROUP_NAME, { error: 'groupName must be 1-255 letters, digits, "-" or "_"' }),
  command: limitedCommand.nullable(),
  memory: intField('memory', LIMITS.memory.max).nullable(),
  cpu: intField('cpu', LIMITS.cpu.max).nullable(),
  gpu: intField('gpu', LIMITS.gpu.max).nullable(),
  ephemeralStorage: intField('ephemeralStorage', LIMITS.ephemeralStorage.max).nullable(),
  env: envField,
  tags: limitedTags,
  ports: z.array(
    z
      .number({ error: 'ports must be integers 1-65535' })
      .int({ error: 'ports must be integers 1-65535' })
      .min(1)
      .max(65535, { error: 'ports must be integers 1-65535' }),
    { error: 'ports must be an array of integers' },
  ),
  adaptiveResourceAllocation: z.boolean({ error: 'adaptiveResourceAllocation must be true or false' }).nullable(),
  requiresDocker: z.boolean({ error: 'requiresDocker must be true or false' }),
  targetCluster: z.string({ error: 'targetCluster must be a string' }).nullable(),
};

const createSchema = storable(
  z.object({
    alias: requiredString('alias'),
    image: requiredString('image'),
    groupName: fields.groupName.default('default'),
    command: fields.command.optional(),
    memory: fields.memory.optional(),
    cpu: fields.cpu.optional(),
    gpu: fields.gpu.optional(),
    ephemeralStorage: fields.ephemeralStorage.optional(),
    env: fields.env.default([]),
    tags: fields.tags.default([]),
    ports: fields.ports.default([]),
    adaptiveResourceAllocation: fields.adaptiveResourceAllocation.optional(),
    requiresDocker: fields.requiresDocker.default(false),
    targetCluster: fields.targetCluster.optional(),
  }),
);

const updateSchema = storable(
  z.object({
    alias: requiredString('alias').optional(),
    image: requiredString('image').optional(),
    groupName: fields.groupName.optional(),
    command: fields.command.optional(),
    memory: fields.memory.optional(),
    cpu: fields.cpu.optional(),
    gpu: fields.gpu.optional(),
    ephemeralStorage: fields.ephemeralStorage.optional(),
    env: fields.env.optional(),
    tags: fields.tags.optional(),
    ports: fields.ports.optional(),
    adaptiveResourceAllocation: fields.adaptiveResourceAllocation.optional(),
    requiresDocker: fields.requiresDocker.optional(),
    targetCluster: fields.targetCluster.optional(),
  }),
);

export type CreateDefinitionInput = z.input<typeof createSchema>;
export type UpdateDefinitionInput = z.input<typeof updateSchema>;

/** Columns a definition list may be sorted by (REST `sort_by`). */
export const DEFINITION_SORT_FIELDS = ['alias', 'image', 'group_name', 'memory'] as const;
/** Columns a definition list may be filtered by; the first five match substrings. */
export const DEFINITION_FILTER_FIELDS = ['alias', 'image', 'group_name', 'command', 'definition_id', 'memory', 'cpu', 'gpu', 'target_cluster'] as const;

const aliasConflict = (alias: string, cause?: unknown) =>
  // The classic message, typo included: clients match on it.
  new ConflictError(`definition with alias [${alias}] aleady exists`, { cause });

/** One entry of the definition's history: who changed it and what it became. */
async function recordHistory(tx: DbOrTx, row: TaskDefinition, action: 'create' | 'update' | 'delete' | 'purge', actor: string | null): Promise<void> {
  const { createdAt: _c, updatedAt: _u, ...snapshot } = row;
  await tx.insert(definitionHistory).values({ definitionId: row.definitionId, version: row.version, action, actor, snapshot });
}

export interface DeleteOptions {
  /** Stop the definition's unfinished runs (through the normal stop path) instead of refusing. */
  force?: boolean;
  /** Remove the definition and its finished runs, events and logs for real. */
  purge?: boolean;
  /** Who asked, recorded on the runs a forced delete stops. */
  by?: string | null;
  /** The caller: users delete only definitions they created (domain/authorization.ts). */
  actor?: Actor | null;
}

/** At most this many run ids are named in a refusal; the message says how many more. */
const NAMED_RUNS = 20;

function unfinishedConflict(id: string, runIds: string[], fix: string): ConflictError {
  const shown = runIds.slice(0, NAMED_RUNS).join(', ');
  const more = runIds.length > NAMED_RUNS ? ` and ${runIds.length - NAMED_RUNS} more` : '';
  return new ConflictError(`Definition ${id} has ${runIds.length} unfinished run(s): ${shown}${more}. ${fix}`);
}

export function createDefinitionService(deps: { db: Db; stopRun?: (runId: string, by: string | null | undefined) => Promise<unknown> }) {
  const { db } = deps;

  async function stopAll(runIds: string[], by: string | null | undefined): Promise<void> {
    if (runIds.length === 0) return;
    if (!deps.stopRun) throw new Error('definition service built without stopRun: cannot force a delete');
    for (const runId of runIds) await deps.stopRun(runId, by);
  }

  return {
    async create(input: unknown, actor: Actor | null = LOCAL_ADMIN): Promise<TaskDefinition> {
      assertAllowed(actor, 'definition.create');
      const v = parseOrThrow(createSchema, input);
      const by = actor?.id ?? null;
      try {
        return await db.transaction(async (tx) => {
          const row = await store.insertDefinition(tx, {
            createdBy: by,
            updatedBy: by,
            definitionId: `${v.groupName}-${randomUUID()}`,
            alias: v.alias,
            groupName: v.groupName,
            image: v.image,
            command: v.command ?? null,
            memory: v.memory ?? null,
            cpu: v.cpu ?? null,
            gpu: v.gpu ?? null,
            ephemeralStorage: v.ephemeralStorage ?? null,
            env: v.env,
            tags: v.tags,
            ports: v.ports,
            adaptiveResourceAllocation: v.adaptiveResourceAllocation ?? null,
            requiresDocker: v.requiresDocker,
            targetCluster: v.targetCluster ?? null,
          });
          await recordHistory(tx, row, 'create', by);
          return row;
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw aliasConflict(v.alias, err);
        throw err;
      }
    },

    /** A live definition; with `includeArchived`, also a deleted one whose runs are kept. */
    async get(id: string, opts: { includeArchived?: boolean } = {}): Promise<TaskDefinition> {
      const row = await store.getDefinitionById(db, id, opts);
      if (!row) throw new NotFoundError(`Definition with ID ${id} not found`);
      return row;
    },

    async getByAlias(alias: string): Promise<TaskDefinition> {
      const row = await store.getDefinitionByAlias(db, alias);
      if (!row) throw new NotFoundError(`Definition with alias ${alias} not found`);
      return row;
    },

    /** Fields that are present replace the stored ones (env replaced whole); bumps version. */
    async update(id: string, input: unknown, actor: Actor | null = LOCAL_ADMIN): Promise<TaskDefinition> {
      assertAllowed(actor, 'definition.update');
      const v = parseOrThrow(updateSchema, input);
      const changes = Object.fromEntries(Object.entries(v).filter(([, value]) => value !== undefined));
      const by = actor?.id ?? null;
      try {
        return await db.transaction(async (tx) => {
          const row = await store.updateDefinition(tx, id, { ...changes, updatedBy: by });
          if (!row) throw new NotFoundError(`Definition with ID ${id} not found`);
          await recordHistory(tx, row, 'update', by);
          return row;
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw aliasConflict(String(v.alias), err);
        throw err;
      }
    },

    /**
     * Deleting archives: the definition leaves lists and frees its alias; its runs, their
     * events and logs stay readable by id. Unfinished runs make it a conflict unless
     * `force`, which stops them first, so no job is ever left running untracked. `purge`
     * removes an archived (or live) definition with its finished runs for real.
     */
    async delete(id: string, opts: DeleteOptions = {}): Promise<void> {
      const actor = opts.actor === undefined ? LOCAL_ADMIN : opts.actor;
      assertAllowed(actor, 'definition.delete');
      const notFound = () => new NotFoundError(`Definition with ID ${id} not found`);
      const current = await store.getDefinitionById(db, id, { includeArchived: true });
      if (!current) throw notFound();
      assertAllowed(actor, 'definition.delete', { createdBy: current.createdBy });
      if (opts.purge) {
        if (!(await store.getDefinitionById(db, id, { includeArchived: true }))) throw notFound();
        if (opts.force) await stopAll(await store.unfinishedRunIds(db, id), opts.by);
        await db.transaction(async (tx) => {
          // Archived first, so no new run can be executed from it while we look.
          await store.archiveDefinition(tx, id);
          const open = await store.unfinishedRunIds(tx, id);
          if (open.length > 0) throw unfinishedConflict(id, open, 'A purge removes only finished runs: stop them first (or pass force=true).');
          await store.deleteDefinition(tx, id);
          await recordHistory(tx, current, 'purge', actor?.id ?? null);
        });
        return;
      }
      if (!(await store.getDefinitionById(db, id))) throw notFound();
      const open = await store.unfinishedRunIds(db, id);
      if (open.length > 0 && !opts.force) {
        throw unfinishedConflict(id, open, 'Stop them first, or delete with force=true to stop them and delete.');
      }
      await stopAll(open, opts.by);
      await db.transaction(async (tx) => {
        if (!(await store.archiveDefinition(tx, id))) throw notFound();
        await recordHistory(tx, current, 'delete', actor?.id ?? null);
        const late = await store.unfinishedRunIds(tx, id);
        if (late.length > 0 && !opts.force) throw unfinishedConflict(id, late, 'Stop them first, or delete with force=true to stop them and delete.');
      });
      // A run executed from it between the stop and the archive: stop it too.
      if (opts.force) await stopAll(await store.unfinishedRunIds(db, id), opts.by);
    },

    history(id: string) {
      return store.listDefinitionHistory(db, id);
    },

    list(spec: ListSpec, opts: { includeArchived?: boolean } = {}) {
      return store.listDefinitions(db, spec, opts);
    },

    groups(opts: { name?: string; limit: number; offset: number }) {
      return store.listGroups(db, opts);
    },

    tags() {
      return store.listTags(db);
    },
  };
}

export type DefinitionService = ReturnType<typeof createDefinitionService>;

export function assertValidId(id: string, field = 'definition_id'): void {
  if (id.length === 0 || id.length > 300) throw new ValidationError([{ path: [field], message: `${field} must be 1-300 characters` }]);
}
