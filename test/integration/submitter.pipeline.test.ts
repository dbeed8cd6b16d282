// The submit loop as a pipeline: submits in flight are bounded per engine
// (WORKER_CONCURRENCY), a slow submit does not hold back the runs queued after it, and
// stopping the workers waits for what was launched.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocalEngine } from '../../src/engines/local/index.js';
import type { Engine, EngineRun, SubmitResult } from '../../src/engines/types.js';
import { silentLogger } from '../../src/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition } from '../helpers/factories.js';

let t: TestApp;
let workdir: string;
const held = new Map<string, () => void>();
let inFlight = 0;
let maxInFlight = 0;

/** The local engine, except that a run whose command says `hold` is not submitted until released. */
function holdingEngine(): Engine {
  const local = createLocalEngine({ workdir, graceMs: 1000 }, { logger: silentLogger });
  return {
    ...local,
    async submit(run: EngineRun): Promise<SubmitResult> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (run.command?.includes('hold')) await new Promise<void>((resolve) => held.set(run.runId, resolve));
        return await local.submit(run);
      } finally {
        inFlight--;
      }
    },
  };
}

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'flotilla-submit-pipeline-'));
  t = await createTestApp({ WORKER_CONCURRENCY: '3' }, { engines: [holdingEngine()] });
});
afterAll(async () => {
  for (const release of held.values()) release();
  await t?.close();
  rmSync(workdir, { recursive: true, force: true });
});

const status = (runId: string) => t.services.runs.get(runId).then((r) => r.status);

it('a held submit does not block the runs behind it; at most WORKER_CONCURRENCY are in flight; stop waits for the held one', async () => {
  const holdDef = await createDefinition(t.services, { command: 'echo hold' });
  const quickDef = await createDefinition(t.services, { command: 'true' });
  const slow = await t.services.runs.execute({ definitionId: holdDef.definitionId }, { owner: 'tester' });
  t.startWorkers(['submit', 'status']);
  await expect.poll(() => held.has(slow.runId), { timeout: 10_000, interval: 20 }).toBe(true);

  // Queued after the held one: they are submitted and finish while it still waits.
  const quick = [];
  for (let i = 0; i < 6; i++) quick.push(await t.services.runs.execute({ definitionId: quickDef.definitionId }, { owner: 'tester' }));
  for (const run of quick) await expect.poll(() => status(run.runId), { timeout: 20_000, interval: 50 }).toBe('STOPPED');
  expect(await status(slow.runId)).toBe('QUEUED');
  expect(maxInFlight).toBeLessThanOrEqual(3);

  // Two more held runs fill the bound with the first: a quick run waits for room.
  const moreHeld = [
    await t.services.runs.execute({ definitionId: holdDef.definitionId }, { owner: 'tester' }),
    await t.services.runs.execute({ definitionId: holdDef.definitionId }, { owner: 'tester' }),
  ];
  await expect.poll(() => moreHeld.every((r) => held.has(r.runId)), { timeout: 10_000, interval: 20 }).toBe(true);
  const waiting = await t.services.runs.execute({ definitionId: quickDef.definitionId }, { owner: 'tester' });
  await new Promise((r) => setTimeout(r, 500));
  expect(await status(waiting.runId)).toBe('QUEUED');
  expect(inFlight).toBe(3);

  // Room again: the waiting run goes at once, without waiting for a poll interval.
  held.get(slow.runId)!();
  await expect.poll(() => status(waiting.runId), { timeout: 10_000, interval: 20 }).not.toBe('QUEUED');

  // Stopping waits for the submits still in flight.
  const stopped = t.stopWorkers();
  let done = false;
  void stopped.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 300));
  expect(done).toBe(false);
  for (const r of moreHeld) held.get(r.runId)!();
  await stopped;
  expect(inFlight).toBe(0);
  for (const r of moreHeld) expect(await status(r.runId)).not.toBe('QUEUED');
}, 60_000);
