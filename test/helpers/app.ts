// An in-process Flotilla for API tests: the runtime production opens (src/runtime.ts) on a
// real database (see db.ts) and the bus TEST_REDIS_URL names, served by `app.fetch` with no
// port. With `engines`, the services can stop runs on them and the worker loops run
// in-process (short intervals), as `flotilla dev` runs them.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config, type WorkerName } from '../../src/config.js';
import { createApp, type App } from '../../src/api/app.js';
import type { AuthenticatorOptions } from '../../src/auth/authenticate.js';
import type { Services } from '../../src/domain/services.js';
import type { EventBus } from '../../src/events/bus.js';
import { silentLogger } from '../../src/logger.js';
import type { Metrics } from '../../src/metrics.js';
import { registryOf, resolveEngines, type EngineRegistry } from '../../src/engines/registry.js';
import type { Engine } from '../../src/engines/types.js';
import { openRuntime } from '../../src/runtime.js';
import { runWorkers } from '../../src/worker.js';
import type { Workers } from '../../src/workers/index.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { TEST_REDIS_URL } from './env.js';

export interface TestApp {
  database: TestDatabase;
  bus: EventBus;
  services: Services;
  config: Config;
  /** The process metrics production serves on /metrics, observing these services and loops. */
  metrics: Metrics;
  fetch(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** The application itself (to put it on a port with `listen`). */
  api: App;
  /** POST a GraphQL operation; returns the parsed body. */
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string; extensions?: any }[] }>;
  /** The engines given in the options (undefined without them). */
  engines?: EngineRegistry;
  /** Parent directory of the local engine's run directories, when `engines: 'local'`. */
  localWorkdir?: string;
  /** The running worker loops, if started. */
  workers?: Workers;
  /** Starts the worker loops in-process (needs `engines`); idempotent. */
  startWorkers(enabled?: readonly WorkerName[]): Workers;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /**
   * Engines for the run service (stop) and the workers. `'local'` builds a local engine in
   * a fresh temporary directory; its leftover processes are killed on close.
   */
  engines?: Engine[] | 'local';
  /** Start the worker loops at once (default false: call `startWorkers()`). */
  workers?: boolean;
  /** Passed to the authenticator (tests shorten the JWKS refetch cool-down). */
  authOptions?: AuthenticatorOptions;
}

/** Short loop intervals so tests with in-process workers finish quickly. */
const WORKER_TEST_ENV = {
  WORKER_SUBMIT_INTERVAL: '100ms',
  WORKER_STATUS_INTERVAL: '200ms',
  WORKER_RETRY_INTERVAL: '200ms',
  WORKER_SWEEP_INTERVAL: '200ms',
  FLOTILLA_LOCAL_GRACE: '1s',
};

/** Kills the process group of every run the local engine started under `workdir`. */
function killLocalRuns(workdir: string): void {
  let dirs: string[];
  try {
    dirs = readdirSync(workdir);
  } catch {
    return;
  }
  for (const dir of dirs) {
    try {
      const { pid } = JSON.parse(readFileSync(join(workdir, dir, 'pid'), 'utf8')) as { pid: number };
      process.kill(-pid, 'SIGKILL');
    } catch {
      // no pid file, or the group is already gone
    }
  }
}

/**
 * Stands in for the engines when a test gives none: it names the engines the config enables,
 * as production would, but connects to none of them, so nothing reaches an engine.
 */
async function unconnectedEngines(config: Config): Promise<EngineRegistry> {
  const { enabled, defaultName } = await resolveEngines(config);
  return { names: () => enabled, defaultName: () => defaultName, get: () => undefined, all: () => [], close: async () => {} };
}

export async function createTestApp(env: Record<string, string> = {}, opts: TestAppOptions = {}): Promise<TestApp> {
  const withEngines = opts.engines !== undefined;
  // The local engine runs in a fresh temporary directory, built from the config as production builds it.
  const localWorkdir = opts.engines === 'local' ? mkdtempSync(join(tmpdir(), 'flotilla-api-test-')) : undefined;
  const config = loadConfig(
    {
      FLOTILLA_ENGINE: 'local',
      LOG_LEVEL: 'silent',
      ...(TEST_REDIS_URL ? { REDIS_URL: TEST_REDIS_URL } : {}),
      ...(withEngines ? WORKER_TEST_ENV : {}),
      ...(localWorkdir ? { FLOTILLA_ENGINES: 'local', FLOTILLA_LOCAL_WORKDIR: localWorkdir } : {}),
      ...env,
    },
    'test',
  );
  // 'local' leaves the engines to the runtime, which builds them from the config.
  const given = Array.isArray(opts.engines) ? registryOf(opts.engines) : withEngines ? undefined : await unconnectedEngines(config);
  const database = await createTestDatabase();
  // The production wiring on this file's database: the bus REDIS_URL names, metrics, the engines' cluster lookup.
  const runtime = await openRuntime(config, silentLogger, { database, engines: given });
  const { services, bus, metrics } = runtime;
  const engines = withEngines ? runtime.engines : undefined;
  const api = createApp({ ...runtime, authOptions: opts.authOptions });
  const { app } = api;
  const fetch = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (json !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return Promise.resolve(
      app.fetch(new Request(`http://flotilla.test${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body })),
    );
  };
  const testApp: TestApp = {
    database,
    bus,
    services,
    config,
    metrics,
    fetch,
    api,
    engines,
    localWorkdir,
    async gql(query, variables) {
      const res = await fetch('/graphql', { method: 'POST', json: { query, variables } });
      return res.json() as Promise<any>;
    },
    startWorkers(enabled = config.workers.enabled) {
      if (!engines) throw new Error('createTestApp: pass `engines` to run workers');
      testApp.workers ??= runWorkers(runtime, enabled);
      return testApp.workers;
    },
    async stopWorkers() {
      const workers = testApp.workers;
      testApp.workers = undefined;
      await workers?.stop();
    },
    async close() {
      await testApp.stopWorkers();
      if (localWorkdir) killLocalRuns(localWorkdir);
      await runtime.close();
      if (localWorkdir) rmSync(localWorkdir, { recursive: true, force: true });
    },
  };
  if (opts.workers) testApp.startWorkers();
  return testApp;
}
