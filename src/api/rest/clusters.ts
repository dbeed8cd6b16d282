// The cluster registry over REST: /clusters and /clusters/{name}. The shim only translates
// snake_case JSON ↔ the service's camelCase input; rules and messages are the service's.
import type { Hono } from 'hono';
import type { ClusterView } from '../../domain/clusterService.js';
import type { RestDeps } from './index.js';
import { actorOf, json, readJsonObject } from './http.js';

/** Body key (lower-cased) → service input key; other keys are ignored, as everywhere in the shim. */
const BODY_FIELDS = {
  name: 'name',
  engine: 'engine',
  status: 'status',
  allowed_tiers: 'allowedTiers',
  capabilities: 'capabilities',
  region: 'region',
  namespace: 'namespace',
  config: 'config',
} as const;

function toServiceInput(body: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [key, target] of Object.entries(BODY_FIELDS)) if (key in body) input[target] = body[key];
  return input;
}

/** A create treats null as "not given", so defaults apply (as for definitions). */
const withoutNulls = (input: Record<string, unknown>) => Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null));

/** Always the same keys; region, namespace and updated_at are null when unset. */
export function clusterJson(c: ClusterView): Record<string, unknown> {
  return {
    name: c.name,
    engine: c.engine,
    status: c.status,
    allowed_tiers: c.allowedTiers,
    capabilities: c.capabilities,
    region: c.region,
    namespace: c.namespace,
    config: c.config,
    updated_at: c.updatedAt ? c.updatedAt.toISOString() : null,
    registered: c.registered,
  };
}

export function registerClusterRoutes(router: Hono, deps: RestDeps): void {
  const clusters = deps.services.clusters;

  router.get('/clusters', async () => json({ clusters: (await clusters.list()).map(clusterJson) }));

  router.post('/clusters', async (c) => {
    const body = await readJsonObject(c);
    return json(clusterJson(await clusters.create(withoutNulls(toServiceInput(body)), actorOf(c))));
  });

  router.get('/clusters/:name', async (c) => json(clusterJson(await clusters.get(c.req.param('name')))));

  router.put('/clusters/:name', async (c) => {
    const body = await readJsonObject(c);
    return json(clusterJson(await clusters.update(c.req.param('name'), toServiceInput(body), actorOf(c))));
  });

  router.delete('/clusters/:name', async (c) => {
    await clusters.delete(c.req.param('name'), actorOf(c));
    return json({ deleted: true });
  });
}
