// Every read and write of runs. Status changes go through `transitionRuns`: per run one
// conditional UPDATE plus a run_events row, many runs in one statement; a lost race returns
// undefined for that run. Which moves are allowed is not decided here: the caller
// (domain/runUpdates.ts) passes the predecessors from domain/lifecycle.ts.
import { and, count, eq, getTableColumns, inArray, lt, min, or, sql, desc, gte, ne, notInArray, type SQL } from 'drizzle-orm';
import { intersect } from 'drizzle-orm/pg-core';
import type { DbOrTx } from '../db/client.js';
import { runEnvPairs, runEvents, runs, type EnvVar, type NewRunRow, type RunRow } from '../db/schema.js';
import { keysetOf, whereOf, type ColumnMap, type ListSpec, type SortKey } from './listQuery.js';
import { isStorableKey, storableKeys } from './keys.js';
import { runFromDriverRow } from './runInserts.js';

type RunStatus = RunRow['status'];
type EngineName = RunRow['engine'];

export const runColumns: ColumnMap = {
  run_id: runs.runId,
  definition_id: runs.definitionId,
  executable_type: runs.executableType,
  alias: runs.alias,
  group_name: runs.groupName,
  image: runs.image,
  command: runs.command,
  cluster_name: runs.clusterName,
  engine: runs.engine,
  status: runs.status,
  exit_code: runs.exitCode,
  exit_reason: runs.exitReason,
  user: runs.owner,
  node_lifecycle: runs.nodeLifecycle,
  queued_at: runs.queuedAt,
  started_at: runs.startedAt,
  finished_at: runs.finishedAt,
};

export type RunFacts = Partial<
  Pick<
    NewRunRow,
    | 'exitCode'
    | 'exitReason'
    | 'startedAt'
    | 'finishedAt'
    | 'engineRef'
    | 'podName'
    | 'namespace'
    | 'instanceId'
    | 'instanceDnsName'
    | 'claimedBy'
    | 'claimExpiresAt'
    | 'nextAttemptAt'
    | 'lastError'
    | 'attempt'
    | 'missingSince'
    | 'cpu'
    | 'memory'
    | 'logCursor'
    | 'stopRequestedAt'
    | 'stopConfirmedAt'
    | 'maxMemoryUsed'
    | 'maxCpuUsed'
  >
>;

export interface TransitionEvent {
  reason?: string | null;
  detail?: Record<string, unknown>;
}

export async function getRun(db: DbOrTx, runId: string): Promise<RunRow | undefined> {
  if (!isStorableKey(runId)) return undefined;
  const [row] = await db.select().from(runs).where(eq(runs.runId, runId));
  return row;
}

export async function getRunsByIds(db: DbOrTx, ids: readonly string[]): Promise<RunRow[]> {
  const storable = storableKeys(ids);
  if (storable.length === 0) return [];
  return db.select().from(runs).where(inArray(runs.runId, storable));
}

/** The most recent run with this idempotence key queued since `since` that did not fail. */
export async function findByIdempotenceKey(db: DbOrTx, key: string, since: Date): Promise<RunRow | undefined> {
  const [row] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.idempotenceKey, key), gte(runs.queuedAt, since), or(ne(runs.status, 'STOPPED'), eq(runs.exitCode, 0))))
    .orderBy(desc(runs.queuedAt))
    .limit(1);
  return row;
}

/** One requested move: to `to`, if the run is in one of `from` (and held by `claimedBy`, on `attempt`, when given). */
export interface TransitionRequest {
  runId: string;
  to: RunStatus;
  facts: RunFacts;
  event: TransitionEvent;
  from: readonly RunStatus[];
  claimedBy?: string;
  attempt?: number;
}

/** What a move set on the run, column by column: `facts` keys and the SQL type each is read back as. */
const FACT_COLUMNS = Object.entries(getTableColumns(runs)).map(([key, column]) => ({ key, name: column.name, type: column.getSQLType() }));

/** A fact as it crosses to Postgres inside the JSON input: dates as ISO strings. */
const factValue = (v: unknown) => (v instanceof Date ? v.toISOString() : v);

/**
 * Carries out many moves in one statement (one round trip, atomic, no transaction): each
 * run is locked (FOR UPDATE, in run id order, so two batches cannot deadlock), moved when its
 * current status is one of its request's `from` (and the claim and attempt match), and gets
 * its run_events row with the status it came from. Returns, per request in order, the
 * updated row and that status, or undefined when the race was lost. Run ids must be distinct.
 */
export async function transitionRuns(db: DbOrTx, requests: readonly TransitionRequest[]): Promise<({ run: RunRow; from: RunStatus } | undefined)[]> {
  if (requests.length === 0) return [];
  if (new Set(requests.map((r) => r.runId)).size !== requests.length) throw new Error('transitionRuns: one move per run in a batch');
  const input = requests.map((r, i) => ({
    i,
    run_id: r.runId,
    to_status: r.to,
    from_statuses: r.from,
    claimed_by: r.claimedBy ?? null,
    attempt: r.attempt ?? null,
    facts: Object.fromEntries(Object.entries(r.facts).map(([k, v]) => [k, factValue(v)])),
    reason: r.event.reason ?? null,
    detail: r.event.detail ?? {},
  }));
  // Only the columns some request sets; a request that does not set one keeps the run's value.
  const set = FACT_COLUMNS.filter((c) => requests.some((r) => c.key in r.facts)).map(
    (c) => sql`${sql.identifier(c.name)} = case when x.facts ? ${c.key} then (x.facts->>${c.key})::${sql.raw(c.type)} else r.${sql.identifier(c.name)} end`,
  );
  const result = await db.execute(sql`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
        as x(i int, run_id text, to_status text, from_statuses jsonb, claimed_by text, attempt int, facts jsonb, reason text, detail jsonb)
    ),
    locked as materialized (
      select run_id, status from ${runs} where run_id in (select run_id from input) order by run_id for update
    ),
    moved as (
      update ${runs} r set ${sql.join([sql`status = x.to_status`, sql`updated_at = now()`, ...set], sql`, `)}
      from input x join locked l on l.run_id = x.run_id
      where r.run_id = x.run_id
        and x.from_statuses ? l.status
        and (x.claimed_by is null or r.claimed_by = x.claimed_by)
        and (x.attempt is null or r.attempt = x.attempt)
      returning r.*, l.status as moved_from, x.i as moved_request
    ),
    events as (
      insert into ${runEvents} (run_id, kind, from_status, to_status, reason, detail)
      select m.run_id, 'status', m.moved_from, m.status, x.reason, x.detail from moved m join input x on x.i = m.moved_request
      order by m.moved_request
    )
    select * from moved`);
  const out: ({ run: RunRow; from: RunStatus } | undefined)[] = requests.map(() => undefined);
  for (const raw of rowsOf<Record<string, unknown>>(result)) {
    out[Number(raw.moved_request)] = { run: runFromDriverRow(raw), from: raw.moved_from as RunStatus };
  }
  return out;
}

/** Merges engine facts into a run that is not yet STOPPED, without changing its status. */
export async function updateRunFacts(
  db: DbOrTx,
  runId: string,
  facts: RunFacts,
  opts: { status?: RunStatus; attempt?: number } = {},
): Promise<RunRow | undefined> {
  const conditions = [eq(runs.runId, runId), ne(runs.status, 'STOPPED')];
  if (opts.status) conditions.push(eq(runs.status, opts.status));
  if (opts.attempt !== undefined) conditions.push(eq(runs.attempt, opts.attempt));
  const [row] = await db
    .update(runs)
    .set({ ...facts, updatedAt: new Date() })
    .where(and(...conditions))
    .returning();
  return row;
}

/**
 * Sets engine facts that are still empty, whatever the status (a run may reach STOPPED by a
 * pushed update before its submit is recorded). Only for the given attempt.
 */
export async function fillMissingEngineFacts(
  db: DbOrTx,
  runId: string,
  attempt: number,
  facts: { engineRef: string | null; podName: string | null; namespace: string | null; instanceId: string | null; instanceDnsName: string | null },
): Promise<void> {
  await db
    .update(runs)
    .set({
      engineRef: sql`coalesce(${runs.engineRef}, ${facts.engineRef})`,
      podName: sql`coalesce(${runs.podName}, ${facts.podName})`,
      namespace: sql`coalesce(${runs.namespace}, ${facts.namespace})`,
      instanceId: sql`coalesce(${runs.instanceId}, ${facts.instanceId})`,
      instanceDnsName: sql`coalesce(${runs.instanceDnsName}, ${facts.instanceDnsName})`,
    })
    .where(and(eq(runs.runId, runId), eq(runs.attempt, attempt)));
}

/**
 * Claims up to `limit` due QUEUED runs for `workerId` (FOR UPDATE SKIP LOCKED, so workers
 * never claim the same run), leasing them until `leaseMs` from now.
 */
/**
 * Leases up to `limit` runs of `engines` that match `where` (which says when a lease is free)
 * to `workerId`, first by `orderBy`: the rows come back from the UPDATE itself, one round
 * trip for the whole batch. `lease` names the pair of columns: the run's claim, or its log claim.
 */
export async function leaseRuns(
  db: DbOrTx,
  opts: { lease: 'claim' | 'logs'; workerId: string; leaseMs: number; engines: readonly EngineName[]; where: SQL; orderBy: SQL; limit: number },
): Promise<RunRow[]> {
  if (opts.engines.length === 0 || opts.limit <= 0) return [];
  const [by, until] = opts.lease === 'claim' ? ['claimed_by', 'claim_expires_at'] : ['log_claimed_by', 'log_claim_expires_at'];
  const rows = await db.execute(sql`
    update ${runs} set ${sql.identifier(by)} = ${opts.workerId}, ${sql.identifier(until)} = now() + ${opts.leaseMs} * interval '1 millisecond'
    where run_id in (
      select run_id from ${runs}
      where ${opts.where} and ${inArray(runs.engine, [...opts.engines])}
      order by ${opts.orderBy}
      limit ${opts.limit}
      for update skip locked
    )
    returning *`);
  return rowsOf<Record<string, unknown>>(rows).map(runFromDriverRow);
}

export async function claimDueRuns(db: DbOrTx, workerId: string, engines: readonly EngineName[], limit: number, leaseMs: number): Promise<RunRow[]> {
  const leased = await leaseRuns(db, {
    lease: 'claim',
    workerId,
    leaseMs,
    engines,
    limit,
    where: sql`status = 'QUEUED' and (next_attempt_at is null or next_attempt_at <= now()) and (claim_expires_at is null or claim_expires_at < now())`,
    orderBy: sql`queued_at`,
  });
  return leased.sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime());
}

/** Gives a claimed QUEUED run back, to be tried again at `nextAttemptAt`. */
export async function releaseQueuedClaim(db: DbOrTx, runId: string, workerId: string, nextAttemptAt: Date, lastError: string | null): Promise<void> {
  await db
    .update(runs)
    .set({ claimedBy: null, claimExpiresAt: null, nextAttemptAt, lastError, updatedAt: new Date() })
    .where(and(eq(runs.runId, runId), eq(runs.claimedBy, workerId), eq(runs.status, 'QUEUED')));
}

/** Leases a batch of PENDING/RUNNING runs for one reconcile pass. */
export async function claimActiveRuns(
  db: DbOrTx,
  workerId: string,
  engines: readonly EngineName[],
  limit: number,
  leaseMs: number,
  exclude: string[],
): Promise<RunRow[]> {
  return leaseRuns(db, {
    lease: 'claim',
    workerId,
    leaseMs,
    engines,
    limit,
    where: sql`status in ('PENDING', 'RUNNING')
      and (claim_expires_at is null or claim_expires_at < now() or claimed_by = ${workerId})
      ${exclude.length ? sql`and ${notInArray(runs.runId, exclude)}` : sql``}`,
    orderBy: sql`updated_at`,
  });
}

export async function releaseClaims(db: DbOrTx, workerId: string, runIds: string[]): Promise<void> {
  if (runIds.length === 0) return;
  await db
    .update(runs)
    .set({ claimedBy: null, claimExpiresAt: null })
    .where(and(inArray(runs.runId, runIds), eq(runs.claimedBy, workerId)));
}

/** Releases every lease that has expired (workers that died). Returns how many. */
export async function releaseExpiredClaims(db: DbOrTx): Promise<number> {
  const a = await db.update(runs).set({ claimedBy: null, claimExpiresAt: null }).where(lt(runs.claimExpiresAt, new Date())).returning({ id: runs.runId });
  const b = await db
    .update(runs)
    .set({ logClaimedBy: null, logClaimExpiresAt: null })
    .where(lt(runs.logClaimExpiresAt, new Date()))
    .returning({ id: runs.runId });
  return a.length + b.length;
}

/** Runs whose output still needs collecting, leased to `workerId` for log collection. */
export async function claimRunsForLogs(db: DbOrTx, workerId: string, engines: readonly EngineName[], limit: number, leaseMs: number): Promise<RunRow[]> {
  return leaseRuns(db, {
    lease: 'logs',
    workerId,
    leaseMs,
    engines,
    limit,
    where: sql`logs_complete = false and status in ('RUNNING', 'STOPPED') and (log_claim_expires_at is null or log_claim_expires_at < now())`,
    orderBy: sql`queued_at`,
  });
}

export async function renewLogClaim(db: DbOrTx, runId: string, workerId: string, leaseMs: number): Promise<boolean> {
  const rows = await db
    .update(runs)
    .set({ logClaimExpiresAt: new Date(Date.now() + leaseMs) })
    .where(and(eq(runs.runId, runId), eq(runs.logClaimedBy, workerId)))
    .returning({ id: runs.runId });
  return rows.length > 0;
}

export async function finishLogCollection(db: DbOrTx, runId: string, workerId: string, complete: boolean): Promise<boolean> {
  const rows = await db
    .update(runs)
    .set({ logsComplete: complete, logClaimedBy: null, logClaimExpiresAt: null })
    .where(and(eq(runs.runId, runId), eq(runs.logClaimedBy, workerId)))
    .returning({ id: runs.runId });
  return rows.length > 0;
}

export async function listRunsByStatus(db: DbOrTx, status: RunStatus, limit: number): Promise<RunRow[]> {
  return db.select().from(runs).where(eq(runs.status, status)).orderBy(runs.updatedAt).limit(limit);
}

/** RUNNING runs past their active deadline. */
export async function listOverdueRuns(db: DbOrTx, limit: number): Promise<RunRow[]> {
  return db
    .select()
    .from(runs)
    .where(
      and(
        eq(runs.status, 'RUNNING'),
        sql`${runs.activeDeadlineSeconds} is not null`,
        sql`${runs.startedAt} + ${runs.activeDeadlineSeconds} * interval '1 second' < now()`,
      ),
    )
    .limit(limit);
}

/** Runs not yet STOPPED whose env names `parentRunId` as PARENT_FLOTILLA_RUN_ID. */
export async function listChildRuns(db: DbOrTx, parentRunId: string): Promise<RunRow[]> {
  return db
    .select()
    .from(runs)
    .where(and(ne(runs.status, 'STOPPED'), sql`${runs.env} @> ${JSON.stringify([{ name: 'PARENT_FLOTILLA_RUN_ID', value: parentRunId }])}::jsonb`));
}

/**
 * One page of runs and the total. A list filtered by env pairs alone is answered from
 * run_env_pairs: the total by counting its index (the GIN index on runs.env would visit one
 * heap page per match), and when sorted by started_at the page too, since that index holds
 * each pair's runs in started_at order: the page reads `limit` runs however many match.
 * Anything else filters runs itself with the GIN index. Both give the same rows: the pair
 * rows are exactly what `env @>` matches (drizzle/0007_run_env_pairs.sql).
 */
export async function listRuns(db: DbOrTx, spec: ListSpec): Promise<{ total: number; rows: RunRow[]; keys: SortKey[] }> {
  const q = listRunsQueries(db, spec);
  const [found, totals] = await Promise.all([q.page, q.total]);
  return {
    total: Number(totals[0]?.n ?? 0),
    rows: found.map((r) => r.run),
    keys: found.map((r) => ({ value: r.sortKey, id: r.run.runId })),
  };
}

/** The two statements of `listRuns`, not yet run (the history benchmark EXPLAINs them). */
export function listRunsQueries(db: DbOrTx, spec: ListSpec) {
  const pairs = distinctPairs(spec.env);
  const envOnly = pairs.length > 0 && spec.filters.every((f) => f.values.length === 0);
  const where = whereOf(runColumns, runs.env, spec);
  return {
    page: envOnly && spec.sortBy === 'started_at' ? pageByEnvPair(db, spec, pairs) : pageOf(db, spec, where),
    total: envOnly ? countByEnvPairs(db, pairs) : db.select({ n: count() }).from(runs).where(where),
  };
}

function pageOf(db: DbOrTx, spec: ListSpec, where: SQL | undefined) {
  const keyset = keysetOf(runColumns, runs.runId, spec);
  return db
    .select({ run: runs, sortKey: keyset.key })
    .from(runs)
    .where(and(where, ...keyset.seek))
    .orderBy(...keyset.order)
    .limit(spec.limit)
    .offset(spec.offset);
}

/** Walks the first pair's index entries in started_at order; further pairs are checked on the runs read. */
function pageByEnvPair(db: DbOrTx, spec: ListSpec, [first, ...rest]: EnvVar[]) {
  // run_env_pairs.started_at equals runs.started_at (the triggers keep it), so sorting and
  // seeking on the pair row's columns is sorting on the run's.
  const keyset = keysetOf({ ...runColumns, started_at: runEnvPairs.startedAt, run_id: runEnvPairs.runId }, runEnvPairs.runId, spec);
  return db
    .select({ run: runs, sortKey: keyset.key })
    .from(runEnvPairs)
    .innerJoin(runs, eq(runs.runId, runEnvPairs.runId))
    .where(and(isPair(first!), whereOf(runColumns, runs.env, { filters: [], env: rest }), ...keyset.seek))
    .orderBy(...keyset.order)
    .limit(spec.limit)
    .offset(spec.offset);
}

/** Runs that have every pair: an index-only count of one pair, or of the intersection of several. */
function countByEnvPairs(db: DbOrTx, pairs: EnvVar[]) {
  const runsWith = (p: EnvVar) => db.select({ runId: runEnvPairs.runId }).from(runEnvPairs).where(isPair(p));
  if (pairs.length === 1) return db.select({ n: count() }).from(runEnvPairs).where(isPair(pairs[0]!));
  const [a, b, ...more] = pairs.map(runsWith);
  return db.select({ n: count() }).from(intersect(a!, b!, ...more).as('matching'));
}

function isPair(p: EnvVar): SQL {
  return and(eq(runEnvPairs.name, p.name), eq(runEnvPairs.value, p.value))!;
}

/** The same pair asked twice is one condition (containment does not count repeats). */
function distinctPairs(env: EnvVar[]): EnvVar[] {
  const seen = new Map<string, EnvVar>();
  for (const e of env) seen.set(JSON.stringify([e.name, e.value]), { name: e.name, value: e.value });
  return [...seen.values()];
}

/** Run counts per status and engine; `oldestQueuedAt` is the group's earliest queued_at (the queue age for QUEUED). */
export async function countRunsByStatus(db: DbOrTx): Promise<{ status: string; engine: string; n: number; oldestQueuedAt: Date | null }[]> {
  const rows = await db
    .select({ status: runs.status, engine: runs.engine, n: count(), oldestQueuedAt: min(runs.queuedAt) })
    .from(runs)
    .groupBy(runs.status, runs.engine);
  return rows.map((r) => ({ ...r, n: Number(r.n), oldestQueuedAt: r.oldestQueuedAt ? new Date(r.oldestQueuedAt) : null }));
}

/** postgres.js returns an array from execute(); PGlite returns { rows }. */
export function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);
}
