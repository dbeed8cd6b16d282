// Bad input, generated: thousands of mutated requests against every REST route (read from
// the router's table, so a new route is covered without editing this file) and every
// GraphQL Query and Mutation field (read from the served schema), on the in-process app.
// Valid requests come from badInputModels.ts; mutations (dropped, duplicated, renamed and
// re-cased keys, wrong types, huge and negative numbers, NUL and unpaired surrogates, long
// strings, deep nesting, invalid JSON, odd content types and Accept headers, junk query
// strings and path parameters; GraphQL arguments of the wrong type, missing or unknown
// arguments, undeclared variables, broken fragments, cut documents) from generators.ts and
// graphqlGenerators.ts.
//
// Properties, checked on every request:
// - no 5xx, no thrown request, no hang (REQUEST_TIMEOUT_MS); the app still answers after;
// - REST 4xx: `Content-Type: application/json; charset=utf-8` and an `error` that names
//   what was wrong. The rule (namesOneOf): each request carries a "blame" list — the name
//   of every body key or query parameter it changed, dropped, renamed or added (and, for a
//   change inside a value, each key on the way down); for an odd path parameter, the
//   parameter's name, its resource (`definition`, `run`, `alias`, `cluster`) and `route`
//   (the 404 for a path no route matches says "no route for …"); for a body replaced
//   whole, `body`/`json` and every key of the valid body. The message must contain one of
//   them (lower-case, ignoring `_`, `-` and spaces; a name under three characters only
//   bracketed or opening the message), or quote a changed query or path value ("Invalid
//   field to order by [x]", "Run with id x not found"). A path value that may leave its
//   segment (`/`, `..`) can reach another route, so only the envelope is checked then. A
//   request left unchanged must succeed;
// - no partial writes: after a failed request the row counts of task_definitions, runs,
//   run_events, run_logs (and clusters) are unchanged; a success changes exactly what it
//   says (badInputTargets.ts checkEffect: a create adds the one row it returns, an execute
//   adds its run and one event or returns an earlier run, a stop only adds events, a read
//   changes nothing, …);
// - GraphQL: failures are typed results (ValidationError, NotFoundError, ConflictError) or
//   GraphQL errors with a message; the masked "Unexpected error." is a bug.
// Subscriptions are not sent: a valid one stays open, which this harness would read as a hang.
//
// Failures are collected (with the exact request) rather than stopping at the first, and
// reported with the seed: BADINPUT_SEED=<seed> draws the same requests again; BADINPUT_RUNS=<n>
// multiplies the number of requests and the time limit.
import fc from 'fast-check';
import { buildClientSchema, getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRestRouter } from '../../src/api/rest/index.js';
import { silentLogger } from '../../src/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { buildRestRequest, GQL_EFFECTS, GQL_SCRATCH, gqlPlan, restPlan, ROUTE_MODELS, type Operation, type Route } from '../helpers/badInputModels.js';
import {
  checkEffect,
  countRows,
  createTargets,
  delta,
  NO_CHANGE,
  sameCounts,
  send,
  type Answer,
  type Counts,
  type Effect,
  type EffectIds,
  type Targets,
} from '../helpers/badInputTargets.js';
import { namesOneOf, resolveRefs } from '../helpers/generators.js';
import { buildGqlRequest } from '../helpers/graphqlGenerators.js';

const SEED = Number(process.env.BADINPUT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SCALE = Number(process.env.BADINPUT_RUNS ?? 1);
const REST_RUNS = Math.round(4000 * SCALE);
const GQL_RUNS = Math.round(2500 * SCALE);
/** Each property stops at this limit (its log line then shows fewer than the runs asked for) so the file stays under a minute. */
const TIME_LIMIT_MS = 22_000 * SCALE;
const REQUEST_TIMEOUT_MS = 5_000;
const JSON_TYPE = 'application/json; charset=utf-8';

let t: TestApp;
let targets: Targets;
/** Counts after the last request: the next request's "before", unless the test itself wrote since. */
let lastCounts: Counts | undefined;

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---- failures ----

interface Failure {
  what: string;
  problem: string;
  request: string;
  answer?: string;
}

const failures: Record<'rest' | 'graphql', Failure[]> = { rest: [], graphql: [] };

/** Shortened for the report: long runs of one character are counted, the rest cut at `n`. */
const clip = (s: string, n = 400) => {
  const short = s.replace(/(.)\1{15,}/gsu, (run, c: string) => `${c}×${[...run].length}`);
  return short.length > n ? `${short.slice(0, n)}…(${s.length} chars)` : short;
};

function report(kind: 'rest' | 'graphql', runs: number): string {
  const list = failures[kind];
  const byKey = new Map<string, { f: Failure; n: number }>();
  for (const f of list) {
    const key = `${f.what} | ${f.problem.slice(0, 120)}`;
    const seen = byKey.get(key);
    if (seen) seen.n++;
    else byKey.set(key, { f, n: 1 });
  }
  const lines = [...byKey.values()].map(({ f, n }) => `- [${n}×] ${f.what}: ${f.problem}\n    request: ${f.request}\n    answer: ${clip(f.answer ?? '', 300)}`);
  return `${list.length} failing requests of ${runs} (BADINPUT_SEED=${SEED} reproduces):\n${lines.join('\n')}`;
}

// ---- the tests ----

const restRoutes: Route[] = [];
let operations: Operation[] = [];

beforeAll(async () => {
  // This app runs no workers, so no collector ever completes the logs of the runs the
  // requests stop; the tests here are about validation, not collection, and a log read
  // must not spend the production wait (LOG_COMPLETE_WAIT, 10s) on every stopped run.
  t = await createTestApp({ LOG_COMPLETE_WAIT: '50ms' });
  // The router the app mounts: its table is the list of routes to cover.
  const table = createRestRouter({ services: t.services, logger: silentLogger }).routes;
  targets = await createTargets(
    t,
    () => (lastCounts = undefined),
    table.some((r) => r.path === '/clusters' && r.method === 'POST'),
  );
  const seen = new Set<string>();
  for (const r of table) {
    const key = `${r.method} ${r.path}`;
    if (r.method === 'ALL' || seen.has(key)) continue;
    seen.add(key);
    const model = ROUTE_MODELS[key] ?? { effect: r.method === 'GET' ? 'read' : 'unknown' };
    if (!ROUTE_MODELS[key]) console.warn(`badInput: no model for ${key}; it is fuzzed without a valid body (add one to ROUTE_MODELS)`);
    restRoutes.push({ key, method: r.method, path: r.path, params: [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]!), model });
  }
  // The schema as served (introspection), so its types belong to this file's copy of graphql.
  const introspection = await t.gql<IntrospectionQuery>(getIntrospectionQuery());
  const served = buildClientSchema(introspection.data!);
  operations = [
    ...Object.values(served.getQueryType()!.getFields()).map((field) => ({ root: 'query' as const, field })),
    ...Object.values(served.getMutationType()!.getFields()).map((field) => ({ root: 'mutation' as const, field })),
  ];
});

afterAll(async () => {
  await t?.close();
});

async function stillAnswers(): Promise<void> {
  const rest = await t.fetch('/api/v6/health');
  expect(rest.status).toBe(200);
  const gql = await t.gql('{ health }');
  expect(gql.data?.health).toBeTruthy();
}

function tally(statuses: Record<string, number>, answer: Answer | { problem: string }): void {
  const key = 'problem' in answer ? answer.problem.split(':')[0]! : String(answer.status);
  statuses[key] = (statuses[key] ?? 0) + 1;
}

/** Sends and returns the answer with the change of row counts it caused. */
async function sendCounted(path: string, init: RequestInit): Promise<{ answer: Answer | { problem: string }; d: Counts }> {
  const before = lastCounts ?? (await countRows(t));
  const answer = await send(t, path, init, REQUEST_TIMEOUT_MS);
  lastCounts = await countRows(t);
  return { answer, d: delta(before, lastCounts) };
}

const FC_OPTIONS = { seed: SEED, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false };

/** The predicate running now: see `assertSequentially`. */
let inflight: Promise<void> = Promise.resolve();

function tracked<T>(predicate: (value: T) => Promise<void>): (value: T) => Promise<void> {
  return (value) => (inflight = predicate(value));
}

/**
 * fc.assert, then waits for the request in flight: when the time limit interrupts a run,
 * fast-check returns without waiting for the predicate it started, which would then race
 * the next test's requests (and their row counts).
 */
async function assertSequentially<T>(property: fc.IAsyncProperty<[T]>, options: fc.Parameters<[T]>): Promise<void> {
  try {
    await fc.assert(property, options);
  } finally {
    await inflight.catch(() => {});
  }
}

describe('bad input', () => {
  it(
    'REST: every route answers bad requests with a 4xx naming the field, never a 5xx, and writes nothing partial',
    { timeout: TIME_LIMIT_MS + 60_000 },
    async () => {
      const coverage = new Map<string, number>();
      const statuses: Record<string, number> = {};
      let n = 0;
      await assertSequentially(
        fc.asyncProperty(
          restPlan(restRoutes),
          tracked(async (plan) => {
            if (++n % 300 === 0) await targets.refresh(true);
            const route = restRoutes[plan.route]!;
            coverage.set(route.key, (coverage.get(route.key) ?? 0) + 1);
            const target = route.model.scratch ? await targets.scratch() : targets.pick(plan.pick);
            const req = buildRestRequest(route, plan, targets.resolver(target, plan.pick));
            const { answer, d } = await sendCounted(req.path, req.init);
            tally(statuses, answer);
            const request = `${req.init.method} ${clip(req.path, 1500)} ${JSON.stringify(req.init.headers)} ${clip(String(req.init.body ?? ''), 1500)} blame=${clip(JSON.stringify(req.blame), 200)}`;
            const fail = (problem: string, a?: Answer) =>
              failures.rest.push({ what: route.key, problem, request, answer: a && `${a.status} ${a.contentType} ${a.text}` });

            if ('problem' in answer) {
              if (answer.problem !== 'unsendable') fail(answer.problem);
            } else if (answer.status >= 500) {
              fail(`answered ${answer.status}`, answer);
            } else if (answer.status >= 400) {
              const error = parseJson(answer.text)?.error;
              if (answer.contentType !== JSON_TYPE) fail(`a ${answer.status} with content-type ${answer.contentType}`, answer);
              else if (typeof error !== 'string' || error.trim() === '') fail(`a ${answer.status} without an error message`, answer);
              else if (!req.changed) fail(`a valid request was refused with ${answer.status}`, answer);
              else if (!req.routeMayChange && !namesOneOf(error, req.blame, req.values)) fail('the error names none of the changed fields', answer);
              if (!sameCounts(d, NO_CHANGE)) fail(`a failed request changed counts by ${JSON.stringify(d)}`, answer);
            } else if (answer.status < 300) {
              const body = parseJson(answer.text);
              const effect: Effect = !req.routeMayChange ? route.model.effect : req.init.method === 'GET' ? 'read' : 'unknown';
              const ids: EffectIds = {
                definitionId: effect === 'createDefinition' ? body?.definition_id : req.ids.definitionId,
                runId: effect === 'execute' ? body?.run_id : req.ids.runId,
                clusterName: effect === 'createCluster' ? body?.name : req.ids.clusterName,
              };
              const problem = await checkEffect(t, effect, d, ids);
              if (problem) fail(problem, answer);
            }
            if ((d.definitions < 0 || d.clusters < 0) && !route.model.scratch) await targets.refresh(false);
          }),
        ),
        { ...FC_OPTIONS, numRuns: REST_RUNS },
      );
      console.info(`badInput REST: ${n} of ${REST_RUNS} requests over ${coverage.size} routes (seed ${SEED}); answers ${JSON.stringify(statuses)}`);
      await stillAnswers();
      expect(failures.rest, report('rest', n)).toEqual([]);
      for (const r of restRoutes) expect(coverage.get(r.key) ?? 0, `route ${r.key} was never exercised`).toBeGreaterThan(0);
    },
  );

  it(
    'GraphQL: every Query and Mutation field answers bad requests with typed or GraphQL errors, never masked ones, and writes nothing partial',
    { timeout: TIME_LIMIT_MS + 60_000 },
    async () => {
      const coverage = new Map<string, number>();
      const statuses: Record<string, number> = {};
      let n = 0;
      await assertSequentially(
        fc.asyncProperty(
          gqlPlan(operations),
          tracked(async (plan) => {
            if (++n % 300 === 0) await targets.refresh(true);
            const { root, field } = operations[plan.op]!;
            coverage.set(field.name, (coverage.get(field.name) ?? 0) + 1);
            const target = GQL_SCRATCH.has(field.name) ? await targets.scratch() : targets.pick(plan.pick);
            const args = resolveRefs(plan.args, targets.resolver(target, plan.pick)) as Record<string, unknown>;
            const req = buildGqlRequest(root, field, args, plan.inline, plan.mutations);
            const { answer, d } = await sendCounted(req.path, { method: req.method, headers: req.headers, body: req.body });
            const request = `${req.method} ${clip(req.path, 1500)} ${clip(req.body ?? '', 1500)} mutations=${clip(JSON.stringify(plan.mutations.map((m) => m.kind)))}`;
            const fail = (problem: string, a?: Answer) =>
              failures.graphql.push({ what: `${root} ${field.name}`, problem, request, answer: a && `${a.status} ${a.text}` });

            if ('problem' in answer) {
              if (answer.problem !== 'unsendable') fail(answer.problem);
            } else if (answer.status >= 500) {
              fail(`answered ${answer.status}`, answer);
            } else {
              const body = parseJson(answer.text);
              const errors: { message?: unknown; path?: unknown[] }[] = Array.isArray(body?.errors) ? body.errors : [];
              if (errors.some((e) => e.message === 'Unexpected error.')) fail('masked "Unexpected error."', answer);
              if (errors.some((e) => typeof e.message !== 'string' || e.message.trim() === '')) fail('a GraphQL error without a message', answer);
              const result = body?.data?.[field.name];
              const typename: unknown = result?.__typename;
              const succeeded =
                root === 'mutation' ? typeof typename === 'string' && typename.endsWith('Success') : result !== undefined && errors.length === 0;
              // Errors only below the root field: it ran, and reading its result failed (e.g. a
              // bad `runs(after:)` inside the created definition). Standard GraphQL: the write
              // stands, data is null; only its counts can be checked.
              const rootRan = errors.length > 0 && errors.every((e) => Array.isArray(e.path) && e.path.length > 1 && e.path[0] === field.name);
              const effect: Effect = root === 'query' ? 'read' : (GQL_EFFECTS[field.name] ?? 'unknown');
              const outcome = succeeded ? 'ok' : typeof typename === 'string' ? typename : errors.length ? 'errors' : 'other';
              statuses[`${answer.status} ${outcome}`] = (statuses[`${answer.status} ${outcome}`] ?? 0) + 1;
              if (plan.mutations.length === 0 && !succeeded && (root === 'query' || GQL_EFFECTS[field.name])) {
                fail(`a valid operation failed${typeof typename === 'string' ? ` with ${typename}` : ''}`, answer);
              }
              if (succeeded) {
                const ids: EffectIds = {
                  definitionId:
                    effect === 'createDefinition' ? result?.taskDefinition?.definitionId : effect === 'deleteDefinition' ? result?.deletedId : undefined,
                  runId: result?.run?.runId,
                  clusterName: effect === 'createCluster' || effect === 'updateCluster' ? result?.cluster?.name : result?.deletedName,
                };
                const problem = await checkEffect(t, effect, d, ids);
                if (problem) fail(problem, answer);
              } else if (rootRan && !sameCounts(d, NO_CHANGE)) {
                const problem = await checkEffect(t, effect, d);
                if (problem) fail(problem, answer);
              } else if (!sameCounts(d, NO_CHANGE)) {
                fail(`a failed operation changed counts by ${JSON.stringify(d)}`, answer);
              }
            }
            if ((d.definitions < 0 || d.clusters < 0) && !GQL_SCRATCH.has(field.name)) await targets.refresh(false);
          }),
        ),
        { ...FC_OPTIONS, numRuns: GQL_RUNS },
      );
      console.info(`badInput GraphQL: ${n} of ${GQL_RUNS} operations over ${coverage.size} fields (seed ${SEED}); answers ${JSON.stringify(statuses)}`);
      await stillAnswers();
      expect(failures.graphql, report('graphql', n)).toEqual([]);
      for (const { field } of operations) expect(coverage.get(field.name) ?? 0, `field ${field.name} was never exercised`).toBeGreaterThan(0);
    },
  );
});
