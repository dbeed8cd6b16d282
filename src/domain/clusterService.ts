// The cluster registry: where runs may go, on which engine, in which state. REST and GraphQL
// call this for the metadata; runService calls `route` when a run is executed.
//
// The list is the registry plus what the enabled engines describe from their own
// configuration (a fresh install has the `default` cluster of its Kubernetes or ECS engine
// without registering anything). A registered cluster of the same name wins; an unregistered
// one is `registered: false`, always active, with no tier rule. PUT on it registers it (so
// `default` can be put into maintenance); DELETE on it is a conflict, there is nothing to delete.
import { z } from 'zod';
import { LOCAL_ADMIN, assertAllowed, type Actor } from './authorization.js';
import { canonicalEngine, ENGINE_NAMES, type EngineName } from '../config.js';
import type { Db } from '../db/client.js';
import type { ClusterRow } from '../db/schema.js';
import type { EngineRegistry } from '../engines/registry.js';
import { ConflictError, NotFoundError, ValidationError, errorMessage, type FieldIssue } from '../errors.js';
import type { Logger } from '../logger.js';
import * as store from '../store/clusters.js';
import { parseOrThrow, snakeCase, unstorableText } from './validation.js';
import { isUniqueViolation } from '../store/errors.js';

export const CLUSTER_STATUSES = ['active', 'maintenance', 'offline'] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

export interface ClusterView {
  name: string;
  engine: EngineName;
  status: ClusterStatus;
  allowedTiers: string[];
  capabilities: string[];
  region: string | null;
  namespace: string | null;
  /** Engine settings, e.g. `{"context": "<kubeconfig context>"}` for kubernetes. */
  config: Record<string, unknown>;
  updatedAt: Date | null;
  /** False: not in the registry; an enabled engine's configuration provides it. */
  registered: boolean;
}

/** The name runs get when neither the request nor the definition names a cluster. */
export const DEFAULT_CLUSTER = 'default';

const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const NAME_RULE = 'name must be 1-63 letters, digits, ".", "-" or "_", starting and ending with a letter or digit';
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Engine settings are a few levels deep. A deeper document is refused: Postgres parses jsonb
 * recursively and fails (a 500) some thousands of levels down.
 */
const MAX_CONFIG_DEPTH = 32;

/** Whether objects or arrays nest more than `limit` levels below `value`; iterative, so any depth is safe. */
function deeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const item of Object.values(v)) stack.push([item, depth + 1]);
  }
  return false;
}

const stringList = (field: string) =>
  z.array(z.string({ error: 'must be a string' }).trim().min(1, { error: 'must not be empty' }), { error: `${field} must be an array of strings` });

const fields = {
  name: z.string({ error: (i) => (i.input == null ? 'string [name] must be specified' : 'name must be a string') }).regex(NAME, { error: NAME_RULE }),
  engine: z.string({ error: (i) => (i.input == null ? 'string [engine] must be specified' : 'engine must be a string') }).transform((value, ctx) => {
    const engine = canonicalEngine(value);
    if (!engine) {
      ctx.addIssue({ code: 'custom', message: `engine ${value} is unknown: use ${ENGINE_NAMES.join(', ')} (or eks)` });
      return z.NEVER;
    }
    return engine;
  }),
  status: z.enum(CLUSTER_STATUSES, { error: `status must be one of ${CLUSTER_STATUSES.join(', ')}` }),
  allowedTiers: stringList('allowed_tiers'),
  capabilities: stringList('capabilities'),
  region: z.string({ error: 'region must be a string' }).trim().max(64, { error: 'region must be at most 64 characters' }).nullable(),
  namespace: z
    .string({ error: 'namespace must be a string' })
    .regex(NAMESPACE, { error: 'namespace must be a Kubernetes namespace name: 1-63 lowercase letters, digits or "-"' })
    .nullable(),
  config: z
    .record(z.string(), z.unknown(), { error: 'config must be a JSON object' })
    .refine((config) => !deeperThan(config, MAX_CONFIG_DEPTH), { error: `config must be at most ${MAX_CONFIG_DEPTH} levels deep` }),
};

const createSchema = z.object({
  name: fields.name,
  engine: fields.engine,
  status: fields.status.default('active'),
  allowedTiers: fields.allowedTiers.default([]),
  capabilities: fields.capabilities.default([]),
  region: fields.region.optional(),
  namespace: fields.namespace.optional(),
  config: fields.config.default({}),
});

const updateSchema = z.object({
  name: fields.name.optional(),
  engine: fields.engine.optional(),
  status: fields.status.optional(),
  allowedTiers: fields.allowedTiers.optional(),
  capabilities: fields.capabilities.optional(),
  region: fields.region.optional(),
  namespace: fields.namespace.optional(),
  config: fields.config.optional(),
});

/** Engine-specific rules on `config`, checked once the engine is known. */
function checkConfig(engine: string, config: Record<string, unknown>): void {
  const issues: FieldIssue[] = [];
  if (engine === 'kubernetes' && 'context' in config && (typeof config.context !== 'string' || config.context.trim() === '')) {
    issues.push({ path: ['config', 'context'], message: 'config.context must be the name of a kubeconfig context (a non-empty string)' });
  }
  if (issues.length) throw new ValidationError(issues);
}

/** Why a value (strings inside it, object keys included) cannot be stored, or undefined. Iterative: config may be deep. */
function unstorable(value: unknown): string | undefined {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      const reason = unstorableText(v);
      if (reason) return reason;
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        const reason = unstorableText(k);
        if (reason) return reason;
        stack.push(item);
      }
    }
  }
  return undefined;
}

/**
 * Postgres text and jsonb cannot hold U+0000, nor jsonb an unpaired surrogate: refuse it as
 * bad input naming the field, rather than fail in the driver (region is text, the lists and
 * config are jsonb).
 */
function rejectUnstorable(input: Record<string, unknown>): void {
  const issues: FieldIssue[] = [];
  for (const [key, value] of Object.entries(input)) {
    const reason = unstorable(value);
    if (reason) issues.push({ path: [key], message: `${snakeCase(key)} must not contain ${reason}` });
  }
  if (issues.length) throw new ValidationError(issues);
}

const notFound = (name: string) => new NotFoundError(`Cluster ${name} not found`);

const viewOf = (row: ClusterRow): ClusterView => ({
  name: row.name,
  engine: row.engine,
  status: (CLUSTER_STATUSES as readonly string[]).includes(row.status) ? (row.status as ClusterStatus) : 'offline',
  allowedTiers: row.allowedTiers,
  capabilities: row.capabilities,
  region: row.region,
  namespace: row.namespace,
  config: row.config,
  updatedAt: row.updatedAt,
  registered: true,
});

export interface RouteRequest {
  /** The resolved name: request `cluster`, else definition `target_cluster`, else `default`. */
  name: string;
  /** Where the name came from, for the error message. */
  source: 'request' | 'definition' | 'default';
  /** The engine the request named (canonical, enabled), if any. */
  engine?: EngineName;
  tier: string | null;
  defaultEngine: EngineName;
  enabledEngines: EngineName[];
}

export function createClusterService(deps: { db: Db; engines?: EngineRegistry; logger?: Logger }) {
  const { db } = deps;

  /** What each enabled engine says it provides, the default engine's first. */
  async function descriptions(defaultEngine?: EngineName): Promise<{ engine: EngineName; clusters: string[]; capabilities: string[] }[]> {
    const engines = [...(deps.engines?.all() ?? [])];
    const first = defaultEngine ?? deps.engines?.defaultName();
    engines.sort((a, b) => Number(b.name === first) - Number(a.name === first));
    const out = await Promise.all(
      engines.map(async (engine) => {
        try {
          return { engine: engine.name, ...(await engine.describe()) };
        } catch (err) {
          deps.logger?.warn({ engine: engine.name, err: errorMessage(err) }, 'engine describe failed; its clusters are not listed');
          return { engine: engine.name, clusters: [], capabilities: [] };
        }
      }),
    );
    return out;
  }

  /** Clusters the enabled engines provide themselves; a name two engines share is the first's. */
  async function described(): Promise<ClusterView[]> {
    const out = new Map<string, ClusterView>();
    for (const d of await descriptions()) {
      for (const name of d.clusters) {
        if (out.has(name)) continue;
        out.set(name, {
          name,
          engine: d.engine,
          status: 'active',
          allowedTiers: [],
          capabilities: d.capabilities,
          region: null,
          namespace: null,
          config: {},
          updatedAt: null,
          registered: false,
        });
      }
    }
    return [...out.values()];
  }

  const service = {
    async list(): Promise<ClusterView[]> {
      const [rows, fromEngines] = await Promise.all([store.listClusters(db), described()]);
      const registered = new Set(rows.map((r) => r.name));
      return [...rows.map(viewOf), ...fromEngines.filter((c) => !registered.has(c.name))].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    /** Registered or described; undefined when neither. */
    async find(name: string): Promise<ClusterView | undefined> {
      const row = await store.getCluster(db, name);
      if (row) return viewOf(row);
      return (await described()).find((c) => c.name === name);
    },

    async get(name: string): Promise<ClusterView> {
      const found = await service.find(name);
      if (!found) throw notFound(name);
      return found;
    },

    async create(input: unknown, actor: Actor | null = LOCAL_ADMIN): Promise<ClusterView> {
      assertAllowed(actor, 'cluster.write');
      const v = parseOrThrow(createSchema, input, snakeCase);
      rejectUnstorable(v);
      checkConfig(v.engine, v.config);
      try {
        const row = await store.insertCluster(db, { ...v, region: v.region ?? null, namespace: v.namespace ?? null, updatedBy: actor?.id ?? null });
        return viewOf(row);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`Cluster ${v.name} already exists`, { cause: err });
        throw err;
      }
    },

    /**
     * Fields that are present replace the stored ones (null clears region and namespace). A
     * cluster only an engine describes is registered by its first update.
     */
    async update(name: string, input: unknown, actor: Actor | null = LOCAL_ADMIN): Promise<ClusterView> {
      assertAllowed(actor, 'cluster.write');
      const v = parseOrThrow(updateSchema, input, snakeCase);
      rejectUnstorable(v);
      if (v.name !== undefined && v.name !== name) {
        throw new ValidationError([
          { path: ['name'], message: `name cannot be changed (runs record it); create cluster ${v.name} and delete ${name} instead` },
        ]);
      }
      const { name: _same, ...changes } = v;
      const current = await service.find(name);
      if (!current) throw notFound(name);
      const merged = { ...current, ...Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) } as ClusterView;
      checkConfig(merged.engine, merged.config);
      if (!current.registered) {
        try {
          const row = await store.insertCluster(db, {
            name,
            engine: merged.engine,
            status: merged.status,
            allowedTiers: merged.allowedTiers,
            capabilities: merged.capabilities,
            region: merged.region,
            namespace: merged.namespace,
            config: merged.config,
            updatedBy: actor?.id ?? null,
          });
          return viewOf(row);
        } catch (err) {
          // Registered by someone else meanwhile: apply the change to that row below.
          if (!isUniqueViolation(err)) throw err;
        }
      }
      const row = await store.updateCluster(db, name, { ...changes, updatedBy: actor?.id ?? null });
      if (!row) throw notFound(name);
      return viewOf(row);
    },

    /** Refused while runs on the cluster are unfinished: they would lose where they run. */
    async delete(name: string, actor: Actor | null = LOCAL_ADMIN): Promise<void> {
      assertAllowed(actor, 'cluster.write');
      const current = await service.find(name);
      if (!current) throw notFound(name);
      if (!current.registered) {
        throw new ConflictError(
          `Cluster ${name} is not in the registry: the ${current.engine} engine's configuration provides it, so there is nothing to delete`,
        );
      }
      const active = await store.countActiveRuns(db, name);
      if (active > 0) throw new ConflictError(`Cluster ${name} has ${active} unfinished run(s); stop them or wait for them to finish, then delete it`);
      if (!(await store.deleteCluster(db, name))) throw notFound(name);
    },

    /**
     * Where a run executed now goes: checks the cluster exists and takes runs of this tier,
     * and picks the engine (the request's, else the cluster's).
     */
    async route(req: RouteRequest): Promise<{ engine: EngineName }> {
      const where = req.source === 'definition' ? ` (the definition's target_cluster)` : '';
      const row = await store.getCluster(db, req.name);
      if (row) {
        if (row.status !== 'active') {
          throw new ConflictError(`cluster ${req.name}${where} is in ${row.status}: it takes no new runs until it is active again; choose another cluster`);
        }
        if (row.allowedTiers.length > 0 && !row.allowedTiers.includes(req.tier ?? '')) {
          const message =
            req.tier === null
              ? `cluster ${req.name}${where} only takes runs of tier ${row.allowedTiers.join(', ')}: set tier`
              : `tier ${req.tier} is not allowed on cluster ${req.name}${where}; allowed tiers: ${row.allowedTiers.join(', ')}`;
          throw new ValidationError([{ path: ['tier'], message }]);
        }
        const engine = canonicalEngine(row.engine);
        if (req.engine && req.engine !== engine) {
          throw new ValidationError([
            { path: ['engine'], message: `engine ${req.engine} does not run cluster ${req.name}${where}; its engine is ${row.engine}` },
          ]);
        }
        if (!engine || !req.enabledEngines.includes(engine)) {
          throw new ValidationError([
            {
              path: ['cluster'],
              message: `cluster ${req.name}${where} runs on engine ${row.engine}, which is not enabled here (enabled: ${req.enabledEngines.join(', ')})`,
            },
          ]);
        }
        return { engine };
      }
      const providers = (await descriptions(req.defaultEngine)).filter((d) => d.clusters.includes(req.name)).map((d) => d.engine);
      if (req.engine) {
        // Every engine has a default place to run, so the implicit name resolves on any of them.
        if (req.name === DEFAULT_CLUSTER || providers.includes(req.engine)) return { engine: req.engine };
        throw new ValidationError([
          { path: ['cluster'], message: `cluster ${req.name}${where} is not known to engine ${req.engine}; register it (POST /api/v6/clusters) first` },
        ]);
      }
      // `default` not registered: the default engine's own default place, as before any registry.
      if (req.name === DEFAULT_CLUSTER) return { engine: req.defaultEngine };
      if (providers.length > 0) return { engine: providers[0]! };
      const known = (await service.list()).map((c) => c.name);
      throw new ValidationError([
        {
          path: ['cluster'],
          message: `cluster ${req.name}${where} is unknown: register it (POST /api/v6/clusters) or use one of: ${known.length ? known.join(', ') : DEFAULT_CLUSTER}`,
        },
      ]);
    },
  };
  return service;
}

export type ClusterService = ReturnType<typeof createClusterService>;
