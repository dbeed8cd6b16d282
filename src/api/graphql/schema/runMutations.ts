// executeTask and stopRun: the same run service the REST shim calls, with expected failures
// as typed results (ValidationError with field paths, NotFoundError, ConflictError).
import { ValidationError } from '../../../errors.js';
import { stopOptions } from '../../headers.js';
import { builder } from '../builder.js';
import { inArgument } from '../fieldWords.js';
import { EnvVarInput } from './envVar.js';
import { mutationResult } from './errors.js';
import { NodeLifecycleEnum, RunRef } from './run.js';

export const ExecuteInput = builder.inputType('ExecuteInput', {
  description: 'How to run a definition. Omitted (or null) fields take the definition value or the default.',
  fields: (t) => ({
    owner: t.string({ required: true, description: 'Who is running it; becomes run_tags.owner_id and the owner env var.' }),
    runTags: t.field({ type: 'JSON', description: 'An object of string values, e.g. {"team": "ml"}.' }),
    cluster: t.string({ description: 'Default: the definition target cluster, else "default".' }),
    env: t.field({
      type: [EnvVarInput],
      description:
        'Added to (and overriding) the definition env. FLOTILLA_RUN_ID, FLOTILLA_SERVER_MODE, the owner variable and AWS_ROLE_SESSION_NAME are reserved.',
    }),
    command: t.string({ description: 'Replaces the definition command.' }),
    memory: t.int({ description: 'MB; clamped to the engine limits.' }),
    cpu: t.int({ description: 'CPU units (1024 = 1 vCPU); clamped to the engine limits.' }),
    gpu: t.int(),
    ephemeralStorage: t.int({ description: 'MB' }),
    engine: t.string({ description: 'One of the enabled engines; default: the server default.' }),
    nodeLifecycle: t.field({ type: NodeLifecycleEnum, description: 'Default SPOT; ONDEMAND whenever a GPU is requested.' }),
    activeDeadlineSeconds: t.int({ description: 'Default: 172800 on spot, 604800 on demand.' }),
    description: t.string(),
    idempotenceKey: t.string({ description: 'The same key within 7 days, on a run that did not fail, returns that run instead of a new one.' }),
    arch: t.string({ description: 'e.g. amd64 or arm64' }),
    labels: t.field({ type: 'JSON', description: 'An object of string values put on the engine object.' }),
    serviceAccount: t.string(),
    tier: t.string(),
  }),
});

builder.mutationField('executeTask', (t) =>
  t.field({
    type: RunRef,
    description: 'Creates a QUEUED run of a definition, given by id or by alias (exactly one). A worker launches it.',
    args: {
      definitionId: t.arg.id(),
      alias: t.arg.string(),
      input: t.arg({ type: ExecuteInput, required: true, description: 'How to run it: who (owner) and any overrides.' }),
    },
    errors: { ...mutationResult('ExecuteTask', 'The run was created, QUEUED (or the earlier run with the same idempotence key)'), dataField: { name: 'run' } },
    resolve: async (_root, { definitionId, alias, input }, ctx) => {
      if ((definitionId == null) === (alias == null)) {
        throw new ValidationError([
          { path: [definitionId == null ? 'definitionId' : 'alias'], message: 'executeTask takes exactly one of definitionId or alias' },
        ]);
      }
      const target = definitionId != null ? { definitionId: String(definitionId) } : { alias: alias! };
      // null means "not given": the service then applies the definition value or default.
      const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v != null));
      const run = await inArgument('input', () => ctx.services.runs.execute(target, given, ctx.actor));
      ctx.loaders.primeRun(run);
      return run;
    },
  }),
);

builder.mutationField('stopRun', (t) =>
  t.field({
    type: RunRef,
    description:
      'Stops a run and its children (PARENT_FLOTILLA_RUN_ID): a QUEUED run never starts, a running one is terminated; STOPPED with exit code 1. ' +
      'Stopping a stopped run changes nothing. A request header whose name contains "-email" names who stopped it.',
    args: { runId: t.arg.id({ required: true, description: 'The run id (Run.runId).' }) },
    errors: { ...mutationResult('StopRun', 'The run is stopped'), dataField: { name: 'run' } },
    resolve: async (_root, { runId }, ctx) => {
      const id = String(runId);
      const run = await ctx.services.runs.stop(id, stopOptions(ctx.actor, ctx.headers));
      ctx.loaders.forgetRun(id);
      ctx.loaders.primeRun(run);
      return run;
    },
  }),
);
