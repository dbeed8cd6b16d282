// The `flotilla` command.
import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`flotilla: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`flotilla: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

const program = new Command().name('flotilla').description('Self-service control plane for containerized jobs.').showHelpAfterError();

program
  .command('dev')
  .description('API and workers in one process on the embedded database (what `npm start` runs)')
  .action(async () => (await import('./dev.js')).dev().catch(fail));

program
  .command('serve')
  .description('the HTTP API (GraphQL, REST shim) against DATABASE_URL and REDIS_URL')
  .action(async () => (await import('./server.js')).serve().catch(fail));

program
  .command('worker')
  .description('the background loops (submit, status, retry, logs, sweep) against DATABASE_URL and REDIS_URL')
  .option('--workers <list>', 'comma-separated loops to run (submit,status,retry,logs,sweep); default ENABLED_WORKERS')
  .action(async (opts: { workers?: string }) => (await import('./worker.js')).worker(opts).catch(fail));

program
  .command('migrate')
  .description('apply the database migrations in drizzle/ to DATABASE_URL (or the embedded database)')
  .action(async () => {
    try {
      const config = loadConfig(process.env, 'migrate');
      const logger = createLogger(config.logLevel, { role: 'migrate' });
      const { createDatabase } = await import('./db/client.js');
      const database = await createDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
      await database.migrate();
      await database.close();
      logger.info({ database: database.kind }, 'migrations applied');
    } catch (err) {
      fail(err);
    }
  });

/** Token commands work on the database directly: whoever holds its credentials is an admin. */
async function withTokens<T>(
  fn: (tokens: ReturnType<typeof import('./domain/tokenService.js').createTokenService>, actor: import('./domain/authorization.js').Actor) => Promise<T>,
): Promise<T> {
  const config = loadConfig(process.env, 'migrate');
  const { createDatabase } = await import('./db/client.js');
  const { createTokenService } = await import('./domain/tokenService.js');
  const { userInfo } = await import('node:os');
  const database = await createDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    await database.migrate();
    return await fn(createTokenService({ db: database.db }), { id: `cli:${userInfo().username}`, role: 'admin', via: 'cli' });
  } finally {
    await database.close();
  }
}

async function tokenAction(fn: () => Promise<void>): Promise<void> {
  const { ValidationError } = await import('./errors.js');
  try {
    await fn();
  } catch (err) {
    if (err instanceof ValidationError) {
      process.stderr.write(`flotilla token: ${err.message}\n`);
      process.exit(2);
    }
    fail(err);
  }
}

const token = program.command('token').description('API tokens for FLOTILLA_AUTH=token (works on DATABASE_URL or the embedded database)');

token
  .command('create')
  .description('create a token; it is printed once (only its hash is stored)')
  .requiredOption('--owner <id>', 'who the token acts as: the owner id of the runs it executes')
  .requiredOption('--role <role>', 'viewer, user or admin')
  .option('--expires <duration>', 'lifetime, e.g. 90d, 12h, 30m (default: never)')
  .action((opts: { owner: string; role: string; expires?: string }) =>
    tokenAction(async () => {
      const { row, secret } = await withTokens((tokens, actor) => tokens.create(opts, actor));
      process.stderr.write(
        `token ${row.tokenId} for ${row.owner} (${row.role})${row.expiresAt ? `, expires ${row.expiresAt.toISOString()}` : ''}; shown once, keep it:\n`,
      );
      process.stdout.write(secret + '\n');
    }),
  );

token
  .command('list')
  .description('list tokens (never their secrets)')
  .option('--json', 'print JSON')
  .action((opts: { json?: boolean }) =>
    tokenAction(async () => {
      const rows = await withTokens((tokens, actor) => tokens.list(actor));
      const view = rows.map((r) => ({
        id: r.tokenId,
        owner: r.owner,
        role: r.role,
        created: r.createdAt.toISOString(),
        createdBy: r.createdBy,
        expires: r.expiresAt?.toISOString() ?? null,
        revoked: r.revokedAt?.toISOString() ?? null,
      }));
      if (opts.json) {
        process.stdout.write(JSON.stringify(view, null, 2) + '\n');
        return;
      }
      for (const v of view) {
        const state = v.revoked ? `revoked ${v.revoked}` : v.expires ? `expires ${v.expires}` : 'no expiry';
        process.stdout.write(`${v.id}  ${v.owner}  ${v.role}  created ${v.created}  ${state}\n`);
      }
    }),
  );

token
  .command('revoke <id>')
  .description('revoke a token at once (its id from `flotilla token list`)')
  .action((id: string) =>
    tokenAction(async () => {
      const done = await withTokens((tokens, actor) => tokens.revoke(id, actor));
      if (!done) {
        process.stderr.write(`flotilla token: no live token with id ${id}\n`);
        process.exit(1);
      }
      process.stdout.write(`revoked ${id}\n`);
    }),
  );

const urlOption = (cmd: Command) =>
  cmd.option('--url <url>', 'Flotilla server (default $FLOTILLA_URL or http://localhost:5000)', process.env.FLOTILLA_URL || 'http://localhost:5000');

async function clientAction(fn: () => Promise<number>): Promise<void> {
  const { ClientError } = await import('./client/follow.js');
  try {
    process.exitCode = await fn();
  } catch (err) {
    if (err instanceof ClientError) {
      process.stderr.write(`flotilla: ${err.message}\n`);
      process.exit(2);
    }
    fail(err);
  }
}

urlOption(
  program
    .command('run <alias>')
    .description('execute a task by alias; with --follow, stream its logs and exit with its exit code')
    .requiredOption('--owner <id>', 'owner id (run_tags.owner_id)')
    .option('--env <NAME=VALUE...>', 'environment for this run (repeatable)', [])
    .option('--cluster <name>', 'cluster to run on')
    .option('--engine <name>', 'engine (local, docker, kubernetes/eks, ecs)')
    .option('--command <command>', 'override the definition command')
    .option('--follow', 'stream the logs until the run stops, then exit with its exit code'),
).action((alias: string, opts: { owner: string; env: string[]; cluster?: string; engine?: string; command?: string; follow?: boolean; url: string }) =>
  clientAction(async () => {
    const client = await import('./client/follow.js');
    const body: Record<string, unknown> = { run_tags: { owner_id: opts.owner }, env: client.parseEnvPairs(opts.env) };
    if (opts.cluster) body.cluster = opts.cluster;
    if (opts.engine) body.engine = opts.engine;
    if (opts.command) body.command = opts.command;
    const run = await client.executeByAlias(opts.url, alias, body);
    if (!opts.follow) {
      process.stdout.write(run.run_id + '\n');
      return 0;
    }
    process.stderr.write(`flotilla: run ${run.run_id} queued\n`);
    await client.followLogs(run.run_id, { url: opts.url });
    const code = await client.finalExitCode(opts.url, run.run_id);
    const status = await client.runStatus(opts.url, run.run_id);
    process.stderr.write(
      `flotilla: run ${run.run_id} ${status.status} exit ${status.exit_code ?? '-'}${status.exit_reason ? ` (${status.exit_reason})` : ''}\n`,
    );
    return code;
  }),
);

urlOption(
  program
    .command('explain-resources <definition>')
    .description('print the cpu and memory a run of a definition (id or alias) would get now, and why (adaptive resources); runs nothing')
    .option('--engine <name>', 'engine the run would use (default: the server default)')
    .option('--cpu <units>', 'cpu override the run would give')
    .option('--memory <mb>', 'memory override the run would give')
    .option('--command <command>', 'command override (the history is per command)'),
).action((definition: string, opts: { engine?: string; cpu?: string; memory?: string; command?: string; url: string }) =>
  clientAction(async () => {
    const client = await import('./client/follow.js');
    const e = await client.explainResources(opts.url, definition, opts);
    process.stdout.write(`${e.alias} (${e.definition_id}) on ${e.engine}: cpu ${e.cpu}, memory ${e.memory} MB\n${e.reason}\n`);
    return 0;
  }),
);

urlOption(
  program
    .command('logs <runId>')
    .description("print a run's logs; with --follow, stream them until it stops and exit with its exit code")
    .option('--follow', 'stream new lines until the run stops'),
).action((runId: string, opts: { follow?: boolean; url: string }) =>
  clientAction(async () => {
    const client = await import('./client/follow.js');
    if (!opts.follow) {
      await client.printLogs(opts.url, runId);
      return 0;
    }
    await client.followLogs(runId, { url: opts.url });
    return client.finalExitCode(opts.url, runId);
  }),
);

const ecs = program.command('ecs').description('AWS ECS engine helpers');

ecs
  .command('setup')
  .description(
    'create (or find) what the ECS engine needs: the SQS queue for task state events, the EventBridge rule and queue policy that feed it, and the CloudWatch log group; safe to repeat',
  )
  .option('--json', 'print the result as JSON')
  .action(async (opts: { json?: boolean }) => {
    let config;
    try {
      config = loadConfig(process.env, 'worker');
    } catch (err) {
      fail(err);
    }
    const { ecsSetup } = await import('./engines/ecs/index.js');
    let result;
    try {
      result = await ecsSetup(config.ecs);
    } catch (err) {
      // AWS and setup errors are the user's to fix (credentials, region, cluster name): the message, not a stack.
      const name = err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : '';
      const message = err instanceof Error ? err.message : String(err);
      const hint = /region/i.test(message) && !config.ecs.region ? ' (set AWS_REGION)' : '';
      process.stderr.write(`flotilla ecs setup: ${name}${message}${hint}\n`);
      process.exit(1);
    }
    const queueUnset = config.ecs.eventsQueue === undefined;
    if (opts.json) {
      process.stdout.write(JSON.stringify({ ...result, eventsQueueUnset: queueUnset }, null, 2) + '\n');
      return;
    }
    const lines = [
      `ECS setup for cluster ${config.ecs.cluster} (${result.clusterArn})`,
      ...(result.changes.length > 0 ? result.changes.map((c) => `  ${c}`) : ['  nothing to change: everything was already in place']),
      `queue:     ${result.queueUrl}`,
      `rule:      ${result.ruleName} (${result.ruleArn})`,
      `log group: ${result.logGroup}`,
    ];
    if (queueUnset) {
      lines.push(
        '',
        'FLOTILLA_ECS_EVENTS_QUEUE is not set, so workers will not read these events (they fall back to DescribeTasks polling).',
        `Set it for \`flotilla worker\`: FLOTILLA_ECS_EVENTS_QUEUE=${result.queueUrl}`,
      );
    }
    process.stdout.write(lines.join('\n') + '\n');
  });

program
  .command('schema')
  .description('print the GraphQL schema (SDL)')
  .action(async () => {
    const { printSchemaSdl } = await import('./api/graphql/printSchema.js');
    process.stdout.write(printSchemaSdl());
  });

await program.parseAsync(process.argv);
