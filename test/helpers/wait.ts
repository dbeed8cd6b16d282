// Waiting for a run, one way for every test.
import { expect } from 'vitest';
import type { RunRow } from '../../src/db/schema.js';
import type { Services } from '../../src/domain/services.js';

/** Waits until the run is STOPPED and its output is fully collected; returns the row. */
export async function waitFinished(services: Pick<Services, 'runs'>, runId: string, timeout = 20_000): Promise<RunRow> {
  await expect
    .poll(
      async () => {
        const row = await services.runs.get(runId);
        return row.status === 'STOPPED' && row.logsComplete;
      },
      { timeout, interval: 50 },
    )
    .toBe(true);
  return services.runs.get(runId);
}
