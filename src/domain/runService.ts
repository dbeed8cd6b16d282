// Runs, API-facing: execute (the row *is* the queue entry), get, list, stop, the job's own
// status report. REST and GraphQL come through here; the moves themselves are carried out
// and published by runUpdates.ts (the engine-facing side, which the workers use).
import { LOCAL_ADMIN, assertAllowed, type Actor } from './authorization.js';
import { limitedCommand } from './inputLimits.js';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { canonicalEngine, type Config, type EngineName } from '../config.js';
import type { Db } from '../db/client.js';
import type { ClusterRow, EnvVar, NewRunRow, RunRow, TaskDefinitionRow } from '../db/schema.js';
import type { EngineRegistry } from '../engines/registry.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import * as defs from '../store/definitions.js';
import * as store from '../store/runs.js';
import { insertRun, queueRunInsert, type RunGuard } from '../store/runInserts.js';
import type { ExecuteLookup } from '../store/definitions.js';
import { createLookupCache, isRefusal, lookupKey, StaleLookup } from './lookups.js';
import { listRunEvents } from '../store/runEvents.js';
import type { ListSpec } from '../store/listQuery.js';
import { createClusterService, DEFAULT_CLUSTER, type ClusterService, type RouteRequest } from './clusterService.js';
import { adaptsOn, sizeRun } from './adaptiveResources.js';
import { envField, intField } from './definitionService.js';
import { RUN_STATUSES, reportFacts, stopReason } from './lifecycle.js';
import { LIMITS } from './resources.js';
import { buildRunRow, commandHashOf, newRunId, reservedEnvNames, runCommand, type Executable } from './runRow.js';
import { createRunUpdates, type RunUpdates } from './runUpdates.js';
import { fieldName, parseOrThrow, storable, toValidationError } from './validation.js';

export type Run = RunRow;

const IDEMPOTENCE_WINDOW_MS = 7 * 24 * 3600 * 1000;

const stringMap = (name: string, valueError: (path: string) => string = () => `${name} values must be strings`) =>
  z.record(z.string(), z.string({ error: (iss) => valueError(fieldName(iss.path ?? [])) }), { error: `${name} must be an object of string values` });

/** The owner is required: who the run is for (REST words it as the classic run_tags rule). */
export const OWNER_MISSING = 'owner must be a non-empty string: who the run is for';

/**
 * A cpu/memory override: any non-negative integer, clamped later to the engine limits
 * (docs/engines.md "Resources" clamps the effective value; it does not refuse it).
 */
const resourceOverride = (name: string, max: number) => {
  const message = `${name} must be a non-negative integer (values above ${max} are clamped to ${max})`;
  return z.number({ error: message }).int({ error: message }).min(0, { error: message }).max(2_147_483_647, { error: message });
};

const executeSchema = storable(
  z.object({
    owner: z
      .string({ error: (iss) => (iss.input == null ? OWNER_MISSING : 'owner must be a string') })
      .trim()
      .min(1, { error: OWNER_MISSING }),
    runTags: stringMap('runTags', (path) => `${path} must be a string`).default({}),
    cluster: z.string({ error: 'cluster must be a string' }).trim().optional(),
    env: envField.default([]),
    command: limitedCommand.optional(),
    memory: resourceOverride('memory', LIMITS.memory.max).optional(),
    cpu: resourceOverride('cpu', LIMITS.cpu.max).optional(),
    gpu: intField('gpu', LIMITS.gpu.max).optional(),
    ephemeralStorage: intField('ephemeralStorage', LIMITS.ephemeralStorage.max).optional(),
    engine: z.string({ error: 'engine must be a string' }).optional(),
    nodeLifecycle: z.enum(['spot', 'ondemand'], { error: 'nodeLifecycle must be spot or ondemand' }).optional(),
    activeDeadlineSeconds: z
      .number({ error: 'activeDeadlineSeconds must be a positive integer' })
      .int({ error: 'activeDeadlineSeconds must be a positive integer' })
      .min(1, { error: 'activeDeadlineSeconds must be a positive integer' })
      .max(31_536_000, { error: 'activeDeadlineSeconds must be at most 31536000 (one year)' })
      .optional(),
    description: z.string({ error: 'description must be a string' }).max(4096).optional(),
    idempotenceKey: z.string({ error: 'idempotenceKey must be a string' }).min(1).max(512).optional(),
    arch: z
      .string({ error: 'arch must be a string' })
      .regex(/^[a-z0-9_-]{1,32}$/, { error: 'arch must be like amd64 or arm64' })
      .optional(),
    labels: stringMap('labels').default({}),
    serviceAccount: z.string({ error: 'serviceAccount must be a string' }).optional(),
    tier: z.string({ error: 'tier must be a string' }).optional(),
  }),
);

export type ExecuteInput = z.input<typeof executeSchema>;
export type ExecuteFields = z.output<typeof executeSchema>;

/** Parses an execute input (domain names: owner, runTags, activeDeadlineSeconds, ...). */
export function parseExecute(input: unknown): ExecuteFields {
  return parseOrThrow(executeSchema, input);
}

/** What a run is made from: a task definition, or a template with its command rendered. */
export type { Executable } from './runRow.js';

export function executableOfDefinition(d: TaskDefinitionRow): Executable {
  return {
    type: 'task_definition',
    id: d.definitionId,
    version: d.version,
    alias: d.alias,
    groupName: d.groupName,
    image: d.image,
    command: d.command,
    env: d.env,
    cpu: d.cpu,
    memory: d.memory,
    gpu: d.gpu,
    ephemeralStorage: d.ephemeralStorage,
    targetCluster: d.targetCluster,
    adaptiveResourceAllocation: d.adaptiveResourceAllocation,
  };
}

/** A dry run's answer: the row as it would be inserted, with the defaults the database would fill. */
function dryRunRow(row: NewRunRow): RunRow {
  const now = new Date();
  return {
    engineRef: null,
    podName: null,
    namespace: null,
    instanceId: null,
    instanceDnsName: null,
    exitCode: null,
    exitReason: null,
    startedAt: null,
    finishedAt: null,
    nextAttemptAt: null,
    claimedBy: null,
    claimExpiresAt: null,
    lastError: null,
    missingSince: null,
    logCursor: null,
    logsComplete: false,
    logClaimedBy: null,
    logClaimExpiresAt: null,
    maxMemoryUsed: null,
    maxCpuUsed: null,
    queuedAt: now,
    updatedAt: now,
    ...row,
  } as RunRow;
}

/** Not String() for a structure: an array nested thousands deep would overflow the stack joining itself. */
const shownStatus = (v: unknown) => (v !== null && typeof v === 'object' ? (Array.isArray(v) ? 'an array' : 'an object') : String(v));
const EXIT_CODE_RANGE = 'exitCode must be between -2147483648 and 2147483647';

/** A job's own status report (`PUT /{run_id}/status`). */
const reportSchema = storable(
  z.object({
    status: z.enum(RUN_STATUSES, { error: (iss) => `status ${shownStatus(iss.input)} is invalid` }),
    // A 32-bit column: a larger integer would fail in the driver (a 500). The range is checked
    // first so a huge integer is told the range, not that it is no integer.
    exitCode: z
      .number({ error: 'exitCode must be an integer' })
      .min(-2_147_483_648, { error: EXIT_CODE_RANGE })
      .max(2_147_483_647, { error: EXIT_CODE_RANGE })
      .int({ error: 'exitCode must be an integer' })
      .nullish(),
    exitReason: z.string({ error: 'exitReason must be a string' }).nullish(),
  }),
);

export interface RunServiceDeps {
  db: Db;
  bus: EventBus;
  config: Config;
  logger: Logger;
  engines?: EngineRegistry;
  metrics?: Metrics;
  /** Routing checks at execute; built from db and engines when absent. */
  clusters?: ClusterService;
  /** The engine-facing side; built from the same deps when absent. */
  updates?: RunUpdates;
}

/** ECS refuses a RunTask whose container overrides exceed 8 KiB; say so now, not at submit. */
export const ECS_OVERRIDES_MAX_BYTES = 8192;
function checkEcsOverrideSize(command: string | null, env: EnvVar[]): void {
  const size = Buffer.byteLength(
    JSON.stringify({ containerOverrides: [{ name: 'main', command: command === null ? undefined : ['bash', '-c', command], environment: env }] }),
  );
  if (size > ECS_OVERRIDES_MAX_BYTES) {
    throw new ValidationError([
      {
        path: ['env'],
        message: `env and command come to ${size} bytes of ECS container overrides; the ecs engine accepts at most ${ECS_OVERRIDES_MAX_BYTES}: move values into the image or the task definition, or run on another engine`,
      },
    ]);
  }
}

export function createRunService(deps: RunServiceDeps) {
  const { db, config } = deps;
  const clusters = deps.clusters ?? createClusterService(deps);
  const updates = deps.updates ?? createRunUpdates(deps);

  function enabledEngines(): EngineName[] {
    return deps.engines?.names() ?? config.enabledEngines ?? [config.defaultEngine ?? 'local'];
  }

  function defaultEngine(): EngineName {
    return deps.engines?.defaultName() ?? config.defaultEngine ?? enabledEngines()[0] ?? 'local';
  }

  /**
   * The engine a request names (classic names accepted: `eks` is kubernetes). One that is not
   * enabled runs on its configured substitute (FLOTILLA_ENGINE_SUBSTITUTES), else is refused.
   */
  function chooseEngine(
    requested: string | undefined,
  ): { engine?: undefined; requested?: undefined; substituted: false } | { engine: EngineName; requested: EngineName; substituted: boolean } {
    if (requested === undefined || requested.trim() === '') return { substituted: false };
    const enabled = enabledEngines();
    const engine = canonicalEngine(requested);
    if (!engine) throw new ValidationError([{ path: ['engine'], message: `engine ${requested} is unknown: use local, docker, kubernetes (or eks), ecs` }]);
    if (enabled.includes(engine)) return { engine, requested: engine, substituted: false };
    const substitute = config.engineSubstitutes[engine];
    if (substitute && enabled.includes(substitute)) return { engine: substitute, requested: engine, substituted: true };
    throw new ValidationError([
      {
        path: ['engine'],
        message: `engine ${requested} is not enabled here; enabled: ${enabled.join(', ')} (or let another engine run it: FLOTILLA_ENGINE_SUBSTITUTES=${requested.trim().toLowerCase()}:${enabled[0] ?? 'local'})`,
      },
    ]);
  }

  function routeRequest(name: string, v: ExecuteFields, exe: Executable, engine: EngineName | undefined): RouteRequest {
    return {
      name,
      source: v.cluster ? 'request' : exe.targetCluster ? 'definition' : 'default',
      engine,
      tier: v.tier ?? null,
      defaultEngine: defaultEngine(),
      enabledEngines: enabledEngines(),
    };
  }

  const lookups = createLookupCache();

  const service = {
    enabledEngines,

    async execute(target: { definitionId?: string; alias?: string }, input: unknown, actor: Actor | null = LOCAL_ADMIN): Promise<RunRow> {
      assertAllowed(actor, 'run.execute');
      const v = parseExecute(input);
      // The owner is the request's run_tags.owner_id: a user's own id (authorization.ts).
      assertAllowed(actor, 'run.execute', { ownerId: v.owner });
      const launchFound = async (found: ExecuteLookup, guard?: RunGuard) => {
        const cluster = { name: found.clusterName, row: found.cluster };
        return (await service.launch(executableOfDefinition(found.definition), v, { actor: actor?.id ?? null, cluster, guard })).run;
      };
      // Without an idempotence key the insert is the execute's one round trip: the definition
      // and cluster come from an earlier execute's read, and the insert checks they are still
      // current (lookups.ts). When they are not, or when the run built from them is refused
      // (a refusal is checked before anything is stored, and may rest on what changed), the
      // execute reads them again and decides as a first execute does.
      const key = v.idempotenceKey ? undefined : lookupKey(target, v.cluster);
      const cached = key === undefined ? undefined : lookups.get(key);
      if (cached) {
        try {
          return await launchFound(cached, { clusterXmin: cached.clusterXmin });
        } catch (err) {
          if (!(err instanceof StaleLookup || isRefusal(err))) throw err;
          lookups.delete(key!);
        }
      }
      // The definition and the registry row of its run's cluster, read together.
      const found = await defs.getDefinitionForExecute(db, target, { requested: v.cluster, defaultName: DEFAULT_CLUSTER });
      if (!found) {
        throw new NotFoundError(
          target.alias !== undefined ? `Definition with alias ${target.alias} not found` : `Definition with ID ${target.definitionId} not found`,
        );
      }
      const run = await launchFound(found);
      if (key !== undefined) lookups.set(key, found);
      return run;
    },

    /**
     * The cpu and memory a run of this definition would get now, and why, without running
     * anything (`flotilla explain-resources`): an execute as a dry run.
     */
    async explainResources(
      target: { definitionId?: string; alias?: string },
      input: { engine?: string; cpu?: number; memory?: number; gpu?: number; command?: string; cluster?: string } = {},
    ): Promise<{ definitionId: string; alias: string; engine: string; cpu: number; memory: number; reason: string }> {
      const definition =
        target.alias !== undefined ? await defs.getDefinitionByAlias(db, target.alias) : await defs.getDefinitionById(db, target.definitionId ?? '');
      if (!definition) {
        throw new NotFoundError(
          target.alias !== undefined ? `Definition with alias ${target.alias} not found` : `Definition with ID ${target.definitionId} not found`,
        );
      }
      const v = parseExecute({ ...input, owner: 'explain-resources' });
      const { run } = await service.launch(executableOfDefinition(definition), v, { dryRun: true });
      return {
        definitionId: definition.definitionId,
        alias: definition.alias,
        engine: run.engine,
        cpu: run.cpu,
        memory: run.memory,
        reason: run.resourceReason ?? '',
      };
    },

    /** Validates an execute body (v6 shape, camelCase keys) without running anything. */
    parseExecute,

    /**
     * Builds the run of an executable (a definition, or a rendered template) and queues it;
     * with `dryRun` it returns the row it would insert and stores nothing.
     */
    async launch(
      exe: Executable,
      v: ExecuteFields,
      opts: {
        dryRun?: boolean;
        executionRequestCustom?: Record<string, unknown>;
        /** Who executed it (audit). */ actor?: string | null;
        /** The registry row of the run's cluster, already read with the executable (null: not registered). */
        cluster?: { name: string; row: ClusterRow | null };
        /** Insert only if the definition and cluster are still as read (else StaleLookup, nothing stored). */
        guard?: RunGuard;
      } = {},
    ): Promise<{ run: RunRow; created: boolean }> {
      const reserved = reservedEnvNames(config.ownerIdVar);
      for (const e of v.env) {
        if (reserved.includes(e.name)) throw new ConflictError(`environment variable ${e.name} is reserved`);
      }
      // The cluster: request → executable target_cluster → default; it must exist, be active
      // and take this tier. With no engine named, the cluster's engine runs it.
      const clusterName = v.cluster || exe.targetCluster || DEFAULT_CLUSTER;
      const choice = chooseEngine(v.engine);
      let engine: EngineName;
      const notes: string[] = [];
      if (choice.substituted) {
        // The substitute knows nothing of the requested engine's clusters or node lifecycles:
        // they are recorded on the run and ignored, unless the cluster is registered for the
        // substitute itself (then its rules apply).
        const registered = await clusters.find(clusterName);
        if (registered?.registered && canonicalEngine(registered.engine) === choice.engine) {
          ({ engine } = await clusters.route(routeRequest(clusterName, v, exe, choice.engine)));
        } else {
          engine = choice.engine;
          notes.push(`cluster ${clusterName} recorded, not used by engine ${engine}`);
        }
        notes.unshift(`engine ${choice.requested} is not enabled here; ran on its substitute ${engine}`);
      } else {
        const registered = opts.cluster?.name === clusterName ? opts.cluster.row : undefined;
        ({ engine } = await clusters.route({ ...routeRequest(clusterName, v, exe, choice.engine), registered }));
      }
      const runId = newRunId(engine);
      const gpu = v.gpu ?? exe.gpu ?? null;
      const sized = await sizeRun(db, {
        executableId: exe.id,
        commandHash: commandHashOf(runCommand(exe, v)),
        adaptive: exe.adaptiveResourceAllocation !== false && adaptsOn(engine),
        override: { cpu: v.cpu, memory: v.memory },
        executable: { cpu: exe.cpu, memory: exe.memory },
        gpu,
        kind: exe.type === 'template' ? 'template' : 'definition',
      });
      const row = buildRunRow(exe, v, {
        runId,
        engine,
        engineRequested: choice.requested ?? null,
        clusterName,
        mode: config.mode,
        ownerIdVar: config.ownerIdVar,
        maxAttempts: config.workers.maxAttempts,
        resources: sized,
        executionRequestCustom: opts.executionRequestCustom ?? null,
      });
      const { command, env } = row;
      if (engine === 'ecs') checkEcsOverrideSize(command, env);
      if (opts.dryRun) return { run: dryRunRow(row), created: false };
      const detail = {
        engine,
        cluster: row.clusterName,
        ...(opts.actor !== undefined ? { actor: opts.actor } : {}),
        ...(choice.requested ? { engine_requested: choice.requested } : {}),
        ...(notes.length ? { notes } : {}),
      };
      const event = { reason: `executed by ${v.owner}`, detail };
      const key = v.idempotenceKey;
      // Without an idempotence key the insert is one statement, atomic by itself, shared with
      // the executes that arrive at the same time (store/runInserts.ts): no transaction, one
      // round trip, one commit for many runs.
      const { run, created } = !key
        ? { run: await queueRunInsert(db, row, event, opts.guard), created: true }
        : await db.transaction(async (tx) => {
            // Serialise executes that share a key, so two concurrent requests make one run.
            await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${key}))`);
            const earlier = await store.findByIdempotenceKey(tx, key, new Date(Date.now() - IDEMPOTENCE_WINDOW_MS));
            if (earlier) return { run: earlier, created: false };
            return { run: await insertRun(tx, row, event), created: true };
          });
      if (!run) throw new StaleLookup();
      if (created) await updates.queued(run);
      return { run, created };
    },

    async get(runId: string): Promise<RunRow> {
      const run = await store.getRun(db, runId);
      if (!run) throw new NotFoundError(`Run with id ${runId} not found`);
      return run;
    },

    list(spec: ListSpec) {
      return store.listRuns(db, spec);
    },

    events(runId: string) {
      return listRunEvents(db, runId);
    },

    /**
     * Stops a run and its children (env PARENT_FLOTILLA_RUN_ID). Idempotent. The run is
     * marked STOPPED first, so the stop reason wins over the exit the engine reports when
     * the process dies; then the engine object is terminated.
     */
    async stop(runId: string, opts: { by?: string | null; actor?: Actor | null } = {}): Promise<RunRow> {
      const actor = opts.actor === undefined ? LOCAL_ADMIN : opts.actor;
      assertAllowed(actor, 'run.stop');
      const run = await service.get(runId);
      assertAllowed(actor, 'run.stop', { ownerId: run.owner });
      const seen = new Set<string>();
      const stopOne = async (target: RunRow): Promise<void> => {
        if (seen.has(target.runId)) return;
        seen.add(target.runId);
        if (target.status !== 'STOPPED') await updates.stop(target, stopReason(opts.by), opts.by ?? null, actor?.id ?? null);
        for (const child of await store.listChildRuns(db, target.runId)) await stopOne(child);
      };
      await stopOne(run);
      return service.get(runId);
    },

    /** A job's self-report (`PUT /{run_id}/status`): precedence rules apply, a lost race is fine. */
    async report(runId: string, input: { status?: unknown; exitCode?: unknown; exitReason?: unknown }, actor: Actor | null = LOCAL_ADMIN): Promise<RunRow> {
      assertAllowed(actor, 'run.report');
      if (actor !== LOCAL_ADMIN) assertAllowed(actor, 'run.report', { ownerId: (await service.get(runId)).owner });
      const parsed = reportSchema.safeParse({ status: input.status, exitCode: input.exitCode, exitReason: input.exitReason });
      // The first problem only, in field order, as the classic service answered.
      if (!parsed.success) throw toValidationError(new z.ZodError(parsed.error.issues.slice(0, 1)));
      const { status, exitCode, exitReason } = parsed.data;
      const run = await service.get(runId);
      const facts = reportFacts(run, status, { exitCode, exitReason });
      if (status === run.status) {
        if (status !== 'STOPPED' && Object.keys(facts).length) await store.updateRunFacts(db, runId, facts);
      } else {
        await updates.transition(runId, status, facts, 'reported by the job', { detail: { action: 'report' } });
      }
      return service.get(runId);
    },
  };
  return service;
}

export type RunService = ReturnType<typeof createRunService>;
