// An in-process Flotilla for API tests: real database (see db.ts), real bus, `app.fetch`
// with no port.
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/api/app.js';
import { createServices } from '../../src/domain/services.js';
import { createMemoryBus } from '../../src/events/memoryBus.js';
import { createRedisBus } from '../../src/events/redisBus.js';
import type { EventBus } from '../../src/events/bus.js';
import { silentLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { TEST_REDIS_URL } from './env.js';

export interface TestApp {
  database: TestDatabase;
  bus: EventBus;
  services: ReturnType<typeof createServices>;
  config: ReturnType<typeof loadConfig>;
  fetch(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** POST a GraphQL operation; returns the parsed body. */
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string; extensions?: any }[] }>;
  close(): Promise<void>;
}

export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const bus = TEST_REDIS_URL ? await createRedisBus(TEST_REDIS_URL) : createMemoryBus();
  const config = loadConfig({ FLOTILLA_ENGINE: 'local', LOG_LEVEL: 'silent', ...env }, 'test');
  const services = createServices({ db: database.db, bus, config, logger: silentLogger });
  const { app } = createApp({ config, services, bus, logger: silentLogger });
  const fetch = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (json !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return Promise.resolve(
      app.fetch(new Request(`http://flotilla.test${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body })),
    );
  };
  return {
    database,
    bus,
    services,
    config,
    fetch,
    async gql(query, variables) {
      const res = await fetch('/graphql', { method: 'POST', json: { query, variables } });
      return res.json() as Promise<any>;
    },
    async close() {
      await bus.close();
      await database.close();
    },
  };
}
