// Inserting new runs, each with its first timeline event (QUEUED), in one statement: atomic
// without a transaction, so an execute costs one round trip. Executes that arrive together
// share that statement (group commit): one INSERT of many rows, one commit, while each caller
// still gets its own row, or its own error.
//
// The rows travel as one jsonb parameter, so the statement's text is the same for one row or
// sixty-four: it is prepared once per connection (store/prepared.ts), and building it costs
// next to nothing (a drizzle insert builder spent more CPU per execute than the rest of the
// request).
import { getTableColumns, getTableName } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/client.js';
import { runEvents, runs, type NewRunRow, type RunRow } from '../db/schema.js';
import { createBatcher, type Batcher } from './batcher.js';
import { queryFixed } from './prepared.js';
import type { TransitionEvent } from './runs.js';

/** The runs table's columns: property name (drizzle) and column name (SQL). */
const COLUMNS = Object.entries(getTableColumns(runs)).map(([key, column]) => ({ key, column }));

export interface NewRun {
  row: NewRunRow;
  event: TransitionEvent;
  /**
   * Insert only if what the row was built from is still current: its definition at
   * `row.definitionVersion`, live, and its cluster's registry row at this version (`xmin`;
   * null: the cluster is not registered). A run built from a cached read is checked here, in
   * the insert, instead of in a read before it.
   */
  guard?: RunGuard;
}

export interface RunGuard {
  clusterXmin: string | null;
}

/**
 * The statement for rows that set these properties. A property a row leaves undefined is
 * left out of the column list, so the column's default applies (jsonb_populate_recordset
 * would give it null). $1: the rows; $2: their first events; $3: the guarded rows' checks.
 */
const statements = new Map<string, string>();
function statementFor(row: NewRunRow): { signature: string; text: string } {
  const keys = COLUMNS.filter(({ key }) => (row as Record<string, unknown>)[key] !== undefined);
  const signature = keys.map(({ key }) => key).join(',');
  let text = statements.get(signature);
  if (text === undefined) {
    const runsTable = getTableName(runs);
    const cols = keys.map(({ column }) => `"${column.name}"`).join(', ');
    // A guarded row (in $3) is left out when its definition or cluster changed since it was built.
    text = `with guard as (select * from jsonb_to_recordset($3::jsonb) as g(run_id text, cluster_xmin text)),
    created as (
      insert into "${runsTable}" (${cols})
      select ${cols} from jsonb_populate_recordset(null::"${runsTable}", $1::jsonb) r
      where not exists (
        select 1 from guard g where g.run_id = r.run_id and not (
          exists (select 1 from task_definitions d where d.definition_id = r.definition_id and d.version = r.definition_version and d.archived_at is null)
          and case when g.cluster_xmin is null then not exists (select 1 from clusters c where c.name = r.cluster_name)
                   else exists (select 1 from clusters c where c.name = r.cluster_name and c.xmin::text = g.cluster_xmin) end))
      returning *
    ),
    first_event as (
      insert into "${getTableName(runEvents)}" (run_id, kind, from_status, to_status, reason, detail)
      select c.run_id, 'status', null, c.status, e.reason, e.detail
      from created c join jsonb_to_recordset($2::jsonb) as e(run_id text, reason text, detail jsonb) on e.run_id = c.run_id
    )
    select * from created`;
    statements.set(signature, text);
  }
  return { signature, text };
}

/** A row as jsonb_populate_recordset reads it: column names as keys, jsonb columns as JSON values. */
function driverRow(row: NewRunRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, column } of COLUMNS) {
    const value = (row as Record<string, unknown>)[key];
    if (value !== undefined) out[column.name] = value;
  }
  return out;
}

/** A raw `returning *` or `select *` row of runs (snake_case, driver values) as drizzle's select would give it. */
export function runFromDriverRow(raw: Record<string, unknown>): RunRow {
  const out: Record<string, unknown> = {};
  for (const { key, column } of COLUMNS) {
    const value = raw[column.name];
    out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return out as RunRow;
}

/**
 * Inserts runs that set the same columns, and their first events, in one statement. Returns
 * the stored rows in the order given, undefined for a guarded row whose guard failed. All or
 * nothing otherwise: a row the database refuses fails them all.
 */
async function insertSameShape(db: DbOrTx, text: string, items: NewRun[]): Promise<(RunRow | undefined)[]> {
  const rows = JSON.stringify(items.map((i) => driverRow(i.row)));
  const events = JSON.stringify(items.map((i) => ({ run_id: i.row.runId, reason: i.event.reason ?? null, detail: i.event.detail ?? {} })));
  const guards = JSON.stringify(items.flatMap((i) => (i.guard ? [{ run_id: i.row.runId, cluster_xmin: i.guard.clusterXmin }] : [])));
  const result = await queryFixed(db, text, [rows, events, guards]);
  const byId = new Map(result.map((raw) => [raw.run_id as string, raw]));
  return items.map((i) => {
    const raw = byId.get(i.row.runId);
    if (raw) return runFromDriverRow(raw);
    if (i.guard) return undefined;
    throw new Error(`run ${i.row.runId} was not returned by its insert`);
  });
}

/**
 * Inserts runs and their first events in as few statements as their shapes allow (usually
 * one). A guarded run whose definition or cluster changed is not inserted: undefined.
 */
export async function insertRuns(db: DbOrTx, items: NewRun[]): Promise<(RunRow | undefined)[]> {
  const groups = new Map<string, { text: string; at: number[] }>();
  items.forEach((item, i) => {
    const { signature, text } = statementFor(item.row);
    let group = groups.get(signature);
    if (!group) groups.set(signature, (group = { text, at: [] }));
    group.at.push(i);
  });
  const out: (RunRow | undefined)[] = new Array(items.length);
  for (const { text, at } of groups.values()) {
    const stored = await insertSameShape(
      db,
      text,
      at.map((i) => items[i]!),
    );
    at.forEach((i, j) => (out[i] = stored[j]!));
  }
  return out;
}

/** One run and its first timeline event (inside a transaction, or alone). */
export async function insertRun(db: DbOrTx, row: NewRunRow, event: TransitionEvent): Promise<RunRow> {
  const [run] = await insertRuns(db, [{ row, event }]);
  return run!;
}

/** Rows per statement at most: the jsonb parameter of a full batch stays well under a megabyte. */
const MAX_BATCH = 64;
/**
 * Batch statements in flight at once per database. While they are, new executes wait and
 * leave together in the next one: the busier the API, the bigger the batch, with the same
 * number of commits.
 */
const MAX_IN_FLIGHT = 2;

const batchers = new WeakMap<object, Batcher<NewRun, RunRow | undefined>>();

/**
 * Queues a run's insert to leave with the others that reach this point in the same turn of
 * the event loop (or while earlier batches are in flight). When the shared statement fails,
 * each run is tried again alone, so a row the database refuses fails only its own request.
 * Undefined only for a guarded run whose guard failed (nothing was stored).
 */
export function queueRunInsert(db: Db, row: NewRunRow, event: TransitionEvent, guard?: RunGuard): Promise<RunRow | undefined> {
  let batcher = batchers.get(db);
  if (!batcher) {
    batcher = createBatcher({ write: (items: NewRun[]) => insertRuns(db, items), max: MAX_BATCH, concurrency: MAX_IN_FLIGHT });
    batchers.set(db, batcher);
  }
  return batcher.add({ row, event, guard });
}
