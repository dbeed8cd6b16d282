// What valid requests look like, for the bad-input property test: a model per REST route
// (a valid body, query and headers, and what a success may write) and hints for building
// valid GraphQL arguments from the schema, plus the plans fast-check draws and the requests
// built from them. Mutations come from generators.ts and graphqlGenerators.ts.
import fc from 'fast-check';
import type { GraphQLField } from 'graphql';
import { REST_VERSIONS } from '../../src/api/app.js';
import { RUN_STATUSES } from '../../src/domain/lifecycle.js';
import type { Effect, EffectIds } from './badInputTargets.js';
import {
  applyObjectMutation,
  applyQueryMutation,
  encodePath,
  invalidJsonText,
  junkValue,
  mayChangeRoute,
  objectMutation,
  oddContentType,
  pathJunk,
  queryMutation,
  queryText,
  Ref,
  resolveRefs,
  toJsonText,
  type ObjectMutation,
  type PathJunk,
  type QueryMutation,
} from './generators.js';
import { gqlMutation, validArgs, type GqlMutation, type Hint } from './graphqlGenerators.js';

// ---- REST: what a valid request to each route looks like ----

const id = (pattern: string) => fc.stringMatching(new RegExp(`^${pattern}$`));
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
/** `arb` with probability `p`, else undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>, p: number) =>
  fc.oneof({ weight: Math.round(p * 100), arbitrary: arb }, { weight: Math.round((1 - p) * 100), arbitrary: fc.constant(undefined) });
const compact = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
const envList = fc.array(fc.record({ name: id('X_[A-Z0-9_]{0,8}'), value: id('[a-z0-9 ]{0,10}') }), { maxLength: 2 });
const stringMap = fc.dictionary(id('[a-z]{1,8}'), id('[a-z0-9]{0,8}'), { maxKeys: 2 });

const definitionFields = {
  group_name: opt(id('[a-z0-9_-]{1,20}')),
  command: opt(fc.constantFrom('echo hi', 'sleep 1', '')),
  memory: opt(fc.integer({ min: 0, max: 8192 })),
  cpu: opt(fc.integer({ min: 0, max: 4096 })),
  gpu: opt(fc.integer({ min: 0, max: 4 })),
  ephemeral_storage: opt(fc.integer({ min: 0, max: 10_000 })),
  env: opt(envList),
  tags: opt(fc.array(id('[a-z]{1,6}'), { maxLength: 2 })),
  ports: opt(fc.array(fc.integer({ min: 1, max: 65535 }), { maxLength: 2 })),
  adaptive_resource_allocation: opt(fc.boolean()),
  requires_docker: opt(fc.boolean()),
  // Runs go to a registered (or engine-provided) cluster; `default` always is one.
  target_cluster: opt(fc.constant('default')),
};
const DEFINITION_KEYS = ['alias', 'image', ...Object.keys(definitionFields)];
const createBody = fc
  .record({ alias: fc.constant(new Ref('uniqueAlias')), image: fc.constantFrom('alpine:3', 'python:3.12'), ...definitionFields })
  .map(compact);
const updateBody = fc.record({ alias: opt(fc.constant(new Ref('uniqueAlias'))), image: opt(fc.constant('alpine:3.20')), ...definitionFields }).map(compact);

const executeFields = {
  run_tags: fc.record({ owner_id: id('[a-z]{1,8}'), team_name: opt(id('[a-z]{1,8}')) }).map(compact),
  cluster: opt(fc.constant('default')),
  env: opt(envList),
  command: opt(fc.constant('echo run')),
  memory: opt(fc.integer({ min: 0, max: 500_000 })),
  cpu: opt(fc.integer({ min: 0, max: 100_000 })),
  gpu: opt(fc.integer({ min: 0, max: 4 })),
  ephemeral_storage: opt(fc.integer({ min: 0, max: 10_000 })),
  engine: opt(fc.constantFrom('local', 'LOCAL', '')),
  node_lifecycle: opt(fc.constantFrom('spot', 'ondemand')),
  active_deadline_seconds: opt(fc.integer({ min: 1, max: 1_000_000 })),
  description: opt(id('[a-z ]{0,20}')),
  idempotence_key: opt(fc.constantFrom<unknown>('same-key', new Ref('uniqueKey'))),
  arch: opt(fc.constantFrom('amd64', 'arm64')),
  labels: opt(stringMap),
  service_account: opt(id('[a-z]{1,8}')),
  tier: opt(id('[a-z]{1,8}')),
};
const executeBody = fc.record(executeFields).map(compact);

const reportBody = fc
  .record({ status: fc.constantFrom(...RUN_STATUSES), exit_code: opt(fc.integer({ min: -255, max: 255 })), exit_reason: opt(id('[a-z ]{0,20}')) })
  .map(compact);

const clusterFields = {
  status: opt(fc.constantFrom('active', 'maintenance', 'offline')),
  allowed_tiers: opt(fc.array(id('[a-z]{1,6}'), { maxLength: 2 })),
  capabilities: opt(fc.array(id('[a-z]{1,6}'), { maxLength: 2 })),
  region: opt(id('[a-z0-9-]{1,12}')),
  namespace: opt(id('[a-z0-9]{1,10}')),
  config: opt(stringMap),
};
const CLUSTER_KEYS = ['name', 'engine', ...Object.keys(clusterFields)];
const clusterBody = (create: boolean) =>
  fc
    .record({
      name: create ? fc.constant(new Ref('uniqueClusterName')) : fc.constant(undefined),
      engine: create ? fc.constantFrom('local', 'LOCAL') : opt(fc.constant('local')),
      ...clusterFields,
    })
    .map(compact);

type Pairs = [string, unknown][];
const pairs = (r: Record<string, unknown>): Pairs => Object.entries(compact(r));
const isoTime = fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
const paging = { limit: opt(fc.integer({ min: 0, max: 50 })), offset: opt(fc.integer({ min: 0, max: 5 })), order: opt(fc.constantFrom('asc', 'desc', 'DESC')) };

const definitionListQuery = fc
  .record({
    ...paging,
    sort_by: opt(fc.constantFrom('alias', 'image', 'group_name', 'memory')),
    alias: opt(fc.constant('task')),
    memory: opt(fc.constant(512)),
    env: opt(fc.constant('A|1')),
  })
  .map(pairs);
const runListQuery = fc
  .record({
    ...paging,
    sort_by: opt(fc.constantFrom('run_id', 'cluster_name', 'status', 'started_at', 'finished_at', 'group_name', 'queued_at', 'alias')),
    status: opt(fc.constantFrom(...RUN_STATUSES)),
    exit_code: opt(fc.integer({ min: 0, max: 3 })),
    user: opt(fc.constant('tester')),
    queued_at_since: opt(isoTime),
    finished_at_until: opt(isoTime),
  })
  .map(pairs);

export interface RouteModel {
  body?: fc.Arbitrary<Record<string, unknown>>;
  /** Keys the body accepts, for mutations that add a known key. */
  keys?: readonly string[];
  query?: fc.Arbitrary<Pairs>;
  headers?: fc.Arbitrary<Record<string, string>>;
  effect: Effect;
  /** Aim at a throwaway definition: the request may change or delete it. */
  scratch?: boolean;
}

/** Valid requests per route. A route not listed is still fuzzed: no body, effect `read` for GET, else `unknown`. */
export const ROUTE_MODELS: Record<string, RouteModel> = {
  'GET /health': { effect: 'read' },
  'PUT /task/alias/:alias/execute': { body: executeBody, keys: Object.keys(executeFields), effect: 'execute' },
  'PUT /task/:definition_id/execute': { body: executeBody, keys: Object.keys(executeFields), effect: 'execute' },
  'GET /history': { query: runListQuery, effect: 'read' },
  'GET /task/:definition_id/history': { query: runListQuery, effect: 'read' },
  'GET /history/:run_id': { effect: 'read' },
  'GET /task/history/:run_id': { effect: 'read' },
  'GET /task/:definition_id/history/:run_id': { effect: 'read' },
  'DELETE /task/:definition_id/history/:run_id': {
    headers: fc.record({ 'x-user-email': fc.constantFrom('a@b.c', ' ', '"><', 'é'.repeat(300)) }),
    effect: 'stop',
  },
  'GET /:run_id/status': {
    headers: fc.record({ 'if-none-match': fc.constantFrom('"QUEUED-unknown"', '*', '', 'W/"x"', '"STOPPED-0", "RUNNING-unknown"') }),
    effect: 'read',
  },
  'PUT /:run_id/status': { body: reportBody, keys: ['status', 'exit_code', 'exit_reason'], effect: 'report' },
  'GET /:run_id/events': { effect: 'read' },
  'GET /:run_id/logs': {
    query: fc.record({ last_seen: opt(fc.constant(new Ref('logToken'))), raw_text: opt(fc.constantFrom('true', 'false', 'TRUE')) }).map(pairs),
    effect: 'read',
  },
  'GET /task': { query: definitionListQuery, effect: 'read' },
  'POST /task': { body: createBody, keys: DEFINITION_KEYS, effect: 'createDefinition' },
  'GET /task/alias/:alias': { effect: 'read' },
  'GET /task/:definition_id': { effect: 'read' },
  'PUT /task/:definition_id': { body: updateBody, keys: DEFINITION_KEYS, effect: 'updateDefinition', scratch: true },
  'DELETE /task/:definition_id': { effect: 'deleteDefinition', scratch: true },
  'GET /groups': { query: fc.record({ ...paging, name: opt(fc.constantFrom('def', 'default', '')) }).map(pairs), effect: 'read' },
  'GET /tags': { effect: 'read' },
  'GET /clusters': { effect: 'read' },
  'POST /clusters': { body: clusterBody(true), keys: CLUSTER_KEYS, effect: 'createCluster' },
  'GET /clusters/:name': { effect: 'read' },
  'PUT /clusters/:name': { body: clusterBody(false), keys: CLUSTER_KEYS, effect: 'updateCluster', scratch: true },
  'DELETE /clusters/:name': { effect: 'deleteCluster', scratch: true },
};

/** Path parameters: the fixture they name and the resource an error about them would mention. */
const PARAMS: Record<string, { ref: string; resource: string[] }> = {
  definition_id: { ref: 'definitionId', resource: ['definition'] },
  run_id: { ref: 'runId', resource: ['run'] },
  alias: { ref: 'alias', resource: ['alias', 'definition'] },
  name: { ref: 'clusterName', resource: ['cluster'] },
};

export interface Route {
  key: string;
  method: string;
  path: string;
  params: string[];
  model: RouteModel;
}

type WholeBody = { kind: 'invalidJson'; text: string } | { kind: 'notAnObject'; value: unknown } | { kind: 'empty' };

export interface RestPlan {
  route: number;
  version: string;
  pick: number;
  body?: Record<string, unknown>;
  query: Pairs;
  headers: Record<string, string>;
  bodyMutations: ObjectMutation[];
  queryMutations: QueryMutation[];
  pathMutation?: { at: number; junk: PathJunk };
  wholeBody?: WholeBody;
  contentType?: string;
  /** Another method on the same path: usually no route (404), sometimes another route. */
  method?: string;
}

export function restPlan(routes: Route[]): fc.Arbitrary<RestPlan> {
  const wholeBody: fc.Arbitrary<WholeBody> = fc.oneof(
    fc.record({ kind: fc.constant('invalidJson' as const), text: invalidJsonText }),
    fc.record({ kind: fc.constant('notAnObject' as const), value: junkValue }),
    fc.constant({ kind: 'empty' as const }),
  );
  // Built once per route: building them in a chain per draw costs more than the request.
  const perRoute = routes.map((route, index) => {
    const hasBody = route.method !== 'GET';
    const baseline = fc.record({
      route: fc.constant(index),
      version: fc.constantFrom(...REST_VERSIONS),
      pick: fc.nat(),
      body: route.model.body ?? fc.constant(undefined),
      query: route.model.query ?? fc.constant<Pairs>([]),
      headers: route.model.headers ?? fc.constant({}),
    });
    // Each kind of change is drawn on its own; a draw with none is dropped (the valid
    // requests come from the explicit one in ten below).
    const mutations = fc
      .record({
        bodyMutations: route.model.body ? sometimes(fc.array(objectMutation, { minLength: 1, maxLength: 3 }), 0.6) : fc.constant(undefined),
        queryMutations: sometimes(fc.array(queryMutation, { minLength: 1, maxLength: 3 }), route.model.query ? 0.5 : 0.2),
        pathMutation: route.params.length ? sometimes(fc.record({ at: fc.nat(), junk: pathJunk }), 0.2) : fc.constant(undefined),
        wholeBody: hasBody ? sometimes(wholeBody, 0.15) : fc.constant(undefined),
        contentType: hasBody ? sometimes(oddContentType, 0.1) : fc.constant(undefined),
        method: sometimes(
          fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH').filter((m) => m !== route.method),
          0.05,
        ),
      })
      .map((m) => compact(m) as Partial<RestPlan>)
      .filter((m) => Object.keys(m).length > 0);
    // One request in ten is left valid: it must succeed.
    const changes = fc.oneof({ weight: 1, arbitrary: fc.constant({}) }, { weight: 9, arbitrary: mutations });
    return fc.tuple(baseline, changes).map(([b, m]): RestPlan => ({ bodyMutations: [], queryMutations: [], ...b, ...m }));
  });
  return fc.nat(routes.length - 1).chain((index) => perRoute[index]!);
}

export interface RestRequest {
  path: string;
  init: RequestInit;
  /** Names the error may mention (see the rule at the top). */
  blame: string[];
  /** Changed values the error may quote instead. */
  values: string[];
  changed: boolean;
  /** An odd path parameter may have taken the request to another route (or none). */
  routeMayChange: boolean;
  ids: EffectIds;
}

export function buildRestRequest(route: Route, plan: RestPlan, resolve: (ref: Ref) => unknown): RestRequest {
  const blame: string[] = [];
  const values: string[] = [];
  let changed = false;
  let routeMayChange = false;
  const ids: RestRequest['ids'] = {};

  let path = route.path;
  route.params.forEach((name, i) => {
    const param = PARAMS[name];
    let value = String(resolve(new Ref(param?.ref ?? 'other')));
    let segment = encodeURIComponent(value);
    if (plan.pathMutation && plan.pathMutation.at % route.params.length === i) {
      segment = encodePath(plan.pathMutation.junk);
      // What the server reads: an odd value may still name something that exists.
      value = decodeURIComponentSafe(segment);
      routeMayChange = mayChangeRoute(plan.pathMutation.junk);
      blame.push(name, ...(param?.resource ?? []), 'route');
      values.push(plan.pathMutation.junk.value, value);
      changed = true;
    }
    if (name === 'definition_id') ids.definitionId = value;
    if (name === 'run_id') ids.runId = value;
    if (name === 'name') ids.clusterName = value;
    path = path.replace(`:${name}`, segment);
  });

  const query = (resolveRefs(plan.query, resolve) as Pairs).map(([k, v]): [string, string] => [k, String(v)]);
  const raw: string[] = [];
  for (const m of plan.queryMutations) applyQueryMutation(query, raw, m);
  const q = queryText(query, raw);
  if (plan.queryMutations.length) {
    changed = true;
    for (const [k, v] of new URLSearchParams(q.slice(1))) {
      blame.push(k);
      values.push(v);
    }
  }

  let body: string | undefined;
  if (plan.body !== undefined || plan.wholeBody) {
    let value: unknown = resolveRefs(plan.body ?? {}, resolve);
    for (const m of plan.bodyMutations) {
      const r = applyObjectMutation(value, m, route.model.keys);
      value = r.value;
      blame.push(...r.blame);
      changed = true;
    }
    body = toJsonText(value);
    if (plan.wholeBody) {
      changed = true;
      blame.push('body', 'json', ...Object.keys(plan.body ?? {}));
      const w = plan.wholeBody;
      body = w.kind === 'invalidJson' ? w.text : w.kind === 'empty' ? '' : toJsonText(w.value);
      // A junk object in place of the body: its keys are what the server reads.
      if (w.kind === 'notAnObject' && w.value !== null && typeof w.value === 'object') blame.push(...Object.keys(w.value));
    }
  }
  const headers: Record<string, string> = { ...plan.headers };
  if (body !== undefined) headers['content-type'] = plan.contentType ?? 'application/json';
  if (plan.contentType !== undefined) {
    changed = true;
    blame.push('content-type', 'body', 'json');
  }
  let method = route.method;
  if (plan.method !== undefined) {
    method = plan.method;
    changed = routeMayChange = true;
    blame.push('route', method);
    if (method === 'GET') body = undefined;
  }
  return { path: `/api/${plan.version}${path}${q}`, init: { method, headers, body }, blame, values, changed, routeMayChange, ids };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// ---- GraphQL: operations from the served schema ----

export interface Operation {
  root: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
}

export const GQL_EFFECTS: Record<string, Effect> = {
  createTaskDefinition: 'createDefinition',
  updateTaskDefinition: 'updateDefinition',
  deleteTaskDefinition: 'deleteDefinition',
  executeTask: 'execute',
  stopRun: 'stop',
  createCluster: 'createCluster',
  updateCluster: 'updateCluster',
  deleteCluster: 'deleteCluster',
};
/** Mutations aimed at a throwaway definition or cluster. */
export const GQL_SCRATCH = new Set(['updateTaskDefinition', 'deleteTaskDefinition', 'updateCluster', 'deleteCluster']);
/** Fields that take exactly one of several arguments (deprecated names included): [argument, ref kind]. */
const ONE_OF: Record<string, [string, string][]> = {
  taskDefinition: [
    ['definitionId', 'definitionId'],
    ['alias', 'alias'],
    ['id', 'definitionId'],
  ],
  executeTask: [
    ['definitionId', 'definitionId'],
    ['alias', 'alias'],
  ],
  run: [
    ['runId', 'runId'],
    ['id', 'runId'],
  ],
  updateTaskDefinition: [
    ['definitionId', 'definitionId'],
    ['id', 'definitionId'],
  ],
  deleteTaskDefinition: [
    ['definitionId', 'definitionId'],
    ['id', 'definitionId'],
  ],
};

/** Valid values where the type alone would not give one (fixture ids, unique aliases, limits). */
const hint: Hint = (parent, name) => {
  const ref = (kind: string) => fc.constant(new Ref(kind));
  if (parent === 'CreateTaskDefinitionInput' || parent === 'UpdateTaskDefinitionInput') {
    if (name === 'alias') return ref('uniqueAlias');
    if (name === 'image') return fc.constantFrom('alpine:3', 'python:3.12');
    if (name === 'groupName') return id('[a-z0-9_-]{1,20}');
    if (name === 'ports') return fc.array(fc.integer({ min: 1, max: 65535 }), { maxLength: 2 });
    if (name === 'memory' || name === 'cpu') return fc.integer({ min: 0, max: 4096 });
    if (name === 'gpu') return fc.integer({ min: 0, max: 4 });
    if (name === 'targetCluster') return fc.constant('default');
  }
  if (parent === 'ExecuteInput') {
    if (name === 'engine') return fc.constant('local');
    if (name === 'cluster') return fc.constant('default');
    if (name === 'arch') return fc.constantFrom('amd64', 'arm64');
    if (name === 'idempotenceKey') return fc.constantFrom<unknown>('same-key', new Ref('uniqueKey'));
    if (name === 'gpu') return fc.integer({ min: 0, max: 4 });
    if (name === 'activeDeadlineSeconds') return fc.integer({ min: 1, max: 100_000 });
  }
  if (parent === 'CreateClusterInput' || parent === 'UpdateClusterInput') {
    if (name === 'name') return ref('uniqueClusterName');
    if (name === 'engine') return fc.constant('local');
    if (name === 'namespace') return id('[a-z0-9]{1,10}');
    if (name === 'region') return id('[a-z0-9-]{1,12}');
  }
  if (parent === 'EnvVarInput' && name === 'name') return id('X_[A-Z0-9_]{0,8}');
  if (parent === 'Query.node' && name === 'id') return fc.constantFrom<unknown>(new Ref('globalRunId'), new Ref('globalDefinitionId'));
  if (parent === 'Query.nodes' && name === 'ids') return fc.constant([new Ref('globalRunId'), new Ref('globalDefinitionId')]);
  if (parent.includes('.')) {
    if (name === 'id') return ref(parent === 'Query.run' ? 'runId' : 'definitionId');
    if (name === 'runId') return ref('runId');
    if (name === 'definitionId') return ref('definitionId');
    if (name === 'alias') return ref('alias');
    if (name === 'name') return ref('clusterName');
    if (name === 'first') return fc.integer({ min: 1, max: 20 });
    if (name === 'last' || name === 'after' || name === 'before') return fc.constant(undefined);
  }
  return undefined;
};

export interface GqlPlan {
  op: number;
  pick: number;
  args: Record<string, unknown>;
  inline: boolean;
  mutations: GqlMutation[];
}

export function gqlPlan(ops: Operation[]): fc.Arbitrary<GqlPlan> {
  // Built once per operation: building them in a chain per draw costs more than the request.
  const perOperation = ops.map((_, op) => {
    const { root, field } = ops[op]!;
    const parent = `${root === 'query' ? 'Query' : 'Mutation'}.${field.name}`;
    const args = fc.tuple(validArgs(field, parent, hint), fc.nat()).map(([a, pick]) => {
      // The served schema's introspection leaves deprecated arguments out: choose among the listed ones.
      const choices = ONE_OF[field.name]?.filter(([name]) => field.args.some((arg) => arg.name === name));
      if (!choices?.length) return a;
      const [keep, kind] = choices[pick % choices.length]!;
      const rest = Object.fromEntries(Object.entries(a).filter(([k]) => !choices.some(([name]) => name === k)));
      return { ...rest, [keep]: a[keep] ?? new Ref(kind) };
    });
    // One operation in ten is left valid: it must succeed.
    const mutations = fc.oneof(
      { weight: 1, arbitrary: fc.constant<GqlMutation[]>([]) },
      { weight: 9, arbitrary: fc.array(gqlMutation, { minLength: 1, maxLength: 3 }) },
    );
    return fc.record({ op: fc.constant(op), pick: fc.nat(), args, inline: fc.boolean(), mutations });
  });
  return fc.nat(ops.length - 1).chain((op) => perOperation[op]!);
}
