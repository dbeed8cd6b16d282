// The behaviours every engine must share, run against each engine's most real peer
// (real processes, a real dockerd, the fake Kubernetes API server, moto_server).
// Each engine's test file calls `engineConformance(...)` with a factory.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, EngineRun, LogChunk, MissingRun, StatusUpdate } from '../../src/engines/types.js';
import { engineRunFixture } from '../helpers/engineRun.js';

export interface ConformanceOptions {
  /** Builds the engine under test (and whatever peer it needs). */
  setup(): Promise<Engine>;
  teardown?(): Promise<void>;
  /** Image to use for runs (engines that ignore it get any string). */
  image: string;
  /**
   * Lets a test drive a scripted backend (fake API servers, emulators): called after submit
   * with the command the run was given. Real backends leave it undefined.
   */
  play?(run: EngineRun, script: { exitCode: number; output: string[] }): Promise<void>;
  /** How long a run may take to reach STOPPED. */
  timeoutMs?: number;
}

export function makeEngineRun(engine: string, overrides: Partial<EngineRun> = {}): EngineRun {
  const runId = `${engine}-${randomUUID()}`.slice(0, 36);
  return engineRunFixture({
    runId,
    definitionId: 'conformance-' + randomUUID(),
    alias: 'conformance',
    groupName: 'conformance',
    owner: 'conformance',
    queuedAt: new Date(),
    ...overrides,
  });
}

/** Polls reconcile until the run is STOPPED (or NEEDS_RETRY); returns the final update. */
export async function waitForEnd(engine: Engine, run: EngineRun, timeoutMs = 30_000): Promise<StatusUpdate> {
  const deadline = Date.now() + timeoutMs;
  let last: StatusUpdate | MissingRun | undefined;
  while (Date.now() < deadline) {
    [last] = await engine.reconcile([run]);
    if (last && !('missing' in last) && (last.status === 'STOPPED' || last.status === 'NEEDS_RETRY')) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${run.runId} did not end within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

export async function collectLogs(engine: Engine, run: EngineRun, cursor: string | null = null, max = Infinity): Promise<LogChunk[]> {
  const ac = new AbortController();
  const out: LogChunk[] = [];
  const timer = setTimeout(() => ac.abort(), 30_000);
  try {
    for await (const chunk of engine.logs(run, cursor, ac.signal)) {
      out.push(chunk);
      if (out.length >= max) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

const text = (chunks: LogChunk[]) => chunks.map((c) => c.text).join('');

export function engineConformance(name: string, opts: ConformanceOptions): void {
  describe(`engine conformance: ${name}`, () => {
    let engine: Engine;
    const timeout = opts.timeoutMs ?? 30_000;

    beforeAll(async () => {
      engine = await opts.setup();
    });
    afterAll(async () => {
      await engine?.close();
      await opts.teardown?.();
    });

    async function launch(command: string, script: { exitCode: number; output: string[] }, extra: Partial<EngineRun> = {}) {
      const run = makeEngineRun(name, { image: opts.image, command, ...extra });
      const submitted = await engine.submit(run);
      expect(submitted.engineRef).toBeTruthy();
      run.engineRef = submitted.engineRef;
      run.podName = submitted.podName ?? null;
      run.namespace = submitted.namespace ?? null;
      run.status = submitted.status;
      await opts.play?.(run, script);
      return { run, submitted };
    }

    it(
      'runs a command to exit 0 and yields its output as whole lines',
      async () => {
        const { run } = await launch('echo hello; echo world', { exitCode: 0, output: ['hello', 'world'] });
        const end = await waitForEnd(engine, run, timeout);
        expect(end.status).toBe('STOPPED');
        expect(end.exitCode).toBe(0);
        expect(end.exitReason).toMatch(/exited successfully/i);
        const logs = await collectLogs(engine, run);
        expect(text(logs)).toContain('hello\nworld\n');
        for (const c of logs) expect(c.text.endsWith('\n')).toBe(true);
      },
      timeout + 10_000,
    );

    it(
      'reports a non-zero exit code',
      async () => {
        const { run } = await launch('echo failing >&2; exit 3', { exitCode: 3, output: ['failing'] });
        const end = await waitForEnd(engine, run, timeout);
        expect(end.status).toBe('STOPPED');
        expect(end.exitCode).toBe(3);
        expect(end.exitReason).toBeTruthy();
      },
      timeout + 10_000,
    );

    it(
      'passes the run env to the command',
      async () => {
        const { run } = await launch('echo "id=$FLOTILLA_RUN_ID"', { exitCode: 0, output: [] });
        await opts.play?.(run, { exitCode: 0, output: [`id=${run.runId}`] });
        await waitForEnd(engine, run, timeout);
        expect(text(await collectLogs(engine, run))).toContain(`id=${run.runId}\n`);
      },
      timeout + 10_000,
    );

    it(
      'submit is idempotent on run id',
      async () => {
        const { run, submitted } = await launch('sleep 30', { exitCode: 0, output: [] });
        const again = await engine.submit(run);
        expect(again.engineRef).toBe(submitted.engineRef);
        await engine.terminate(run, 'test cleanup');
      },
      timeout + 10_000,
    );

    it(
      'terminates a long run, and terminating twice is fine',
      async () => {
        const { run } = await launch('sleep 600', { exitCode: 0, output: [] });
        await engine.terminate(run, 'Task terminated by user');
        await engine.terminate(run, 'Task terminated by user');
        // Soon gone from the backend, or stopped: not left RUNNING.
        await expect
          .poll(
            async () => {
              const [after] = await engine.reconcile([run]);
              return !after || 'missing' in after ? 'GONE' : after.status;
            },
            { timeout: 10_000, interval: 100 },
          )
          .toMatch(/^(GONE|STOPPED|NEEDS_RETRY)$/);
      },
      timeout + 10_000,
    );

    it(
      'resumes logs from a cursor without repeating or losing a line',
      async () => {
        const lines = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`);
        const { run } = await launch('for i in $(seq 1 50); do echo "line $i"; done', { exitCode: 0, output: lines });
        await waitForEnd(engine, run, timeout);
        const first = await collectLogs(engine, run, null, 1);
        expect(first.length).toBe(1);
        const rest = await collectLogs(engine, run, first[0]!.cursor);
        expect(text([...first, ...rest])).toBe(lines.map((l) => l + '\n').join(''));
      },
      timeout + 10_000,
    );

    it('describes itself', async () => {
      const d = await engine.describe();
      expect(Array.isArray(d.clusters)).toBe(true);
      expect(Array.isArray(d.capabilities)).toBe(true);
    });
  });
}
