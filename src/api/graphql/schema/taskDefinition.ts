// Task definitions: the type, its list and lookup queries, and the three mutations. All
// writes go through services.definitions (the same service the REST shim calls).
//
// `id` is the definitionId itself, not a Relay global ID: it is the string REST, the CLI
// and `executeTask` already use, so clients never translate between two IDs. No type
// implements `Node` yet; if one does later, definitions can join it without changing `id`.
//
// Lookups return null when nothing matches (like any nullable GraphQL field); mutations
// report a missing definition as a typed NotFoundError because the client asked for a change
// that did not happen.
import type { TaskDefinition } from '../../../domain/definitionService.js';
import { builder } from '../builder.js';
import { stopperEmail } from '../../headers.js';
import { assertNoNul, badInput, columnFilters, connectionTypeOptions, OrderDirection, resolveListConnection, type FilterRules } from './connection.js';
import { EnvVarInput, EnvVarRef } from './envVar.js';
import { MUTATION_ERRORS } from './errors.js';
import { RunConnection, RunFilter, RunOrder, RunRef, runListSpec } from './run.js';

// Declared apart from its fields: Run and TaskDefinition refer to each other, and a ref
// typed by its own initializer would make that cycle untypeable.
export const TaskDefinitionRef = builder.objectRef<TaskDefinition>('TaskDefinition');

TaskDefinitionRef.implement({
  description: 'What to run: an image, a command, resources and environment. Executing it creates a run.',
  fields: (t) => ({
    id: t.exposeID('definitionId', { description: 'Same as definitionId.' }),
    definitionId: t.exposeString('definitionId', { description: '`<groupName>-<uuid>`, fixed at creation.' }),
    alias: t.exposeString('alias', { description: 'Unique, human-chosen name.' }),
    groupName: t.exposeString('groupName'),
    image: t.exposeString('image'),
    command: t.exposeString('command', { nullable: true, description: 'Run with `bash -c`; null runs the image entrypoint.' }),
    memory: t.exposeInt('memory', { nullable: true, description: 'MB; null uses the minimum.' }),
    cpu: t.exposeInt('cpu', { nullable: true, description: 'CPU units, 1024 = 1 vCPU; null uses the minimum.' }),
    gpu: t.exposeInt('gpu', { nullable: true }),
    ephemeralStorage: t.exposeInt('ephemeralStorage', { nullable: true, description: 'MB' }),
    env: t.field({ type: [EnvVarRef], resolve: (d) => d.env }),
    tags: t.exposeStringList('tags'),
    ports: t.exposeIntList('ports'),
    adaptiveResourceAllocation: t.exposeBoolean('adaptiveResourceAllocation', { nullable: true }),
    requiresDocker: t.exposeBoolean('requiresDocker'),
    targetCluster: t.exposeString('targetCluster', { nullable: true }),
    version: t.exposeInt('version', { description: 'Starts at 1, +1 on every update; runs record the version they launched.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
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
          filter: t.arg({ type: RunFilter }),
          orderBy: t.arg({ type: RunOrder }),
        },
        resolve: async (d, args, ctx) => {
          const spec = runListSpec(args.filter, args.orderBy);
          const connection = await resolveListConnection(args, (page) => ctx.loaders.runsOfDefinition(d.definitionId, { ...spec, ...page }));
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
    direction: t.field({ type: OrderDirection, defaultValue: 'asc' }),
  }),
});

builder.queryField('taskDefinitions', (t) =>
  t.connection(
    {
      type: TaskDefinitionRef,
      description: 'Definitions matching the filter, by alias unless ordered otherwise; 50 a page by default, at most 500.',
      args: {
        filter: t.arg({ type: TaskDefinitionFilter }),
        orderBy: t.arg({ type: TaskDefinitionOrder }),
      },
      resolve: async (_root, args, ctx) => {
        assertNoNul(args.filter, 'filter');
        const filters = columnFilters(args.filter, filterRules);
        const env = (args.filter?.env ?? []).map((e) => ({ name: e.name, value: e.value }));
        const connection = await resolveListConnection(args, (page) =>
          ctx.services.definitions.list({
            filters,
            env,
            sortBy: args.orderBy?.field ?? 'alias',
            order: args.orderBy?.direction ?? 'asc',
            ...page,
          }),
        );
        for (const { node } of connection.edges) ctx.loaders.definitionById.prime(node.definitionId, node);
        return connection;
      },
    },
    connectionTypeOptions('TaskDefinitionConnection'),
    { name: 'TaskDefinitionEdge' },
  ),
);

// ---- lookup ----

builder.queryField('taskDefinition', (t) =>
  t.field({
    type: TaskDefinitionRef,
    nullable: true,
    description: 'One definition by id or by alias (give exactly one); null when none matches.',
    args: {
      id: t.arg.id(),
      alias: t.arg.string(),
    },
    resolve: (_root, { id, alias }, ctx) => {
      if ((id == null) === (alias == null)) throw badInput('taskDefinition takes exactly one of id or alias');
      return id != null ? ctx.loaders.definitionById.load(String(id)) : ctx.loaders.definitionByAlias.load(alias!);
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

/** In a create, null means "not given" (there is nothing to clear), so defaults apply. */
function withoutNulls(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v != null));
}

// Every mutation lists the same error types so a client handles them all one way, and a
// new failure mode later does not change the result union.
const resultNames = (name: string) => ({
  types: MUTATION_ERRORS,
  result: { name: `${name}Success` },
  union: { name: `${name}Result` },
});

builder.mutationField('createTaskDefinition', (t) =>
  t.field({
    type: TaskDefinitionRef,
    args: { input: t.arg({ type: CreateTaskDefinitionInput, required: true }) },
    errors: { ...resultNames('CreateTaskDefinition'), dataField: { name: 'taskDefinition' } },
    resolve: async (_root, { input }, ctx) => {
      const row = await ctx.services.definitions.create(withoutNulls(input));
      ctx.loaders.forgetDefinition(row);
      return row;
    },
  }),
);

builder.mutationField('updateTaskDefinition', (t) =>
  t.field({
    type: TaskDefinitionRef,
    args: {
      id: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateTaskDefinitionInput, required: true }),
    },
    errors: { ...resultNames('UpdateTaskDefinition'), dataField: { name: 'taskDefinition' } },
    resolve: async (_root, { id, input }, ctx) => {
      const row = await ctx.services.definitions.update(String(id), input);
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
      id: t.arg.id({ required: true }),
      force: t.arg.boolean({ description: 'Stop unfinished runs (the normal stop path) instead of refusing.' }),
      purge: t.arg.boolean({ description: 'Remove for real; refused while a run is unfinished (unless `force`).' }),
    },
    errors: { ...resultNames('DeleteTaskDefinition'), dataField: { name: 'deletedId' } },
    resolve: async (_root, { id, force, purge }, ctx) => {
      await ctx.services.definitions.delete(String(id), { force: force ?? false, purge: purge ?? false, by: stopperEmail(ctx.headers) ?? null });
      ctx.loaders.forgetDefinition({ definitionId: String(id), alias: '' });
      return String(id);
    },
  }),
);
