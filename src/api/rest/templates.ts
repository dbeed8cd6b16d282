// /api/v7 templates (README "Classic web UI, templates and adaptive resources"): translation only; the rules live in the
// template and run services. History and stop answer as their v6 counterparts do.
import type { Context, Hono } from 'hono';
import type { TemplateRow } from '../../db/schema.js';
import type { Template } from '../../domain/templateService.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { RestDeps } from './index.js';
import { actorOf, json, lowerKeys, readJsonObject } from './http.js';
import { listEnvelope, parseNonNegativeInt } from './listParams.js';
import { omitEmpty, runJson } from './serialize.js';
import { parseRunList, toExecuteInput } from './runs.js';
import { assertAllowed } from '../../domain/authorization.js';
import { stopOptions } from '../headers.js';

export function templateJson(t: TemplateRow): Record<string, unknown> {
  return omitEmpty(
    {
      template_id: t.templateId,
      template_name: t.templateName,
      version: t.version,
      schema: t.schema,
      command_template: t.commandTemplate,
      defaults: t.defaults,
      avatar_uri: t.avatarUri,
      image: t.image,
      memory: t.memory,
      cpu: t.cpu,
      gpu: t.gpu,
      env: t.env,
      adaptive_resource_allocation: t.adaptiveResourceAllocation,
      ports: t.ports,
      tags: t.tags,
      created_at: t.createdAt.toISOString(),
    },
    [
      'template_id',
      'template_name',
      'version',
      'schema',
      'command_template',
      'defaults',
      'image',
      'memory',
      'cpu',
      'env',
      'adaptive_resource_allocation',
      'ports',
      'tags',
    ],
  );
}

/** Body key (lower-cased) → service input key. */
const CREATE_FIELDS: Record<string, string> = {
  template_name: 'templateName',
  schema: 'schema',
  command_template: 'commandTemplate',
  defaults: 'defaults',
  avatar_uri: 'avatarUri',
  image: 'image',
  memory: 'memory',
  cpu: 'cpu',
  gpu: 'gpu',
  env: 'env',
  adaptive_resource_allocation: 'adaptiveResourceAllocation',
  ports: 'ports',
  tags: 'tags',
};

const LIST_KEYS = ['limit', 'offset', 'sort_by', 'order', 'latest_only'];
const SORT_FIELDS = ['template_name', 'version'] as const;

function bool(params: URLSearchParams, key: string, fallback: boolean): boolean {
  const raw = params.get(key);
  if (raw === null) return fallback;
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ValidationError([{ path: [key], message: `${key} must be true or false, got [${raw}]` }]);
}

/**
 * The v7 execute body: v6's flat fields with `owner_id` at the top (v7 does not read
 * run_tags), plus `template_payload` and `dry_run`.
 */
function executeBody(body: Record<string, unknown>): { input: Record<string, unknown>; payload: unknown; dryRun: boolean } {
  const owner = body.owner_id;
  if (typeof owner !== 'string' || owner.trim() === '') {
    throw new ValidationError([{ path: ['owner_id'], message: 'request payload must contain [owner_id]' }]);
  }
  const dryRun = body.dry_run;
  if (dryRun !== undefined && dryRun !== null && typeof dryRun !== 'boolean') {
    throw new ValidationError([{ path: ['dry_run'], message: 'dry_run must be true or false' }]);
  }
  const payload = body.template_payload ?? undefined;
  if (payload !== undefined && (typeof payload !== 'object' || Array.isArray(payload))) {
    throw new ValidationError([{ path: ['template_payload'], message: 'template_payload must be a JSON object' }]);
  }
  const input = toExecuteInput({ ...body, run_tags: { owner_id: owner } });
  return { input, payload, dryRun: dryRun === true };
}

export function registerTemplateRoutes(router: Hono, deps: RestDeps): void {
  const { templates, runs } = deps.services;
  const params = (c: Context) => new URL(c.req.url).searchParams;

  router.get('/template', async (c) => {
    const q = params(c);
    for (const key of new Set(q.keys())) {
      if (!LIST_KEYS.includes(key)) {
        throw new ValidationError([{ path: [key], message: `Invalid field to filter by [${key}], must be one of [${LIST_KEYS.join(', ')}]` }]);
      }
    }
    const limit = parseNonNegativeInt(q, 'limit', 1024);
    const offset = parseNonNegativeInt(q, 'offset', 0);
    const sortBy = q.get('sort_by') ?? 'template_name';
    if (!(SORT_FIELDS as readonly string[]).includes(sortBy)) {
      throw new ValidationError([{ path: ['sort_by'], message: `Invalid field to order by [${sortBy}], must be one of [${SORT_FIELDS.join(', ')}]` }]);
    }
    const rawOrder = q.get('order') ?? 'asc';
    const order = rawOrder.toLowerCase();
    if (order !== 'asc' && order !== 'desc') {
      throw new ValidationError([{ path: ['order'], message: `Invalid order string, must be one of ('asc', 'desc'), was ${rawOrder}` }]);
    }
    const latestOnly = bool(q, 'latest_only', true);
    const { total, rows } = await templates.list({ latestOnly, sortBy: sortBy as (typeof SORT_FIELDS)[number], order, limit, offset });
    return json({ total, templates: rows.map(templateJson), limit, offset, sort_by: sortBy, order });
  });

  router.post('/template', async (c) => {
    const body = await readJsonObject(c);
    const input: Record<string, unknown> = {};
    for (const [key, target] of Object.entries(CREATE_FIELDS)) {
      if (body[key] !== undefined && body[key] !== null)
        input[target] = key === 'env' && Array.isArray(body[key]) ? (body[key] as unknown[]).map((e) => lowerKeys(e)) : body[key];
    }
    const { template, created } = await templates.create(input);
    return json({ did_create: created, template: templateJson(template) });
  });

  const execute = async (c: Context, template: Template) => {
    const { input, payload, dryRun } = executeBody(await readJsonObject(c));
    // Same owner rule as a definition's execute: a user runs as itself (authorization.ts).
    assertAllowed(actorOf(c), 'run.execute', { ownerId: (input as { owner?: string }).owner ?? null });
    const { run } = await templates.execute(template, input, { payload, dryRun });
    return json(runJson(run));
  };
  router.put('/template/name/:name/version/:version/execute', async (c) => execute(c, await templates.getByName(c.req.param('name'), c.req.param('version'))));
  router.put('/template/:template_id/execute', async (c) => execute(c, await templates.get(c.req.param('template_id'))));

  const history = async (c: Context, ids: string[]) => {
    const { spec, echo } = parseRunList(params(c));
    const { total, rows } = await templates.history(ids, spec);
    return json(
      listEnvelope(
        'history',
        total,
        rows.map((r) => runJson(r)),
        echo,
      ),
    );
  };
  router.get('/template/name/:name/history', async (c) => {
    const name = c.req.param('name');
    const ids = name.includes('\0') ? [] : await templates.idsByName(name);
    if (ids.length === 0) throw new NotFoundError(`Template with name ${name} not found`);
    return history(c, ids);
  });

  const getRun = async (runId: string) => {
    const [run, events] = await Promise.all([runs.get(runId), runs.events(runId)]);
    return json(runJson(run, events));
  };
  router.get('/template/history/:run_id', (c) => getRun(c.req.param('run_id')));
  router.get('/template/:template_id/history', async (c) => {
    const t = await templates.get(c.req.param('template_id'));
    return history(c, [t.templateId]);
  });
  router.get('/template/:template_id/history/:run_id', (c) => getRun(c.req.param('run_id')));
  router.delete('/template/:template_id/history/:run_id', async (c) => {
    await runs.stop(c.req.param('run_id'), stopOptions(actorOf(c), c.req.raw.headers));
    return json({ terminated: true });
  });
  router.get('/template/:template_id', async (c) => json(templateJson(await templates.get(c.req.param('template_id')))));
}
