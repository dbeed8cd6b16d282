// Classic task-definition routes: /task, /task/{id}, /task/alias/{alias}, /groups, /tags.
// The shim only translates: snake_case JSON ↔ the service's camelCase input, query string
// → ListSpec, rows → classic JSON. Validation and messages are the service's.
import type { Context, Hono } from 'hono';
import { assertStorable } from '../../domain/validation.js';
import { DEFINITION_FILTER_FIELDS, DEFINITION_SORT_FIELDS } from '../../domain/definitionService.js';
import type { RestDeps } from './index.js';
import { actorOf, json, lowerKeys, readJsonObject } from './http.js';
import { createListParser, integerValue, listEnvelope, parseBooleanParam, parseNonNegativeInt, type FilterConfig } from './listParams.js';
import { stopOptions } from '../headers.js';
import { definitionJson } from './serialize.js';

/** Body key (lower-cased) → service input key. Keys not listed are ignored, as classic did. */
const BODY_FIELDS = {
  alias: 'alias',
  group_name: 'groupName',
  image: 'image',
  command: 'command',
  memory: 'memory',
  cpu: 'cpu',
  gpu: 'gpu',
  ephemeral_storage: 'ephemeralStorage',
  env: 'env',
  tags: 'tags',
  ports: 'ports',
  adaptive_resource_allocation: 'adaptiveResourceAllocation',
  requires_docker: 'requiresDocker',
  target_cluster: 'targetCluster',
} as const;

const substring: FilterConfig = { kind: 'substring' };
const exact: FilterConfig = { kind: 'exact' };
const integer: FilterConfig = { kind: 'exact', parse: integerValue };

const DEFINITION_FILTERS: Record<(typeof DEFINITION_FILTER_FIELDS)[number], FilterConfig> = {
  alias: substring,
  image: substring,
  group_name: substring,
  command: substring,
  definition_id: exact,
  memory: integer,
  cpu: integer,
  gpu: integer,
  target_cluster: exact,
};

const parseDefinitionList = createListParser({
  sortFields: DEFINITION_SORT_FIELDS,
  defaultSort: 'group_name',
  filters: DEFINITION_FILTERS,
});

/** Env entries match keys case-insensitively too (Go's decoder did, at every level). */
function normalizeEnv(value: unknown): unknown {
  return Array.isArray(value) ? value.map((entry) => lowerKeys(entry)) : value;
}

function isBlank(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && value.trim() === '') || (Array.isArray(value) && value.length === 0);
}

/**
 * Body → service input. For create, null means absent (defaults apply, Go decoded null as
 * the zero value). For update, blank values (null, "", []) are skipped: the classic merge
 * only replaced fields that carried something.
 */
function toServiceInput(body: Record<string, unknown>, mode: 'create' | 'update'): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [key, target] of Object.entries(BODY_FIELDS)) {
    if (!(key in body)) continue;
    const value = body[key];
    if (mode === 'create' ? value === null : isBlank(value)) continue;
    input[target] = key === 'env' ? normalizeEnv(value) : value;
  }
  return input;
}

function queryOf(c: Context): URLSearchParams {
  return new URL(c.req.url).searchParams;
}

export function registerDefinitionRoutes(router: Hono, deps: RestDeps): void {
  const definitions = deps.services.definitions;

  router.get('/task', async (c) => {
    const { spec, echo } = parseDefinitionList(queryOf(c));
    const { total, rows } = await definitions.list(spec);
    return json(listEnvelope('definitions', total, rows.map(definitionJson), echo));
  });

  router.post('/task', async (c) => {
    const body = await readJsonObject(c);
    return json(definitionJson(await definitions.create(toServiceInput(body, 'create'), actorOf(c))));
  });

  // Registered before /task/:definition_id so "alias" is never read as an id.
  router.get('/task/alias/:alias', async (c) => {
    return json(definitionJson(await definitions.getByAlias(c.req.param('alias'))));
  });

  router.get('/task/:definition_id', async (c) => {
    return json(definitionJson(await definitions.get(c.req.param('definition_id'))));
  });

  router.put('/task/:definition_id', async (c) => {
    const body = await readJsonObject(c);
    const row = await definitions.update(c.req.param('definition_id'), toServiceInput(body, 'update'), actorOf(c));
    return json(definitionJson(row));
  });

  // Deleting archives (see README "Deleting a task"); unfinished runs are a 409 unless
  // ?force=true stops them; ?purge=true removes the definition and its finished runs.
  router.delete('/task/:definition_id', async (c) => {
    const params = queryOf(c);
    const force = parseBooleanParam(params, 'force');
    const purge = parseBooleanParam(params, 'purge');
    const actor = actorOf(c);
    await definitions.delete(c.req.param('definition_id'), { force, purge, by: stopOptions(actor, c.req.raw.headers).by ?? null, actor });
    return json({ deleted: true });
  });

  // Classic read only name, limit and offset here and ignored other keys; so do we.
  router.get('/groups', async (c) => {
    const params = queryOf(c);
    const limit = parseNonNegativeInt(params, 'limit', 1024);
    const offset = parseNonNegativeInt(params, 'offset', 0);
    const name = params.get('name') ?? undefined;
    assertStorable(name, ['name']);
    const { total, groups } = await definitions.groups({ name: name || undefined, limit, offset });
    return json({ total, groups, limit, offset });
  });

  router.get('/tags', async () => {
    const tags = await definitions.tags();
    return json({ total: tags.length, tags });
  });
}
