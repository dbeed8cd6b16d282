// Opens what every role needs (database, event bus, services) from a Config, and closes
// it again. Entry points (server.ts, worker.ts, dev.ts) build on this.
import type { Config } from './config.js';
import { createDatabase, type Database } from './db/client.js';
import type { EventBus } from './events/bus.js';
import { createMemoryBus } from './events/memoryBus.js';
import { createRedisBus } from './events/redisBus.js';
import { createServices, type Services } from './domain/services.js';
import type { Logger } from './logger.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  database: Database;
  bus: EventBus;
  services: Services;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, logger: Logger, opts: { migrate?: boolean } = {}): Promise<Runtime> {
  const database = await createDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    if (opts.migrate) await database.migrate();
    const bus = config.redisUrl ? await createRedisBus(config.redisUrl, logger) : createMemoryBus();
    const services = createServices({ db: database.db, bus, config, logger });
    return {
      config,
      logger,
      database,
      bus,
      services,
      async close() {
        await bus.close();
        await database.close();
      },
    };
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}
