// The run lifecycle (docs/architecture.md "The run state machine") as a GraphQL enum; values are the stored strings.
import { RUN_STATUSES, type RunStatus } from '../../../domain/lifecycle.js';
import { builder } from '../builder.js';

const DESCRIPTIONS: Record<RunStatus, string> = {
  QUEUED: 'Waiting for a worker to launch it.',
  PENDING: 'Launched; the engine is scheduling it or pulling its image.',
  RUNNING: 'The command is running.',
  STOPPED: 'Finished: exitCode 0 is success, anything else (or null) is failure. Final.',
  NEEDS_RETRY: 'An infrastructure failure; it will be queued again (up to maxAttempts).',
};

export const RunStatusEnum = builder.enumType('RunStatus', {
  description: 'QUEUED → PENDING → RUNNING → STOPPED; NEEDS_RETRY → QUEUED for infrastructure failures.',
  values: Object.fromEntries(RUN_STATUSES.map((s) => [s, { value: s, description: DESCRIPTIONS[s] }])) as Record<
    RunStatus,
    { value: RunStatus; description: string }
  >,
});
