// What the bad-input property test aims at and how it judges the answers: fixture
// definitions and runs, throwaway definitions for updates and deletes, row counts of the four
// tables a request could write, the effect a success is allowed to have, and sending with a
// timeout.
import { and, count, eq, ne, sql } from 'drizzle-orm';
import { clusters, runEvents, runLogs, runs, taskDefinitions } from '../../src/db/schema.js';
import { toGlobalId } from '../../src/api/graphql/schema/node.js';
import { encodeLogToken } from '../../src/domain/logService.js';
import type { TestApp } from './app.js';
import { createDefinition, createRun, createRunsInEveryStatus } from './factories.js';
import type { Ref } from './generators.js';

// ---- targets ----

export interface Fixture {
  definitionId: string;
  alias: string;
  runIds: string[];
}

export interface Target {
  fixture: Fixture;
  runId: string;
  /** A registered cluster (when the app has a cluster registry). */
  clusterName: string;
}

export interface Targets {
  /** A fixture definition and one of its runs, chosen by `pick`. */
  pick(pick: number): Target;
  /** A new definition with one QUEUED run and a new cluster, for a request that may change or delete them. */
  scratch(): Promise<Target>;
  /** Replaces fixtures that are gone (a request reached a delete it was not aimed at, e.g. with another method); `renew` also swaps the oldest for a new one. */
  refresh(renew: boolean): Promise<void>;
  resolver(target: Target, pick: number): (ref: Ref) => unknown;
}

/**
 * Fixtures are never the target of an update or delete (those get a scratch definition or
 * cluster), so a valid request against them stays valid: their alias and target cluster do
 * not change. `withClusters`: the app has the cluster registry routes, registered through
 * the API (clusters belong to another part of the app; the test stays out of its internals).
 */
export async function createTargets(t: TestApp, onWrite: () => void, withClusters: boolean): Promise<Targets> {
  let unique = 0;
  const cluster = async (name: string): Promise<string> => {
    if (!withClusters) return name;
    onWrite();
    const res = await t.fetch('/api/v6/clusters', { method: 'POST', json: { name, engine: 'local' } });
    if (res.status !== 200) throw new Error(`badInput: could not register cluster ${name}: ${res.status} ${await res.text()}`);
    return name;
  };
  const fixtureCluster = await cluster('fixture-cluster');
  const make = async (): Promise<Fixture> => {
    onWrite();
    const def = await createDefinition(t.services, { env: [{ name: 'A', value: '1' }], memory: 512 });
    const byStatus = await createRunsInEveryStatus(t.services, def);
    for (const run of [byStatus.RUNNING, byStatus.STOPPED]) {
      await t.database.db.insert(runLogs).values([1, 2, 3].map((seq) => ({ runId: run.runId, seq, stream: 'stdout', text: `line ${seq}\n`, at: new Date() })));
    }
    return { definitionId: def.definitionId, alias: def.alias, runIds: Object.values(byStatus).map((r) => r.runId) };
  };
  let fixtures = [await make(), await make()];

  return {
    pick(pick) {
      const fixture = fixtures[pick % fixtures.length]!;
      return { fixture, runId: fixture.runIds[Math.floor(pick / fixtures.length) % fixture.runIds.length]!, clusterName: fixtureCluster };
    },
    async scratch() {
      onWrite();
      const def = await createDefinition(t.services, { alias: `scratch-${++unique}` });
      // A finished run: a definition with an unfinished one refuses a plain delete (409).
      const run = await createRun(t.services, { definition: def, status: 'STOPPED' });
      const clusterName = await cluster(`scratch-${unique}`);
      return { fixture: { definitionId: def.definitionId, alias: def.alias, runIds: [run.runId] }, runId: run.runId, clusterName };
    },
    async refresh(renew) {
      const next: Fixture[] = [];
      for (const f of fixtures) {
        const [row] = await t.database.db
          .select({ id: taskDefinitions.definitionId })
          .from(taskDefinitions)
          .where(eq(taskDefinitions.definitionId, f.definitionId));
        next.push(row ? f : await make());
      }
      if (renew) {
        next.shift();
        next.push(await make());
      }
      fixtures = next;
      if (withClusters && (await t.database.db.select().from(clusters).where(eq(clusters.name, fixtureCluster))).length === 0) await cluster(fixtureCluster);
    },
    resolver(target, pick) {
      return (ref) => {
        switch (ref.kind) {
          case 'definitionId':
            return target.fixture.definitionId;
          case 'alias':
            return target.fixture.alias;
          case 'runId':
            return target.runId;
          case 'clusterName':
            return target.clusterName;
          case 'uniqueClusterName':
            return `c-${++unique}`;
          case 'uniqueAlias':
            return `bad-input-${++unique}`;
          case 'uniqueKey':
            return `key-${++unique}`;
          case 'globalRunId':
            return toGlobalId('Run', target.runId);
          case 'globalDefinitionId':
            return toGlobalId('TaskDefinition', target.fixture.definitionId);
          case 'logToken':
            return encodeLogToken(target.runId, pick % 4);
          default:
            return 'x';
        }
      };
    },
  };
}

// ---- counts and effects ----

export type Counts = { definitions: number; runs: number; events: number; logs: number; clusters: number };

export const NO_CHANGE: Counts = { definitions: 0, runs: 0, events: 0, logs: 0, clusters: 0 };

/** Every table a request could write, counted in one statement. */
export async function countRows(t: TestApp): Promise<Counts> {
  const res: any = await t.database.db.execute(
    sql`select (select count(*) from ${taskDefinitions}) as d, (select count(*) from ${runs}) as r, (select count(*) from ${runEvents}) as e,
      (select count(*) from ${runLogs}) as l, (select count(*) from ${clusters}) as c`,
  );
  // postgres.js answers an array of rows, PGlite an object holding them.
  const row = (Array.isArray(res) ? res[0] : res.rows[0]) as Record<string, unknown>;
  return { definitions: Number(row.d), runs: Number(row.r), events: Number(row.e), logs: Number(row.l), clusters: Number(row.c) };
}

export function delta(before: Counts, after: Counts): Counts {
  return {
    definitions: after.definitions - before.definitions,
    runs: after.runs - before.runs,
    events: after.events - before.events,
    logs: after.logs - before.logs,
    clusters: after.clusters - before.clusters,
  };
}

export const sameCounts = (a: Counts, b: Counts) => (Object.keys(a) as (keyof Counts)[]).every((k) => a[k] === b[k]);

/** What a successful call may write. */
export type Effect =
  | 'read'
  | 'createDefinition'
  | 'updateDefinition'
  | 'deleteDefinition'
  | 'execute'
  | 'stop'
  | 'report'
  | 'createCluster'
  | 'updateCluster'
  | 'deleteCluster'
  | 'unknown';

export interface EffectIds {
  definitionId?: string;
  runId?: string;
  clusterName?: string;
}

/**
 * Checks a success against what it may write (`d`, the change of counts) and what it says
 * it made or touched (`ids`); returns the problem, or undefined. Without `ids` (the answer
 * did not say, see the GraphQL test) only the counts are checked.
 */
export async function checkEffect(t: TestApp, effect: Effect, d: Counts, ids?: EffectIds): Promise<string | undefined> {
  const db = t.database.db;
  const only = (allowed: Partial<Counts>) => sameCounts(d, { ...NO_CHANGE, ...allowed });
  const changed = `a ${effect} changed counts by ${JSON.stringify(d)}`;
  const definition = async (id: string | undefined) =>
    id ? (await db.select().from(taskDefinitions).where(eq(taskDefinitions.definitionId, id)))[0] : undefined;
  const run = async (id: string | undefined) => (id ? (await db.select().from(runs).where(eq(runs.runId, id)))[0] : undefined);
  const cluster = async (name: string | undefined) => (name ? (await db.select().from(clusters).where(eq(clusters.name, name)))[0] : undefined);
  switch (effect) {
    case 'read':
    case 'updateDefinition':
      return only({}) ? undefined : changed;
    case 'createDefinition':
      if (!only({ definitions: 1 })) return changed;
      return !ids || (await definition(ids.definitionId)) ? undefined : `created definition ${ids.definitionId} is not stored`;
    case 'deleteDefinition': {
      // Archived (the row stays, its runs stay; a forced delete stops them: events only) or
      // purged (the definition goes with its runs, their events and logs).
      if (d.runs > 0 || d.logs > 0 || d.clusters !== 0 || d.definitions > 0) return changed;
      if (!ids) return undefined;
      const row = await definition(ids.definitionId);
      if (row && !row.archivedAt) return `deleted definition ${ids.definitionId} is still live`;
      if (row && d.definitions !== 0) return changed;
      const [left] = await db
        .select({ n: count() })
        .from(runs)
        .where(eq(runs.definitionId, ids.definitionId ?? ''));
      if (!row && Number(left!.n) !== 0) return `runs of purged definition ${ids.definitionId} are left`;
      const [open] = await db
        .select({ n: count() })
        .from(runs)
        .where(and(eq(runs.definitionId, ids.definitionId ?? ''), ne(runs.status, 'STOPPED')));
      return Number(open!.n) === 0 ? undefined : `deleted definition ${ids.definitionId} left unfinished runs`;
    }
    case 'execute':
      // One run and its first event, or none when an idempotence key found an earlier run.
      if (!only({ runs: d.runs, events: d.runs }) || !(d.runs === 0 || d.runs === 1)) return changed;
      return !ids || (await run(ids.runId)) ? undefined : `executed run ${ids.runId} is not stored`;
    case 'stop':
    case 'report':
      if (!only({ events: d.events }) || d.events < 0) return changed;
      if (ids && effect === 'stop' && (await run(ids.runId))?.status !== 'STOPPED') return `stopped run ${ids.runId} is not STOPPED`;
      return undefined;
    case 'createCluster':
      if (!only({ clusters: 1 })) return changed;
      return !ids || (await cluster(ids.clusterName)) ? undefined : `created cluster ${ids.clusterName} is not stored`;
    case 'updateCluster':
      // An update registers a cluster that only an engine described.
      return only({ clusters: d.clusters }) && (d.clusters === 0 || d.clusters === 1) ? undefined : changed;
    case 'deleteCluster':
      if (!only({ clusters: -1 })) return changed;
      return ids && (await cluster(ids.clusterName)) ? `deleted cluster ${ids.clusterName} is still stored` : undefined;
    case 'unknown':
      return undefined;
  }
}

// ---- sending ----

export interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

/**
 * Sends through `t.fetch` and reads the whole body, or says what went wrong: the app threw,
 * or gave no answer within `timeoutMs`. `unsendable` is a request no client could make
 * (e.g. a header value that is not Latin-1); it is skipped, not a failure.
 */
export async function send(t: TestApp, path: string, init: RequestInit, timeoutMs: number): Promise<Answer | { problem: string }> {
  try {
    new Request(`http://flotilla.test${path}`, init);
  } catch {
    return { problem: 'unsendable' };
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ problem: string }>((resolve) => {
    timer = setTimeout(() => resolve({ problem: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const answer = (async () => {
    const res = await t.fetch(path, init);
    return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
  })().catch((err: unknown) => ({ problem: `the app threw: ${(err as Error)?.stack ?? String(err)}` }));
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
