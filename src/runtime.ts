// Opens what every role needs (database, event bus, services) from a Config, and closes
// it again. Entry points (server.ts, worker.ts, dev.ts) build on this.
import { sql } from 'drizzle-orm';
import { ConfigError, type Config } from './config.js';
import { createDatabase, type Database } from './db/client.js';
import type { EventBus } from './events/bus.js';
import { createMemoryBus } from './events/memoryBus.js';
import { createServices, type Services } from './domain/services.js';
import type { Logger } from './logger.js';
import { createEngineRegistry, type EngineRegistry } from './engines/registry.js';
import { createMetrics, type Metrics } from './metrics.js';
import { getCluster } from './store/clusters.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  database: Database;
  bus: EventBus;
  services: Services;
  engines: EngineRegistry;
  /** This process's Prometheus registry, observed by the services and workers. */
  metrics: Metrics;
  close(): Promise<void>;
}

/** Milliseconds spent in each start-up step, for the ready log line and the benchmark. */
export type StartupTimings = Record<string, number>;

/** Times `fn` into `timings[name]`. */
export async function timed<T>(timings: StartupTimings | undefined, name: string, fn: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    if (timings) timings[name] = Math.round(performance.now() - started);
  }
}

export interface RuntimeOptions {
  /** Apply the migrations (embedded database, `dev`) instead of checking they were applied. */
  migrate?: boolean;
  timings?: StartupTimings;
  /** An open database to use instead of opening the configured one (tests: a fresh copy per file). The runtime closes it. */
  database?: Database;
  /** Engines to drive instead of those the config enables (tests: fakes, or a local engine in a temporary directory). The runtime closes them. */
  engines?: EngineRegistry;
}

export async function openRuntime(config: Config, logger: Logger, opts: RuntimeOptions = {}): Promise<Runtime> {
  const timings = opts.timings;
  const database = opts.database ?? (await timed(timings, 'databaseOpenMs', () => createDatabase({ url: config.databaseUrl, dataDir: config.dataDir })));
  let bus: EventBus | undefined;
  let engines = opts.engines;
  // Closes what is open so far: everything, once opening has finished.
  const close = async () => {
    await engines?.close();
    await bus?.close();
    await database.close();
  };
  try {
    await timed(timings, 'migrateMs', () => (opts.migrate ? database.migrate() : assertMigrated(database)));
    // ioredis loads only when Redis is configured.
    bus = config.redisUrl ? await (await import('./events/redisBus.js')).createRedisBus(config.redisUrl, logger) : createMemoryBus();
    // Engines read the cluster registry through a function, never the database itself.
    engines ??= await timed(timings, 'enginesMs', () =>
      createEngineRegistry(config, logger, undefined, { lookupCluster: (name) => getCluster(database.db, name) }),
    );
    const metrics = createMetrics({ db: database.db, logger });
    const services = createServices({ db: database.db, bus, config, logger, engines, metrics });
    metrics.trackLive(services.live.stats);
    return {
      config,
      logger,
      database,
      bus,
      services,
      engines,
      metrics,
      close,
    };
  } catch (err) {
    // A failed start leaves nothing open, including what it was handed.
    await close().catch(() => {});
    throw err;
  }
}

async function assertMigrated(database: Database): Promise<void> {
  try {
    await database.db.execute(sql`select 1 from runs limit 0`);
  } catch (err) {
    throw new ConfigError(
      `The database has no Flotilla tables (${(err as Error).message}).\nRun \`flotilla migrate\` (npm run migrate) with the same DATABASE_URL first.`,
    );
  }
}
