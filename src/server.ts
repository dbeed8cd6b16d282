// `flotilla serve`: the HTTP API (GraphQL, REST shim, health) against Postgres + Redis.
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { openRuntime } from './runtime.js';
import { createApp } from './api/app.js';
import { listen } from './httpServer.js';
import { installShutdown } from './signals.js';
import { exposureWarnings, logExposure } from './auth/exposure.js';

export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env, 'serve');
  const logger = createLogger(config.logLevel, { role: 'serve' });
  const warnings = exposureWarnings(config);
  logExposure(warnings, logger);
  if (config.embedded) {
    logger.warn(
      'DATABASE_URL is not set: serving from the embedded PGlite database in ' +
        config.dataDir +
        ' (use `flotilla dev` for a laptop, set DATABASE_URL for production)',
    );
  }
  const shutdown = installShutdown(logger, config.shutdownTimeoutMs);
  const runtime = await openRuntime(config, logger, { migrate: config.embedded });
  shutdown.add(() => runtime.close());
  const app = createApp({ ...runtime, warnings });
  const http = await listen(app, config.host, config.port);
  shutdown.add(() => http.close());
  logger.info({ url: http.url }, 'flotilla API listening');
}
