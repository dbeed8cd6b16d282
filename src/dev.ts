// `flotilla dev` (what `npm start` runs): API and workers in one process on the embedded
// database, so a fresh machine needs no services.
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { openRuntime, timed, type StartupTimings } from './runtime.js';
import { installShutdown } from './signals.js';

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
  // Start-up breakdown (the benchmark reads it): modules is process start → here, mostly
  // loading the compiled modules; the rest are the steps below.
  const timings: StartupTimings = { modulesMs: Math.round(started) };
  // The API's modules load while PGlite compiles its WebAssembly (off the main thread) and
  // starts: the two overlap instead of adding up.
  const runtimeOpening = openRuntime(config, logger, { migrate: true, timings });
  const apiModules = timed(timings, 'apiModulesMs', () =>
    Promise.all([import('./api/app.js'), import('./httpServer.js'), import('./worker.js'), import('./api/graphql/ws.js')]),
  );
  // Both settle before either failure is thrown, so a failed start leaves nothing open.
  const [opened, loaded] = await Promise.allSettled([runtimeOpening, apiModules]);
  if (opened.status === 'rejected') throw opened.reason;
  const runtime = opened.value;
  shutdown.add(() => runtime.close());
  if (loaded.status === 'rejected') {
    await runtime.close();
    throw loaded.reason;
  }
  const [{ createApp }, { listen }, { runWorkers }] = loaded.value;
  const app = await timed(timings, 'appMs', () => createApp(runtime));
  const workers = await timed(timings, 'workersMs', () => runWorkers(runtime, config.workers.enabled));
  shutdown.add(() => workers.stop());
  const http = await timed(timings, 'listenMs', () => listen(app, config.host, config.port));
  shutdown.add(() => http.close());
  logger.info(
    {
      startup: timings,
      url: http.url,
      database: runtime.database.kind === 'pglite' ? config.dataDir : 'postgres',
      engines: runtime.engines.names(),
      defaultEngine: runtime.engines.defaultName(),
      // Since the process started (performance.now() counts from there).
      startupMs: Math.round(performance.now()),
    },
    `flotilla dev ready on ${http.url} (GraphiQL at ${http.url}/graphql); runs go to the ${runtime.engines.defaultName()} engine`,
  );
}
