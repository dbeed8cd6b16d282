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

const program = new Command()
  .name('flotilla')
  .description('Self-service control plane for containerized jobs.')
  .showHelpAfterError();

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

program
  .command('schema')
  .description('print the GraphQL schema (SDL)')
  .action(async () => {
    const { printSchemaSdl } = await import('./api/graphql/printSchema.js');
    process.stdout.write(printSchemaSdl());
  });

await program.parseAsync(process.argv);
