// Templates over GraphQL: the same template service REST v7 calls. A template run is a Run
// whose `executable` is the Template (a definition run's is the TaskDefinition).
import { NotFoundError, TemplatePayloadError, ValidationError } from '../../../errors.js';
import type { TemplateRow, TaskDefinitionRow } from '../../../db/schema.js';
import { builder } from '../builder.js';
import { connectionTypeOptions, resolveListConnection } from './connection.js';
import { EnvVarInput, EnvVarRef } from './envVar.js';
import { MUTATION_ERRORS, mutationResult } from './errors.js';
import { RunRef } from './run.js';
import { ExecuteInput } from './runMutations.js';
import { inArgument } from '../fieldWords.js';
import { TaskDefinitionRef } from './taskDefinition.js';
import { NodeInterface, toGlobalId } from './node.js';
import { assertAllowed } from '../../../domain/authorization.js';

export const TemplateRef = builder.objectRef<TemplateRow>('Template');

TemplateRef.implement({
  description: 'A parameterised job: its command is rendered from a JSON payload checked against its JSON Schema. One object per (templateName, version).',
  interfaces: [NodeInterface],
  fields: (t) => ({
    id: t.id({
      description: 'Global id (opaque; for node(id:) and client caches). Use templateId in URLs and arguments.',
      resolve: (x) => toGlobalId('Template', x.templateId),
    }),
    templateId: t.exposeID('templateId', { description: '`tpl-<uuid>`' }),
    templateName: t.exposeString('templateName'),
    version: t.exposeInt('version', { description: '1, 2, 3… per templateName; a create that changes a field makes the next one.' }),
    schema: t.expose('schema', { type: 'JSON', description: 'JSON Schema of the payload (after defaults are merged in).' }),
    commandTemplate: t.exposeString('commandTemplate', { description: 'Go text/template syntax, rendered with the payload as `.`.' }),
    defaults: t.expose('defaults', { type: 'JSON', description: 'Fills keys missing from a payload, at any depth.' }),
    avatarUri: t.exposeString('avatarUri', { nullable: true }),
    image: t.exposeString('image'),
    // Nullable like TaskDefinition's fields of the same names (always set here): the two are
    // members of the Executable union, where one field name must have one type.
    memory: t.exposeInt('memory', { nullable: true, description: 'MB (always set; default 512).' }),
    cpu: t.exposeInt('cpu', { nullable: true, description: 'CPU units (always set; default 256).' }),
    gpu: t.exposeInt('gpu', { nullable: true }),
    env: t.field({ type: [EnvVarRef], resolve: (x) => x.env }),
    adaptiveResourceAllocation: t.exposeBoolean('adaptiveResourceAllocation', { nullable: true, description: 'Always set; default true.' }),
    ports: t.exposeIntList('ports'),
    tags: t.exposeStringList('tags'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const TemplateConnection = builder.connectionObject(
  { type: TemplateRef, ...connectionTypeOptions('TemplateConnection', 'templates') },
  { name: 'TemplateEdge', description: 'A template and its cursor.' },
);

builder.queryField('templates', (t) =>
  t.connection(
    {
      type: TemplateRef,
      description: 'Templates by name; only the newest version of each name unless latestOnly is false. 50 a page by default, at most 500.',
      args: { latestOnly: t.arg.boolean({ defaultValue: true }) },
      resolve: (_root, args, ctx) =>
        resolveListConnection(args, { sortBy: 'template_name', kind: 'text' }, (page) =>
          ctx.services.templates.list({ latestOnly: args.latestOnly ?? true, sortBy: 'template_name', order: 'asc', ...page }),
        ),
    },
    TemplateConnection,
  ),
);

builder.queryField('template', (t) =>
  t.field({
    type: TemplateRef,
    nullable: true,
    description: 'One template version by its templateId; null when there is none.',
    args: { templateId: t.arg.id({ required: true }) },
    resolve: async (_root, { templateId }, ctx) => {
      try {
        return await ctx.services.templates.get(String(templateId));
      } catch (err) {
        if (err instanceof NotFoundError) return null;
        throw err;
      }
    },
  }),
);

export const ExecutableUnion = builder.unionType('Executable', {
  description: 'What a run was made from.',
  types: [TaskDefinitionRef, TemplateRef],
  resolveType: (v) => ('templateId' in v ? TemplateRef : TaskDefinitionRef),
});

builder.objectField(RunRef, 'executable', (t) =>
  t.field({
    type: ExecutableUnion,
    nullable: true,
    description: 'The definition or template as it is now; null if it was deleted meanwhile.',
    resolve: async (r, _args, ctx): Promise<TemplateRow | TaskDefinitionRow | null> => {
      if (r.executableType !== 'template') return ctx.loaders.definitionById.load(r.definitionId);
      try {
        return await ctx.services.templates.get(r.definitionId);
      } catch (err) {
        if (err instanceof NotFoundError) return null;
        throw err;
      }
    },
  }),
);

const CreateTemplateInput = builder.inputType('CreateTemplateInput', {
  description: 'A template; when the newest version of templateName has the same fields, that one is returned (created: false).',
  fields: (t) => ({
    templateName: t.string({ required: true, description: 'Letters, digits, "-" and "_", at most 255.' }),
    schema: t.field({ type: 'JSON', required: true, description: 'A non-empty JSON Schema object.' }),
    commandTemplate: t.string({ required: true }),
    defaults: t.field({ type: 'JSON' }),
    avatarUri: t.string(),
    image: t.string({ required: true }),
    memory: t.int({ description: 'MB, default 512.' }),
    cpu: t.int({ description: 'CPU units, default 256.' }),
    gpu: t.int(),
    env: t.field({ type: [EnvVarInput] }),
    adaptiveResourceAllocation: t.boolean({ description: 'Default true.' }),
    ports: t.intList(),
    tags: t.stringList(),
  }),
});

/** A created-or-found template with whether this call created it. */
type CreatedTemplate = TemplateRow & { created: boolean };

builder.mutationField('createTemplate', (t) => {
  const names = mutationResult('CreateTemplate', 'The template: the new version, or the newest one when nothing differed');
  return t.field({
    type: TemplateRef,
    description: 'Creates version 1 of a new name, or the next version when a field differs from the newest.',
    args: { input: t.arg({ type: CreateTemplateInput, required: true }) },
    errors: {
      ...names,
      result: {
        ...names.result,
        fields: (r) => ({
          created: r.boolean({
            description: 'False: the newest version already had these fields, and is returned.',
            resolve: (x) => (x as CreatedTemplate).created,
          }),
        }),
      },
      dataField: { name: 'template' },
    },
    resolve: async (_root, { input }, ctx): Promise<CreatedTemplate> => {
      const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v != null));
      const { template, created } = await inArgument('input', () => ctx.services.templates.create(given));
      return { ...template, created };
    },
  });
});

builder.mutationField('executeTemplate', (t) =>
  t.field({
    type: RunRef,
    description:
      'Runs a template, given by templateId or by templateName (+ version: a number, or "latest" — the default). The payload is merged over the defaults, ' +
      'checked against the schema (TemplatePayloadError lists each failing path) and rendered into the command. dryRun returns the run without storing it.',
    args: {
      templateId: t.arg.id(),
      templateName: t.arg.string(),
      version: t.arg.string(),
      payload: t.arg({ type: 'JSON' }),
      dryRun: t.arg.boolean({ defaultValue: false }),
      input: t.arg({ type: ExecuteInput, required: true }),
    },
    errors: {
      types: [TemplatePayloadError, ...MUTATION_ERRORS],
      result: { name: 'ExecuteTemplateSuccess', description: 'The run was created, QUEUED (or, with dryRun, what would be created).' },
      union: {
        name: 'ExecuteTemplateResult',
        description: 'ExecuteTemplateSuccess, or why not: TemplatePayloadError (the payload), ValidationError, NotFoundError or ConflictError.',
      },
      dataField: { name: 'run' },
    },
    resolve: async (_root, args, ctx) => {
      if ((args.templateId == null) === (args.templateName == null)) {
        throw new ValidationError([
          { path: [args.templateId == null ? 'templateId' : 'templateName'], message: 'executeTemplate takes exactly one of templateId or templateName' },
        ]);
      }
      const template =
        args.templateId != null
          ? await ctx.services.templates.get(String(args.templateId))
          : await ctx.services.templates.getByName(args.templateName!, args.version ?? 'latest');
      const given = Object.fromEntries(Object.entries(args.input).filter(([, v]) => v != null));
      // Same owner rule as executeTask: a user runs as itself (authorization.ts).
      assertAllowed(ctx.actor, 'run.execute', { ownerId: (given as { owner?: string }).owner ?? null });
      const { run, created } = await inArgument(
        'input',
        () => ctx.services.templates.execute(template, given, { payload: args.payload ?? undefined, dryRun: args.dryRun ?? false }),
        ['payload'],
      );
      if (created) ctx.loaders.primeRun(run);
      return run;
    },
  }),
);
