// The classic REST shim. Each module registers its routes on one router; app.ts mounts
// the router under every /api/vN prefix.
import { Hono, type MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { authorize, type Action } from '../../domain/authorization.js';
import type { Services } from '../../domain/services.js';
import type { Logger } from '../../logger.js';
import { wwwAuthenticate } from '../../auth/authenticate.js';
import { actorOf, errorResponse, json } from './http.js';
import { registerClusterRoutes } from './clusters.js';
import { registerDefinitionRoutes } from './definitions.js';
import { registerRunRoutes } from './runs.js';
import { registerTemplateRoutes } from './templates.js';

export interface RestDeps {
  services: Services;
  logger: Logger;
}

/**
 * What each route needs (domain/authorization.ts decides). A route missing here is refused
 * (500, logged) rather than left open, and the authorization matrix test fails on it.
 * Ownership (whose run, whose definition) is judged again in the services.
 */
export const REST_RULES: Record<string, Action> = {
  'GET /health': 'public',
  'GET /clusters': 'read',
  'POST /clusters': 'cluster.write',
  'GET /clusters/:name': 'read',
  'PUT /clusters/:name': 'cluster.write',
  'DELETE /clusters/:name': 'cluster.write',
  'PUT /task/alias/:alias/execute': 'run.execute',
  'PUT /task/:definition_id/execute': 'run.execute',
  'GET /history': 'read',
  'GET /task/:definition_id/history': 'read',
  'GET /history/:run_id': 'read',
  'GET /task/history/:run_id': 'read',
  'GET /task/:definition_id/history/:run_id': 'read',
  'DELETE /task/:definition_id/history/:run_id': 'run.stop',
  'GET /:run_id/status': 'read',
  'PUT /:run_id/status': 'run.report',
  'GET /:run_id/events': 'read',
  'GET /:run_id/logs': 'read',
  'GET /task': 'read',
  'POST /task': 'definition.create',
  'GET /task/alias/:alias': 'read',
  'GET /task/:definition_id': 'read',
  'PUT /task/:definition_id': 'definition.update',
  'DELETE /task/:definition_id': 'definition.delete',
  'GET /groups': 'read',
  'GET /tags': 'read',
  'GET /task/alias/:alias/explain-resources': 'read',
  'GET /task/:definition_id/explain-resources': 'read',
  // /api/v7 (templates): templates are definitions in another shape.
  'GET /template': 'read',
  'POST /template': 'definition.create',
  'PUT /template/name/:name/version/:version/execute': 'run.execute',
  'PUT /template/:template_id/execute': 'run.execute',
  'GET /template/name/:name/history': 'read',
  'GET /template/history/:run_id': 'read',
  'GET /template/:template_id/history': 'read',
  'GET /template/:template_id/history/:run_id': 'read',
  'DELETE /template/:template_id/history/:run_id': 'run.stop',
  'GET /template/:template_id': 'read',
};

/** Before any route runs: the caller's role must allow the route's action at all. */
function authorizeRoute(logger: Logger): MiddlewareHandler {
  const self: MiddlewareHandler = async (c, next) => {
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    // The REST route that will answer (mounted under /api/vN); app-level catch-alls (the
    // console's fallback) are not REST routes. None: the 404 answer.
    const route = matchedRoutes(c).find((r) => r.method === method && r.handler !== self && /^\/api\/v\d+\//.test(r.path));
    if (!route) return next();
    const key = `${route.method} ${route.path.replace(/^\/api\/v\d+/, '')}`;
    const action = REST_RULES[key];
    if (!action) {
      logger.error({ route: key }, 'REST route without an authorization rule: refused');
      return json({ error: `no authorization rule for ${key}` }, 500);
    }
    const decision = authorize(actorOf(c), action);
    if (decision.allowed) return next();
    return json({ error: decision.message }, decision.status, decision.status === 401 ? { 'www-authenticate': wwwAuthenticate() } : {});
  };
  return self;
}

export function createRestRouter(deps: RestDeps): Hono {
  const router = new Hono();
  router.use('*', authorizeRoute(deps.logger));
  router.get('/health', () => json({ status: 'healthy', message: 'Service is up and running' }));
  // Clusters before runs: /clusters/status is a cluster, not the status of run "clusters".
  registerClusterRoutes(router, deps);
  // Run routes first: /task/:id/execute and /task/:id/history must not be read as definition ids.
  registerRunRoutes(router, deps);
  registerDefinitionRoutes(router, deps);
  router.onError((err, c) => errorResponse(err, deps.logger, c));
  return router;
}

/** /api/v7: the templates (README "Classic web UI, templates and adaptive resources"). */
export function createV7Router(deps: RestDeps): Hono {
  const router = new Hono();
  router.use('*', authorizeRoute(deps.logger));
  router.get('/health', () => json({ status: 'healthy', message: 'Service is up and running' }));
  registerTemplateRoutes(router, deps);
  router.onError((err, c) => errorResponse(err, deps.logger, c));
  return router;
}
