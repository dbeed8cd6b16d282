// Classic run routes: execute, history lists, get/stop a run, status (ETag), events, logs.
// Translation only; the rules live in the run and log services.
import type { Context, Hono } from 'hono';
import { stream as honoStream } from 'hono/streaming';
import type { RunRow, RunEventRow } from '../../db/schema.js';
import { RUN_STATUSES } from '../../domain/lifecycle.js';
import { decodeLogToken, encodeLogToken } from '../../domain/logService.js';
import { ValidationError } from '../../errors.js';
import type { RestDeps } from './index.js';
import { actorOf, json, lowerKeys, readJsonObject } from './http.js';
import { createListParser, integerValue, listEnvelope, oneOfValue, type FilterConfig } from './listParams.js';
import { runJson, podEventJson } from './serialize.js';
import { stopOptions } from '../headers.js';

const substring: FilterConfig = { kind: 'substring' };
const exact: FilterConfig = { kind: 'exact' };
const time: FilterConfig = { kind: 'time' };

const RUN_LIST = {
  sortFields: ['run_id', 'cluster_name', 'status', 'started_at', 'finished_at', 'group_name', 'queued_at', 'alias'],
  defaultSort: 'group_name',
  filters: {
    status: { kind: 'exact', parse: oneOfValue(RUN_STATUSES, (v) => `invalid status [${v}]`) },
    alias: substring,
    definition_id: exact,
    cluster_name: exact,
    engine: exact,
    exit_code: { kind: 'exact', parse: integerValue },
    exit_reason: substring,
    user: exact,
    node_lifecycle: exact,
    queued_at: time,
    started_at: time,
    finished_at: time,
  },
} as const satisfies Parameters<typeof createListParser>[0];

export const parseRunList = createListParser(RUN_LIST);

/** Execute body key (lower-cased) → run service input key. Unknown keys are ignored. */
const EXECUTE_FIELDS: Record<string, string> = {
  cluster: 'cluster',
  env: 'env',
  command: 'command',
  memory: 'memory',
  cpu: 'cpu',
  gpu: 'gpu',
  ephemeral_storage: 'ephemeralStorage',
  engine: 'engine',
  node_lifecycle: 'nodeLifecycle',
  active_deadline_seconds: 'activeDeadlineSeconds',
  description: 'description',
  idempotence_key: 'idempotenceKey',
  arch: 'arch',
  labels: 'labels',
  service_account: 'serviceAccount',
  tier: 'tier',
};

/**
 * The run service's input from a classic execute body. The owner travels in the body as
 * `run_tags.owner_id`; the rules on it (and on the other tags) are the run service's, and
 * REST words its issues the classic way (fieldWords.ts, classicOrder).
 */
export function toExecuteInput(body: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [key, target] of Object.entries(EXECUTE_FIELDS)) {
    const value = body[key];
    // Classic clients send "" and null for "not set".
    if (value === undefined || value === null || value === '') continue;
    input[target] = key === 'env' && Array.isArray(value) ? value.map((e) => lowerKeys(e)) : value;
  }
  const tags = body.run_tags;
  if (tags !== null && typeof tags === 'object' && !Array.isArray(tags)) {
    // A null tag is "not set", as for the other fields.
    const { owner_id: owner, ...runTags } = Object.fromEntries(
      Object.entries(lowerKeys(tags) as Record<string, unknown>).filter(([, v]) => v !== null && v !== undefined),
    );
    if (owner !== undefined) input.owner = owner;
    input.runTags = runTags;
  }
  return input;
}

/**
 * The classic service checked run_tags before the rest of the body and answered its first
 * problem alone: a tag that is no string, else a missing owner.
 */
export function classicOrder(err: unknown): unknown {
  if (!(err instanceof ValidationError)) return err;
  const tagged = err.issues.filter((i) => !i.unstorable && (i.path[0] === 'runTags' || i.path[0] === 'owner'));
  const first = tagged.find((i) => i.path[0] === 'runTags') ?? tagged[0];
  return first ? new ValidationError([first], { cause: err }) : err;
}

function query(c: Context): URLSearchParams {
  return new URL(c.req.url).searchParams;
}

export function statusJson(run: RunRow): Record<string, unknown> {
  const out: Record<string, unknown> = { run_id: run.runId, status: run.status };
  if (run.queuedAt) out.queued_at = run.queuedAt.toISOString();
  if (run.startedAt) out.started_at = run.startedAt.toISOString();
  if (run.finishedAt) out.finished_at = run.finishedAt.toISOString();
  if (run.exitCode !== null) out.exit_code = run.exitCode;
  if (run.exitReason) out.exit_reason = run.exitReason;
  Object.assign(out, { engine: run.engine, definition_id: run.definitionId, alias: run.alias, cluster_name: run.clusterName });
  return out;
}

export function registerRunRoutes(router: Hono, deps: RestDeps): void {
  const { runs, definitions, logs } = deps.services;

  const execute = async (c: Context, target: { definitionId?: string; alias?: string }) => {
    const body = await readJsonObject(c);
    const actor = actorOf(c);
    // Signed in, the owner defaults to the caller (classic clients still send run_tags.owner_id).
    if (actor?.id && (body.run_tags === undefined || body.run_tags === null)) body.run_tags = { owner_id: actor.id };
    else if (actor?.id && typeof body.run_tags === 'object' && !Array.isArray(body.run_tags)) {
      const tags = lowerKeys(body.run_tags) as Record<string, unknown>;
      if (tags.owner_id === undefined || tags.owner_id === null || tags.owner_id === '') body.run_tags = { ...tags, owner_id: actor.id };
    }
    const run = await runs.execute(target, toExecuteInput(body), actor).catch((err: unknown) => {
      throw classicOrder(err);
    });
    return json(runJson(run));
  };
  router.put('/task/alias/:alias/execute', (c) => execute(c, { alias: c.req.param('alias') }));
  router.put('/task/:definition_id/execute', (c) => execute(c, { definitionId: c.req.param('definition_id') }));

  // Ours (`flotilla explain-resources`): what a run would get and why, without running it.
  const explain = async (c: Context, target: { definitionId?: string; alias?: string }) => {
    const q = query(c);
    const input: Record<string, unknown> = {};
    for (const key of ['engine', 'cluster', 'command']) if (q.get(key)) input[key] = q.get(key);
    for (const key of ['cpu', 'memory', 'gpu']) if (q.get(key)) input[key] = integerValue(q.get(key)!, key);
    const e = await runs.explainResources(target, input);
    return json({ definition_id: e.definitionId, alias: e.alias, engine: e.engine, cpu: e.cpu, memory: e.memory, reason: e.reason });
  };
  router.get('/task/alias/:alias/explain-resources', (c) => explain(c, { alias: c.req.param('alias') }));
  router.get('/task/:definition_id/explain-resources', (c) => explain(c, { definitionId: c.req.param('definition_id') }));

  const list = async (c: Context, definitionId?: string) => {
    const { spec, echo } = parseRunList(query(c));
    if (definitionId !== undefined) {
      // A deleted (archived) definition's history stays readable.
      await definitions.get(definitionId, { includeArchived: true });
      spec.filters.push({ field: 'definition_id', op: 'eq', values: [definitionId] });
    }
    const { total, rows } = await runs.list(spec);
    return json(
      listEnvelope(
        'history',
        total,
        rows.map((r) => runJson(r)),
        echo,
      ),
    );
  };
  router.get('/history', (c) => list(c));
  router.get('/task/:definition_id/history', (c) => list(c, c.req.param('definition_id')));

  const getRun = async (runId: string) => {
    const [run, events] = await Promise.all([runs.get(runId), runs.events(runId)]);
    return json(runJson(run, events));
  };
  router.get('/history/:run_id', (c) => getRun(c.req.param('run_id')));
  router.get('/task/history/:run_id', (c) => getRun(c.req.param('run_id')));
  router.get('/task/:definition_id/history/:run_id', (c) => getRun(c.req.param('run_id')));

  router.delete('/task/:definition_id/history/:run_id', async (c) => {
    await runs.stop(c.req.param('run_id'), stopOptions(actorOf(c), c.req.raw.headers));
    return json({ terminated: true });
  });

  router.get('/:run_id/status', async (c) => {
    const run = await runs.get(c.req.param('run_id'));
    const etag = `"${run.status}-${run.exitCode ?? 'unknown'}"`;
    const match = c.req.header('if-none-match');
    if (
      match &&
      match
        .split(',')
        .map((s) => s.trim())
        .includes(etag)
    ) {
      return new Response(null, { status: 304, headers: { etag } });
    }
    return json(statusJson(run), 200, { etag });
  });

  router.put('/:run_id/status', async (c) => {
    const body = await readJsonObject(c);
    await runs.report(c.req.param('run_id'), { status: body.status, exitCode: body.exit_code, exitReason: body.exit_reason }, actorOf(c));
    return json({ updated: true });
  });

  router.get('/:run_id/events', async (c) => {
    const runId = c.req.param('run_id');
    await runs.get(runId);
    const events: RunEventRow[] = await runs.events(runId);
    const podEvents = events.map(podEventJson);
    return json({ total: podEvents.length, pod_events: podEvents });
  });

  router.get('/:run_id/logs', async (c) => {
    const runId = c.req.param('run_id');
    const params = query(c);
    const raw = (params.get('raw_text') ?? 'false').toLowerCase();
    if (raw !== 'true' && raw !== 'false') {
      throw new ValidationError([{ path: ['raw_text'], message: `raw_text must be true or false, got [${params.get('raw_text')}]` }]);
    }
    const after = decodeLogToken(runId, params.get('last_seen'));
    // Right after STOPPED the collector may still be storing the last lines: wait for it
    // (bounded), so a script that reads once after STOPPED gets the whole output.
    const run = await logs.waitForComplete(await runs.get(runId), { signal: c.req.raw.signal });
    // A retried run waiting to run again has no started_at, but its earlier attempts' output
    // stays readable and a client's last_seen stays good (answering "" would make the client
    // start over and read those lines twice).
    const notStarted = (run.status === 'QUEUED' || run.status === 'PENDING') && !run.startedAt && run.attempt <= 1;
    if (raw === 'true') {
      c.header('content-type', 'text/plain; charset=utf-8');
      if (notStarted) return c.body('');
      // Streamed a page at a time: a long log is never held in memory whole.
      return honoStream(c, async (s) => {
        for await (const chunk of logs.stream(runId, after)) {
          if (s.aborted) break;
          await s.write(chunk.text);
        }
      });
    }
    if (notStarted) return json({ log: '', last_seen: '' });
    const page = await logs.page(runId, after);
    return json({ log: page.chunks.map((ch) => ch.text).join(''), last_seen: page.lastSeq === 0 ? '' : encodeLogToken(runId, page.lastSeq) });
  });
}
