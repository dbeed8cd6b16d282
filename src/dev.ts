// `flotilla dev` (what `npm start` runs): API and workers in one process on the embedded
// database, so a fresh machine needs no services.
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { openRuntime } from './runtime.js';
import { createApp } from './api/app.js';
import { listen } from './httpServer.js';
import { installShutdown } from './signals.js';
import { runWorkers } from './worker.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export async function dev(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const started = performance.now();
  const config = loadConfig(env, 'dev');
  const logger = createLogger(config.logLevel, { role: 'dev' });
  const localEnabled = !config.enabledEngines || config.enabledEngines.includes('local');
  if (localEnabled && !LOOPBACK.test(config.host) && !config.allowRemoteLocalEngine) {
    throw new ConfigError(
      `HOST=${config.host} would let anyone who can reach this machine run commands on it through the local engine.\n` +
        'Bind to 127.0.0.1 (unset HOST), disable the local engine (FLOTILLA_ENGINES=docker), or set FLOTILLA_ALLOW_REMOTE_LOCAL_ENGINE=true if you mean it.',
    );
  }
  const shutdown = installShutdown(logger, config.shutdownTimeoutMs);
  const runtime = await openRuntime(config, logger, { migrate: true });
  shutdown.add(() => runtime.close());
  const app = createApp(runtime);
  const workers = runWorkers(runtime, config.workers.enabled);
  shutdown.add(() => workers.stop());
  const http = await listen(app, config.host, config.port);
  shutdown.add(() => http.close());
  logger.info(
    {
      url: http.url,
      database: runtime.database.kind === 'pglite' ? config.dataDir : 'postgres',
      engines: runtime.engines.names(),
      defaultEngine: runtime.engines.defaultName(),
      startupMs: Math.round(performance.now() - started),
    },
    `flotilla dev ready on ${http.url} (GraphiQL at ${http.url}/graphql); runs go to the ${runtime.engines.defaultName()} engine`,
  );
}
