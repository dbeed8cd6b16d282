// Task definitions: the type, its list and lookup queries, and the three mutations. All
// writes go through services.definitions (the same service the REST shim calls).
//
// `definitionId` is the domain id (the string REST, the CLI, URLs and arguments use); `id`
// is the Relay global id (node.ts). The old `id` arguments stay, deprecated, and take either.
//
// Lookups return null when nothing matches (like any nullable GraphQL field); mutations
// report a missing definition as a typed NotFoundError because the client asked for a change
// that did not happen.
import type { TaskDefinition } from '../../../domain/definitionService.js';
import { builder } from '../builder.js';
import { inArgument } from '../fieldWords.js';
import {
  assertNoNul,
  badInput,
  columnFilters,
  connectionTypeOptions,
  defaultDirection,
  OrderDirection,
  resolveListConnection,
  type FilterRules,
} from './connection.js';
import { stopOptions } from '../../headers.js';
import { EnvVarInput, EnvVarRef } from './envVar.js';
import { mutationResult } from './errors.js';
import { RunConnection, RunFilter, RunOrder, RunRef, runKeyOrder, runListSpec } from './run.js';
import { domainIdArg, NodeInterface, toGlobalId } from './node.js';

// Declared apart from its fields: Run and TaskDefinition refer to each other, and a ref
// typed by its own initializer would make that cycle untypeable.
export const TaskDefinitionRef = builder.objectRef<TaskDefinition>('TaskDefinition');

TaskDefinitionRef.implement({
  description: 'What to run: an image, a command, resources and environment. Executing it creates a run.',
  interfaces: [NodeInterface],
  fields: (t) => ({
    id: t.id({
      description: 'Global id (opaque; for node(id:) and client caches). Use definitionId in URLs and arguments.',
      resolve: (d) => toGlobalId('TaskDefinition', d.definitionId),
    }),
    definitionId: t.exposeID('definitionId', { description: 'The definition id, `<groupName>-<uuid>`, fixed at creation: what URLs, REST and arguments use.' }),
    alias: t.exposeString('alias', { description: 'Unique, human-chosen name.' }),
    groupName: t.exposeString('groupName', { description: 'Group it belongs to; part of its definitionId.' }),
    image: t.exposeString('image', { description: 'The container image to run.' }),
    command: t.exposeString('command', { nullable: true, description: 'Run with `bash -c`; null runs the image entrypoint.' }),
    memory: t.exposeInt('memory', { nullable: true, description: 'MB; null uses the minimum.' }),
    cpu: t.exposeInt('cpu', { nullable: true, description: 'CPU units, 1024 = 1 vCPU; null uses the minimum.' }),
    gpu: t.exposeInt('gpu', { nullable: true, description: 'GPUs to request.' }),
    ephemeralStorage: t.exposeInt('ephemeralStorage', { nullable: true, description: 'MB' }),
    env: t.field({ type: [EnvVarRef], description: 'Environment passed to every run (execute may add to it).', resolve: (d) => d.env }),
    tags: t.exposeStringList('tags', { description: 'Free labels for finding it.' }),
    ports: t.exposeIntList('ports', { description: 'Container ports it listens on.' }),
    adaptiveResourceAllocation: t.exposeBoolean('adaptiveResourceAllocation', {
      nullable: true,
      description: 'Classic flag kept for REST clients; stored, not acted on.',
    }),
    requiresDocker: t.exposeBoolean('requiresDocker', { description: 'Classic flag: its runs need a Docker daemon. Stored and returned.' }),
    targetCluster: t.exposeString('targetCluster', { nullable: true, description: 'Cluster its runs go to unless execute names another.' }),
    version: t.exposeInt('version', { description: 'Starts at 1, +1 on every update; runs record the version they launched.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it last changed.' }),
    archivedAt: t.expose('archivedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it was deleted: an archived definition is out of lists and its alias is free, but it and its runs stay readable by id.',
    }),
    runs: t.connection(
      {
        type: RunRef,
        description: 'Runs of this definition, newest first unless ordered otherwise. Batched: listing many definitions with their runs costs two statements.',
        args: {
          filter: t.arg({ type: RunFilter, description: 'Which runs; all when omitted.' }),
          orderBy: t.arg({ type: RunOrder, description: 'Sort order; newest queued first when omitted.' }),
        },
        resolve: async (d, args, ctx) => {
          const spec = runListSpec(args.filter, args.orderBy);
          const connection = await resolveListConnection(args, runKeyOrder(spec), (page) => ctx.loaders.runsOfDefinition(d.definitionId, { ...spec, ...page }));
          for (const { node } of connection.edges) ctx.loaders.primeRun(node);
          return connection;
        },
      },
      RunConnection,
    ),
  }),
});

// ---- list ----

const TaskDefinitionFilter = builder.inputType('TaskDefinitionFilter', {
  description: 'All given conditions must hold. Empty strings and empty lists are ignored.',
  fields: (t) => ({
    alias: t.string({ description: 'Substring of the alias.' }),
    image: t.string({ description: 'Substring of the image.' }),
    groupName: t.string({ description: 'Substring of the group name.' }),
    command: t.string({ description: 'Substring of the command.' }),
    groupNames: t.stringList({ description: 'Group name is exactly one of these.' }),
    env: t.field({ type: [EnvVarInput], description: 'Every pair must be in the definition env.' }),
  }),
});

const filterRules: FilterRules<typeof TaskDefinitionFilter.$inferInput> = {
  alias: { column: 'alias', op: 'like' },
  image: { column: 'image', op: 'like' },
  groupName: { column: 'group_name', op: 'like' },
  command: { column: 'command', op: 'like' },
  groupNames: { column: 'group_name', op: 'in' },
};

const TaskDefinitionOrderField = builder.enumType('TaskDefinitionOrderField', {
  description: 'What definitions can be sorted by; ties are broken by definition id.',
  values: {
    ALIAS: { value: 'alias' },
    IMAGE: { value: 'image' },
    GROUP_NAME: { value: 'group_name' },
    MEMORY: { value: 'memory' },
    CREATED_AT: { value: 'created_at' },
  } as const,
});

const TaskDefinitionOrder = builder.inputType('TaskDefinitionOrder', {
  description: 'Sort order; missing values (e.g. no memory) sort last in both directions, ties by id.',
  fields: (t) => ({
    field: t.field({ type: TaskDefinitionOrderField, required: true }),
    direction: t.field({ type: OrderDirection, description: 'Default: newest first for times (CREATED_AT), ascending otherwise (as RunOrder).' }),
  }),
});

builder.queryField('taskDefinitions', (t) =>
  t.connection(
    {
      type: TaskDefinitionRef,
      description: 'Definitions matching the filter, by alias unless ordered otherwise; 50 a page by default, at most 500.',
      args: {
        filter: t.arg({ type: TaskDefinitionFilter, description: 'Which definitions; all when omitted.' }),
        orderBy: t.arg({ type: TaskDefinitionOrder, description: 'Sort order; by alias when omitted.' }),
      },
      resolve: async (_root, args, ctx) => {
        assertNoNul(args.filter, 'filter');
        const filters = columnFilters(args.filter, filterRules);
        const env = (args.filter?.env ?? []).map((e) => ({ name: e.name, value: e.value }));
        const sortBy = args.orderBy?.field ?? 'alias';
        const kind = sortBy === 'created_at' ? 'time' : sortBy === 'memory' ? 'int' : 'text';
        const connection = await resolveListConnection(args, { sortBy, kind }, (page) =>
          ctx.services.definitions.list({ filters, env, sortBy, order: args.orderBy?.direction ?? defaultDirection(sortBy, ['created_at']), ...page }),
        );
        for (const { node } of connection.edges) ctx.loaders.definitionById.prime(node.definitionId, node);
        return connection;
      },
    },
    connectionTypeOptions('TaskDefinitionConnection', 'task definitions'),
    { name: 'TaskDefinitionEdge', description: 'A task definition and its cursor.' },
  ),
);

// ---- lookup ----

builder.queryField('taskDefinition', (t) =>
  t.field({
    type: TaskDefinitionRef,
    nullable: true,
    description: 'One definition by definitionId or by alias (give exactly one); null when none matches.',
    args: {
      definitionId: t.arg.id({ description: 'The definition id (TaskDefinition.definitionId).' }),
      alias: t.arg.string({ description: 'The exact alias.' }),
      id: t.arg.id({ deprecationReason: 'Use definitionId. Takes a definition id or a TaskDefinition global id.' }),
    },
    resolve: (_root, args, ctx) => {
      const definitionId = domainIdArg({ primary: args.definitionId, legacy: args.id }, { primary: 'definitionId', legacy: 'id' }, 'TaskDefinition');
      if ((definitionId == null) === (args.alias == null)) throw badInput('taskDefinition takes exactly one of definitionId or alias');
      return definitionId != null ? ctx.loaders.definitionById.load(definitionId) : ctx.loaders.definitionByAlias.load(args.alias!);
    },
  }),
);

// ---- mutations ----

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

const definitionInputFields = (t: PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>) => ({
  groupName: t.string({ description: 'Letters, digits, "-" and "_", at most 255.' }),
  command: t.string(),
  memory: t.int({ description: 'MB' }),
  cpu: t.int({ description: 'CPU units, 1024 = 1 vCPU' }),
  gpu: t.int(),
  ephemeralStorage: t.int({ description: 'MB' }),
  env: t.field({ type: [EnvVarInput] }),
  tags: t.stringList(),
  ports: t.intList(),
  adaptiveResourceAllocation: t.boolean(),
  requiresDocker: t.boolean(),
  targetCluster: t.string(),
});

const CreateTaskDefinitionInput = builder.inputType('CreateTaskDefinitionInput', {
  description: 'A new definition. Omitted fields take their defaults (groupName "default", empty lists, requiresDocker false).',
  fields: (t) => ({
    alias: t.string({ required: true }),
    image: t.string({ required: true }),
    ...definitionInputFields(t),
  }),
});

const UpdateTaskDefinitionInput = builder.inputType('UpdateTaskDefinitionInput', {
  description:
    'Only the fields given change; env, tags and ports are replaced whole. null clears command, memory, cpu, gpu, ephemeralStorage, adaptiveResourceAllocation and targetCluster.',
  fields: (t) => ({
    alias: t.string(),
    image: t.string(),
    ...definitionInputFields(t),
  }),
});

function requiredDefinitionId(args: { definitionId?: string | number | null; id?: string | number | null }): string {
  const id = domainIdArg({ primary: args.definitionId, legacy: args.id }, { primary: 'definitionId', legacy: 'id' }, 'TaskDefinition');
  if (id === undefined) throw badInput('definitionId is required: the definition id (TaskDefinition.definitionId)');
  return id;
}

/** In a create, null means "not given" (there is nothing to clear), so defaults apply. */
function withoutNulls(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v != null));
}

builder.mutationField('createTaskDefinition', (t) =>
  t.field({
    type: TaskDefinitionRef,
    args: { input: t.arg({ type: CreateTaskDefinitionInput, required: true, description: 'The new definition.' }) },
    errors: { ...mutationResult('CreateTaskDefinition', 'The definition was created'), dataField: { name: 'taskDefinition' } },
    resolve: async (_root, { input }, ctx) => {
      const row = await inArgument('input', () => ctx.services.definitions.create(withoutNulls(input), ctx.actor));
      ctx.loaders.forgetDefinition(row);
      return row;
    },
  }),
);

builder.mutationField('updateTaskDefinition', (t) =>
  t.field({
    type: TaskDefinitionRef,
    description: 'Changes a definition; its version goes up by one. Runs keep what they launched.',
    args: {
      definitionId: t.arg.id({ description: 'The definition id (TaskDefinition.definitionId).' }),
      id: t.arg.id({ deprecationReason: 'Use definitionId. Takes a definition id or a TaskDefinition global id.' }),
      input: t.arg({ type: UpdateTaskDefinitionInput, required: true, description: 'The fields to change.' }),
    },
    errors: { ...mutationResult('UpdateTaskDefinition', 'The definition was changed'), dataField: { name: 'taskDefinition' } },
    resolve: async (_root, { input, ...args }, ctx) => {
      const id = requiredDefinitionId(args);
      const row = await inArgument('input', () => ctx.services.definitions.update(id, input, ctx.actor));
      ctx.loaders.forgetDefinition(row);
      return row;
    },
  }),
);

builder.mutationField('deleteTaskDefinition', (t) =>
  t.field({
    type: 'ID',
    description:
      'Deletes (archives) the definition: it leaves lists and frees its alias; its runs, events and logs stay readable by id. ' +
      'Unfinished runs make it a conflict naming them, unless `force` stops them first. `purge` removes the definition with its finished runs, events and logs for real.',
    args: {
      definitionId: t.arg.id({ description: 'The definition id (TaskDefinition.definitionId).' }),
      id: t.arg.id({ deprecationReason: 'Use definitionId. Takes a definition id or a TaskDefinition global id.' }),
      force: t.arg.boolean({ description: 'Stop unfinished runs (the normal stop path) instead of refusing.' }),
      purge: t.arg.boolean({ description: 'Remove for real; refused while a run is unfinished (unless `force`).' }),
    },
    errors: { ...mutationResult('DeleteTaskDefinition', 'The definition was deleted (archived, or purged)'), dataField: { name: 'deletedId' } },
    resolve: async (_root, { force, purge, ...args }, ctx) => {
      const id = requiredDefinitionId(args);
      await ctx.services.definitions.delete(id, {
        force: force ?? false,
        purge: purge ?? false,
        by: stopOptions(ctx.actor, ctx.headers).by ?? null,
        actor: ctx.actor,
      });
      ctx.loaders.forgetDefinition({ definitionId: id, alias: '' });
      return id;
    },
  }),
);
