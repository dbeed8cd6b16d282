// The classic REST shim. Each module registers its routes on one router; app.ts mounts
// the router under every /api/vN prefix.
import { Hono } from 'hono';
import type { Services } from '../../domain/services.js';
import type { Logger } from '../../logger.js';
import { errorResponse, json } from './http.js';
import { registerClusterRoutes } from './clusters.js';
import { registerDefinitionRoutes } from './definitions.js';
import { registerRunRoutes } from './runs.js';
import { registerTemplateRoutes } from './templates.js';

export interface RestDeps {
  services: Services;
  logger: Logger;
}

export function createRestRouter(deps: RestDeps): Hono {
  const router = new Hono();
  router.get('/health', () => json({ status: 'healthy', message: 'Service is up and running' }));
  // Clusters before runs: /clusters/status is a cluster, not the status of run "clusters".
  registerClusterRoutes(router, deps);
  // Run routes first: /task/:id/execute and /task/:id/history must not be read as definition ids.
  registerRunRoutes(router, deps);
  registerDefinitionRoutes(router, deps);
  router.onError((err, c) => errorResponse(err, deps.logger, c));
  return router;
}

/** /api/v7: the templates (spec/templates.md). */
export function createV7Router(deps: RestDeps): Hono {
  const router = new Hono();
  router.get('/health', () => json({ status: 'healthy', message: 'Service is up and running' }));
  registerTemplateRoutes(router, deps);
  router.onError((err, c) => errorResponse(err, deps.logger, c));
  return router;
}
