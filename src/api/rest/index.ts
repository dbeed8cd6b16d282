// The classic REST shim. Each module registers its routes on one router; app.ts mounts
// the router under every /api/vN prefix.
import { Hono } from 'hono';
import type { Services } from '../../domain/services.js';
import type { Logger } from '../../logger.js';
import { errorResponse, json } from './http.js';
import { registerDefinitionRoutes } from './definitions.js';

export interface RestDeps {
  services: Services;
  logger: Logger;
}

export function createRestRouter(deps: RestDeps): Hono {
  const router = new Hono();
  router.get('/health', () => json({ status: 'healthy', message: 'Service is up and running' }));
  registerDefinitionRoutes(router, deps);
  router.onError((err, c) => errorResponse(err, deps.logger, c));
  return router;
}
