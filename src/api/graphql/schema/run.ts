// Runs: the type, its list (`runs`) and lookup (`run`) queries. Reads of related rows
// (definition, timeline, per-definition pages) go through the request's loaders, so listing
// many runs costs a fixed number of statements.
//
// `runId` is the domain id (the string REST, the CLI, logs and URLs use); `id` is the
// Relay global id (node.ts).
import type { RunRow } from '../../../db/schema.js';
import type { ListSpec } from '../../../store/listQuery.js';
import { builder } from '../builder.js';
import {
  assertNoNul,
  badInput,
  columnFilters,
  connectionTypeOptions,
  defaultDirection,
  OrderDirection,
  resolveListConnection,
  type FilterRules,
  type KeyKind,
} from './connection.js';
import { EnvVarInput, EnvVarRef } from './envVar.js';
import { RunEventRef } from './runEvent.js';
import { logCursorToSeq, RunLogPageRef } from './runLog.js';
import { RunStatusEnum } from './runStatus.js';
import { TaskDefinitionRef } from './taskDefinition.js';
import { domainIdArg, NodeInterface, toGlobalId } from './node.js';
import { engineOf, EngineEnum } from './enums.js';

export const LOG_PAGE_SIZE = { default: 100, max: 1000 } as const;

export const NodeLifecycleEnum = builder.enumType('NodeLifecycle', {
  description: 'The kind of capacity a run asks for.',
  values: {
    SPOT: { value: 'spot', description: 'Cheaper capacity that may be reclaimed; default deadline 2 days.' },
    ONDEMAND: { value: 'ondemand', description: 'Capacity that is not reclaimed; default deadline 7 days. Always used with GPUs.' },
  } as const,
});

// Declared apart from its fields, as TaskDefinitionRef is: the two types refer to each other.
export const RunRef = builder.objectRef<RunRow>('Run');

RunRef.implement({
  description: 'One execution of a task definition, with a snapshot of what was launched.',
  interfaces: [NodeInterface],
  fields: (t) => ({
    id: t.id({
      description: 'Global id (opaque; for node(id:) and client caches). Use runId in URLs and arguments.',
      resolve: (r) => toGlobalId('Run', r.runId),
    }),
    runId: t.exposeID('runId', { description: 'The run id, `<engine>-<hex>` (36 characters): what URLs, REST, the CLI and arguments use.' }),
    status: t.field({ type: RunStatusEnum, description: 'Where it is in its lifecycle.', resolve: (r) => r.status }),
    exitCode: t.exposeInt('exitCode', { nullable: true, description: '0 is success; null until STOPPED (or when the engine could not tell).' }),
    exitReason: t.exposeString('exitReason', { nullable: true, description: 'Why it stopped, in words.' }),
    queuedAt: t.expose('queuedAt', { type: 'DateTime', description: 'When it was executed.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true, description: 'When its command started; null before RUNNING.' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true, description: 'When it stopped; null before STOPPED.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'Last change of any field.' }),
    owner: t.exposeString('owner', { description: 'Who executed it (run_tags.owner_id in REST).' }),
    runTags: t.expose('runTags', { type: 'JSON', description: 'String tags given at execute; always holds owner_id.' }),
    labels: t.expose('labels', { type: 'JSON', description: 'String labels put on the engine object.' }),
    description: t.exposeString('description', { nullable: true, description: 'Free text given at execute.' }),
    idempotenceKey: t.exposeString('idempotenceKey', { nullable: true, description: 'The key given at execute: the same key within 7 days returns this run.' }),

    // what was launched
    definitionId: t.exposeID('definitionId', { description: 'The definitionId of the definition it launched.' }),
    definitionVersion: t.exposeInt('definitionVersion', { description: 'The definition version this run launched.' }),
    alias: t.exposeString('alias', { description: 'Alias of the definition, as launched.' }),
    groupName: t.exposeString('groupName', { description: 'Group of the definition, as launched.' }),
    image: t.exposeString('image', { description: 'The container image it ran.' }),
    command: t.exposeString('command', { nullable: true, description: 'Null ran the image entrypoint.' }),
    commandHash: t.exposeString('commandHash', { nullable: true, description: 'md5 of the command.' }),
    env: t.field({ type: [EnvVarRef], description: 'The effective environment, reserved FLOTILLA_* variables included.', resolve: (r) => r.env }),
    cpu: t.exposeInt('cpu', { description: 'CPU units requested (1024 = 1 vCPU); the engine may report what it granted.' }),
    memory: t.exposeInt('memory', { description: 'MB requested; the engine may report what it granted.' }),
    cpuLimit: t.exposeInt('cpuLimit', { description: 'CPU units it may use at most (1024 = 1 vCPU).' }),
    memoryLimit: t.exposeInt('memoryLimit', { description: 'MB it may use at most.' }),
    gpu: t.exposeInt('gpu', { nullable: true, description: 'GPUs requested.' }),
    ephemeralStorage: t.exposeInt('ephemeralStorage', { nullable: true, description: 'MB' }),
    nodeLifecycle: t.field({
      type: NodeLifecycleEnum,
      description: 'The kind of capacity it runs on.',
      resolve: (r) => r.nodeLifecycle as 'spot' | 'ondemand',
    }),
    activeDeadlineSeconds: t.exposeInt('activeDeadlineSeconds', { nullable: true, description: 'Stopped once running longer than this.' }),
    arch: t.exposeString('arch', { nullable: true, description: 'CPU architecture asked for, e.g. amd64 or arm64.' }),
    serviceAccount: t.exposeString('serviceAccount', { nullable: true, description: 'Kubernetes service account of its pod.' }),
    tier: t.exposeString('tier', { nullable: true, description: 'Tier asked for; the cluster must allow it.' }),

    // where it runs
    engine: t.field({ type: EngineEnum, description: 'The engine that runs it.', resolve: (r) => engineOf(r.engine) }),
    engineRequested: t.field({
      type: EngineEnum,
      nullable: true,
      description:
        'The engine the request named (eks is KUBERNETES); differs from engine when a substitute ran it (FLOTILLA_ENGINE_SUBSTITUTES). Null when none was named.',
      resolve: (r) => (r.engineRequested ? engineOf(r.engineRequested) : null),
    }),
    resourceReason: t.exposeString('resourceReason', {
      nullable: true,
      description: 'Why the run got its cpu and memory, e.g. "memory 896 MB: 2 OOM-killed runs in 3 days, p99 512 MB × 1.75 …".',
    }),
    maxMemoryUsed: t.exposeInt('maxMemoryUsed', { nullable: true, description: 'Peak memory in MB, where the engine reports it.' }),
    maxCpuUsed: t.exposeInt('maxCpuUsed', { nullable: true, description: 'Peak cpu in units (1024 = one core), where the engine reports it.' }),
    executableType: t.exposeString('executableType', { description: '`task_definition` or `template`.' }),
    clusterName: t.exposeString('clusterName', { description: 'The cluster it runs on.' }),
    engineRef: t.exposeString('engineRef', { nullable: true, description: 'The engine object: Job name, task ARN, container id, host:pid.' }),
    podName: t.exposeString('podName', { nullable: true, description: 'Kubernetes: the pod of its Job.' }),
    namespace: t.exposeString('namespace', { nullable: true, description: 'Kubernetes: the namespace of its Job.' }),
    instanceId: t.exposeString('instanceId', { nullable: true, description: 'The machine it runs on, when the engine reports one.' }),
    instanceDnsName: t.exposeString('instanceDnsName', { nullable: true, description: 'DNS name of that machine, when known.' }),

    // scheduling
    attempt: t.exposeInt('attempt', { description: '1 for the first launch, +1 per retry after an infrastructure failure.' }),
    maxAttempts: t.exposeInt('maxAttempts', { description: 'Launches allowed before an infrastructure failure becomes final.' }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true, description: 'NEEDS_RETRY: when it is queued again.' }),
    lastError: t.exposeString('lastError', { nullable: true, description: 'The last infrastructure error (why it was retried).' }),
    logsComplete: t.exposeBoolean('logsComplete', { description: 'Every line of output is stored.' }),

    definition: t.field({
      type: TaskDefinitionRef,
      nullable: true,
      description: 'The definition as it is now (the fields above hold what was launched). Null only if it was deleted meanwhile.',
      resolve: (r, _args, ctx) => ctx.loaders.definitionById.load(r.definitionId),
    }),
    events: t.field({
      type: [RunEventRef],
      description: 'The timeline, oldest first: status changes, engine events, user actions.',
      resolve: (r, _args, ctx) => ctx.loaders.eventsOfRun.load(r.runId),
    }),
    logs: t.field({
      type: RunLogPageRef,
      description: `Stored output after the cursor \`after\` (from the start without it): up to \`first\` chunks (default ${LOG_PAGE_SIZE.default}, at most ${LOG_PAGE_SIZE.max}) and about 1 MiB.`,
      args: {
        after: t.arg.string(),
        first: t.arg.int(),
        waitForComplete: t.arg.boolean({
          defaultValue: true,
          description:
            'When the run is STOPPED but the collector has not stored its last lines yet, wait for them (bounded, 10 s by default) before answering, so the page ends at the real end. false answers at once with what is stored (`complete` says which).',
        }),
      },
      resolve: async (parent, { after, first, waitForComplete }, ctx) => {
        if (first != null && (first < 1 || first > LOG_PAGE_SIZE.max)) throw badInput(`first must be between 1 and ${LOG_PAGE_SIZE.max}`);
        const afterSeq = logCursorToSeq(parent.runId, after);
        const r = waitForComplete === false ? parent : await ctx.services.logs.waitForComplete(parent);
        const { chunks, hasMore } = await ctx.loaders.logPage(r.runId, afterSeq, first ?? LOG_PAGE_SIZE.default);
        return {
          runId: r.runId,
          chunks,
          endSeq: chunks.at(-1)?.seq ?? afterSeq,
          hasMore,
          complete: !hasMore && r.status === 'STOPPED' && r.logsComplete,
        };
      },
    }),
  }),
});

export const RunConnection = builder.connectionObject(
  { type: RunRef, ...connectionTypeOptions('RunConnection', 'runs') },
  { name: 'RunEdge', description: 'A run and its cursor.' },
);

// ---- filter and order, shared by `runs` and `TaskDefinition.runs` ----

export const RunFilter = builder.inputType('RunFilter', {
  description: 'All given conditions must hold. Empty strings and empty lists are ignored; times are exclusive bounds.',
  fields: (t) => ({
    statuses: t.field({ type: [RunStatusEnum], description: 'Status is one of these.' }),
    definitionId: t.id({ description: 'The definitionId of the definition (exact).' }),
    alias: t.string({ description: 'Substring of the alias.' }),
    groupName: t.string({ description: 'Substring of the group name.' }),
    image: t.string({ description: 'Substring of the image.' }),
    owner: t.string(),
    clusterName: t.string(),
    engine: t.string(),
    exitCode: t.int(),
    exitReason: t.string({ description: 'Substring of the exit reason.' }),
    nodeLifecycle: t.field({ type: NodeLifecycleEnum }),
    env: t.field({ type: [EnvVarInput], description: 'Every pair must be in the run env.' }),
    queuedAfter: t.field({ type: 'DateTime' }),
    queuedBefore: t.field({ type: 'DateTime' }),
    startedAfter: t.field({ type: 'DateTime' }),
    startedBefore: t.field({ type: 'DateTime' }),
    finishedAfter: t.field({ type: 'DateTime' }),
    finishedBefore: t.field({ type: 'DateTime' }),
  }),
});

const filterRules: FilterRules<typeof RunFilter.$inferInput> = {
  statuses: { column: 'status', op: 'in' },
  definitionId: { column: 'definition_id', op: 'eq' },
  alias: { column: 'alias', op: 'like' },
  groupName: { column: 'group_name', op: 'like' },
  image: { column: 'image', op: 'like' },
  owner: { column: 'user', op: 'eq' },
  clusterName: { column: 'cluster_name', op: 'eq' },
  engine: { column: 'engine', op: 'eq' },
  exitCode: { column: 'exit_code', op: 'eq' },
  exitReason: { column: 'exit_reason', op: 'like' },
  nodeLifecycle: { column: 'node_lifecycle', op: 'eq' },
  queuedAfter: { column: 'queued_at', op: 'gt' },
  queuedBefore: { column: 'queued_at', op: 'lt' },
  startedAfter: { column: 'started_at', op: 'gt' },
  startedBefore: { column: 'started_at', op: 'lt' },
  finishedAfter: { column: 'finished_at', op: 'gt' },
  finishedBefore: { column: 'finished_at', op: 'lt' },
};

const TIME_COLUMNS = ['queued_at', 'started_at', 'finished_at'];

const RunOrderField = builder.enumType('RunOrderField', {
  description: 'What runs can be sorted by; ties are broken by run id.',
  values: {
    QUEUED_AT: { value: 'queued_at' },
    STARTED_AT: { value: 'started_at' },
    FINISHED_AT: { value: 'finished_at' },
    STATUS: { value: 'status', description: 'Alphabetical, not lifecycle order.' },
    ALIAS: { value: 'alias' },
    GROUP_NAME: { value: 'group_name' },
    CLUSTER_NAME: { value: 'cluster_name' },
    ENGINE: { value: 'engine' },
    OWNER: { value: 'user' },
    EXIT_CODE: { value: 'exit_code' },
    RUN_ID: { value: 'run_id' },
  } as const,
});

export const RunOrder = builder.inputType('RunOrder', {
  description: 'Sort order; missing values (e.g. not started) sort last in both directions, ties by run id.',
  fields: (t) => ({
    field: t.field({ type: RunOrderField, required: true }),
    direction: t.field({ type: OrderDirection, description: 'Default: newest first for times (QUEUED_AT, STARTED_AT, FINISHED_AT), ascending otherwise.' }),
  }),
});

/** The filter and sort of a run list; newest queued first unless ordered otherwise. */
export function runListSpec(
  filter: typeof RunFilter.$inferInput | null | undefined,
  orderBy: typeof RunOrder.$inferInput | null | undefined,
): Omit<ListSpec, 'limit' | 'offset'> {
  assertNoNul(filter, 'filter');
  const sortBy = orderBy?.field ?? 'queued_at';
  return {
    filters: columnFilters(filter, filterRules),
    env: (filter?.env ?? []).map((e) => ({ name: e.name, value: e.value })),
    sortBy,
    order: orderBy?.direction ?? defaultDirection(sortBy, TIME_COLUMNS),
  };
}

/** What a run list's cursors record: the sort column and the kind of its values. */
export function runKeyOrder(spec: { sortBy: string }): { sortBy: string; kind: KeyKind } {
  return { sortBy: spec.sortBy, kind: TIME_COLUMNS.includes(spec.sortBy) ? 'time' : spec.sortBy === 'exit_code' ? 'int' : 'text' };
}

const runListArgs = (t: Parameters<Parameters<typeof builder.queryField>[1]>[0]) => ({
  filter: t.arg({ type: RunFilter, description: 'Which runs; all when omitted.' }),
  orderBy: t.arg({ type: RunOrder, description: 'Sort order; newest queued first when omitted.' }),
});

// ---- queries ----

builder.queryField('runs', (t) =>
  t.connection(
    {
      type: RunRef,
      description: 'Runs matching the filter, newest first unless ordered otherwise; 50 a page by default, at most 500.',
      args: runListArgs(t),
      resolve: async (_root, args, ctx) => {
        const spec = runListSpec(args.filter, args.orderBy);
        const connection = await resolveListConnection(args, runKeyOrder(spec), (page) => ctx.services.runs.list({ ...spec, ...page }));
        for (const { node } of connection.edges) ctx.loaders.primeRun(node);
        return connection;
      },
    },
    RunConnection,
  ),
);

builder.queryField('run', (t) =>
  t.field({
    type: RunRef,
    nullable: true,
    description: 'One run by runId; null when none matches.',
    args: {
      runId: t.arg.id({ description: 'The run id (Run.runId).' }),
      id: t.arg.id({ deprecationReason: 'Use runId. Takes a run id or a Run global id.' }),
    },
    resolve: (_root, args, ctx) => {
      const runId = domainIdArg({ primary: args.runId, legacy: args.id }, { primary: 'runId', legacy: 'id' }, 'Run');
      if (runId === undefined) throw badInput('runId is required: the run id, e.g. "local-…" (Run.runId)');
      return ctx.loaders.runById.load(runId);
    },
  }),
);
