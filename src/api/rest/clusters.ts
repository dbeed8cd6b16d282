// The cluster registry over REST: /clusters and /clusters/{name}. The shim only translates
// snake_case JSON ↔ the service's camelCase input; rules and messages are the service's.
import type { Hono } from 'hono';
import type { ClusterView } from '../../domain/clusterService.js';
import type { RestDeps } from './index.js';
import { actorOf, json, readJsonObject } from './http.js';
import { ValidationError } from '../../errors.js';
import { inClusterWords } from './fieldWords.js';

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

  // The classic UI's cluster picker renders `clusters` as option labels and crashes on
  // objects, so the list holds names (the 2018–2021 shape); `?detail=true` (or GET
  // /clusters/{name}, or GraphQL) gives the metadata. README "Clusters" says why.
  router.get('/clusters', async (c) => {
    const detail = c.req.query('detail');
    if (detail !== undefined && !['true', 'false', '1', '0', ''].includes(detail.toLowerCase())) {
      throw new ValidationError([{ path: ['detail'], message: `detail must be true or false, not ${detail}` }]);
    }
    const list = await clusters.list();
    const wantsDetail = detail !== undefined && ['true', '1', ''].includes(detail.toLowerCase());
    return json({ clusters: wantsDetail ? list.map(clusterJson) : list.map((cl) => cl.name) });
  });

  router.post('/clusters', async (c) => {
    const body = await readJsonObject(c);
    return json(clusterJson(await inClusterWords(clusters.create(withoutNulls(toServiceInput(body)), actorOf(c)))));
  });

  router.get('/clusters/:name', async (c) => json(clusterJson(await clusters.get(c.req.param('name')))));

  router.put('/clusters/:name', async (c) => {
    const body = await readJsonObject(c);
    return json(clusterJson(await inClusterWords(clusters.update(c.req.param('name'), toServiceInput(body), actorOf(c)))));
  });

  router.delete('/clusters/:name', async (c) => {
    await clusters.delete(c.req.param('name'), actorOf(c));
    return json({ deleted: true });
  });
}
