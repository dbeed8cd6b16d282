// Factories for definitions and runs in every status. Runs are made the way production
// makes them: executed through the run service, then moved along the state machine with
// `services.runUpdates.transition`, so every row has its run_events timeline.
import { randomBytes } from 'node:crypto';
import type { RunRow, TaskDefinitionRow } from '../../src/db/schema.js';
import type { Services } from '../../src/domain/services.js';
import type { RunStatus } from '../../src/domain/lifecycle.js';
import type { RunFacts } from '../../src/store/runs.js';

export function uniqueAlias(prefix = 'task'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** `fields` in service form (camelCase: groupName, targetCluster, …). */
export async function createDefinition(services: Services, fields: Record<string, unknown> = {}): Promise<TaskDefinitionRow> {
  return services.definitions.create({ alias: uniqueAlias(), image: 'alpine:3', command: 'echo hello', ...fields });
}

/** Moves a run or fails loudly: a factory that silently lost a transition would lie. */
export async function moveRun(services: Services, runId: string, to: RunStatus, facts: RunFacts = {}, reason = 'test'): Promise<RunRow> {
  const row = await services.runUpdates.transition(runId, to, facts, reason);
  if (!row) throw new Error(`factory: could not move ${runId} to ${to}`);
  return row;
}

export interface RunOptions {
  /** The definition to execute; a new one when absent. */
  definition?: TaskDefinitionRow;
  /** Execute input in service form (owner, env, command, idempotenceKey, …). */
  input?: Record<string, unknown>;
  status?: RunStatus;
  /** For STOPPED: default 0 / `Exited successfully`. */
  exitCode?: number | null;
  exitReason?: string | null;
}

/** Path through the state machine to each status (QUEUED is where execute leaves a run). */
const PATH: Record<RunStatus, RunStatus[]> = {
  QUEUED: [],
  PENDING: ['PENDING'],
  RUNNING: ['PENDING', 'RUNNING'],
  STOPPED: ['PENDING', 'RUNNING', 'STOPPED'],
  NEEDS_RETRY: ['PENDING', 'RUNNING', 'NEEDS_RETRY'],
};

export async function createRun(services: Services, opts: RunOptions = {}): Promise<RunRow> {
  const definition = opts.definition ?? (await createDefinition(services));
  let run = await services.runs.execute({ definitionId: definition.definitionId }, { owner: 'tester', ...opts.input });
  for (const to of PATH[opts.status ?? 'QUEUED']) {
    const now = new Date();
    const facts: RunFacts =
      to === 'PENDING'
        ? { engineRef: `fake-${run.runId}` }
        : to === 'RUNNING'
          ? { startedAt: now }
          : to === 'STOPPED'
            ? {
                exitCode: opts.exitCode === undefined ? 0 : opts.exitCode,
                exitReason: opts.exitReason === undefined ? (opts.exitCode ? 'Error' : 'Exited successfully') : opts.exitReason,
                finishedAt: now,
              }
            : { lastError: opts.exitReason ?? 'node lost', exitReason: opts.exitReason ?? 'node lost' };
    run = await moveRun(services, run.runId, to, facts);
  }
  return run;
}

/** One run in every status, of one definition. */
export async function createRunsInEveryStatus(services: Services, definition?: TaskDefinitionRow): Promise<Record<RunStatus, RunRow>> {
  const def = definition ?? (await createDefinition(services));
  const out = {} as Record<RunStatus, RunRow>;
  for (const status of Object.keys(PATH) as RunStatus[]) out[status] = await createRun(services, { definition: def, status });
  return out;
}
