import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, afterAll } from 'vitest';
import { createLocalEngine } from '../../src/engines/local/index.js';
import { collectLogs, engineConformance, makeEngineRun, waitForEnd } from './conformance.js';

const workdir = mkdtempSync(join(tmpdir(), 'flotilla-local-test-'));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

engineConformance('local', {
  setup: async () => createLocalEngine({ workdir, graceMs: 500 }),
  image: 'ignored',
});

describe('local engine specifics', () => {
  const engine = createLocalEngine({ workdir, graceMs: 200 });
  afterAll(() => engine.close());

  /** Runs a command to its end and returns its log chunks. */
  async function runToEnd(command: string) {
    const run = makeEngineRun('local', { command });
    await engine.submit(run);
    await waitForEnd(engine, run);
    return { run, chunks: await collectLogs(engine, run) };
  }
  /** The text one stream carried, in order. */
  const textOf = (chunks: { stream: string; text: string }[], stream: string) =>
    chunks
      .filter((c) => c.stream === stream)
      .map((c) => c.text)
      .join('');

  it('keeps stdout and stderr apart', async () => {
    const { chunks } = await runToEnd('echo out; echo err >&2');
    expect(textOf(chunks, 'stdout')).toBe('out\n');
    expect(textOf(chunks, 'stderr')).toBe('err\n');
  });

  it('keeps the order stdout and stderr were written in', async () => {
    const { chunks } = await runToEnd('echo out1; echo err1 >&2; echo tail; printf "e2\\n" >&2; sleep 0.05; echo end');
    expect(chunks.map((c) => [c.stream, c.text])).toEqual([
      ['stdout', 'out1\n'],
      ['stderr', 'err1\n'],
      ['stdout', 'tail\n'],
      ['stderr', 'e2\n'],
      ['stdout', 'end\n'],
    ]);
  });

  it('adds no newline to a last line written without one, in either stream', async () => {
    const { chunks } = await runToEnd('echo first; printf "no newline"; printf "err tail" >&2');
    expect(textOf(chunks, 'stdout')).toBe('first\nno newline');
    expect(textOf(chunks, 'stderr')).toBe('err tail');
  });

  it('resumes the merged log from any chunk cursor with nothing repeated or lost', async () => {
    const run = makeEngineRun('local', { command: 'for i in 1 2 3; do echo "o$i"; echo "e$i" >&2; done' });
    await engine.submit(run);
    await waitForEnd(engine, run);
    const all = await collectLogs(engine, run);
    const whole = all.map((c) => `${c.stream}:${c.text}`).join('');
    for (let i = 0; i < all.length; i++) {
      const rest: string[] = [];
      for await (const c of engine.logs(run, all[i]!.cursor, new AbortController().signal)) rest.push(`${c.stream}:${c.text}`);
      expect(
        all
          .slice(0, i + 1)
          .map((c) => `${c.stream}:${c.text}`)
          .join('') + rest.join(''),
      ).toBe(whole);
    }
  });

  it('reports PENDING at submit, then RUNNING once the command has started', async () => {
    const updates: string[] = [];
    const stop = engine.watch!((u) => updates.push(`${u.runId}:${u.status}`));
    const run = makeEngineRun('local', { command: 'sleep 1' });
    const submitted = await engine.submit(run);
    expect(submitted.status).toBe('PENDING');
    await expect.poll(() => updates, { timeout: 5000 }).toContain(`${run.runId}:RUNNING`);
    expect((await engine.reconcile([run]))[0]).toMatchObject({ status: 'RUNNING' });
    await stop();
    await engine.terminate(run, 'test');
  });

  // GNU time measures the command where it is installed (it is on the CI image and here).
  it.runIf(existsSync('/usr/bin/time'))('reports the peak memory and cpu the command used', async () => {
    // Holds ~64 MB: a string of 64 MiB in one awk variable.
    const run = makeEngineRun('local', { command: `awk 'BEGIN { s = sprintf("%67108864s", ""); print length(s) }'` });
    await engine.submit(run);
    const end = await waitForEnd(engine, run);
    expect(end).toMatchObject({ status: 'STOPPED', exitCode: 0 });
    expect(end.usage?.maxMemoryMb).toBeGreaterThanOrEqual(64);
    expect(end.usage?.maxMemoryMb).toBeLessThan(1024);
    expect(end.usage?.maxCpu).toBeGreaterThan(0);
  });

  it('a SIGKILL without an OOM kill in the cgroup is a plain signal, not OOMKilled', async () => {
    const run = makeEngineRun('local', { command: 'kill -9 $$' });
    await engine.submit(run);
    expect(await waitForEnd(engine, run)).toMatchObject({ status: 'STOPPED', exitCode: 137, exitReason: 'Error: killed by signal 9' });
  });

  it('pushes the exit through watch', async () => {
    const updates: string[] = [];
    const stop = engine.watch!((u) => updates.push(`${u.runId}:${u.status}:${u.exitCode}`));
    const run = makeEngineRun('local', { command: 'exit 7' });
    await engine.submit(run);
    await expect.poll(() => updates, { timeout: 5000 }).toContain(`${run.runId}:STOPPED:7`);
    await stop();
  });

  it('reports a run whose process vanished without an exit as lost (NEEDS_RETRY)', async () => {
    const run = makeEngineRun('local', { command: 'sleep 60' });
    const submitted = await engine.submit(run);
    const pid = Number(submitted.engineRef.split(':').pop());
    // Kill the wrapper too, as a machine restart would: no exit file is written.
    process.kill(-pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    const [update] = await engine.reconcile([run]);
    expect(update).toMatchObject({ status: 'NEEDS_RETRY', exitReason: 'Lost: the process running it ended' });
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const run = makeEngineRun('local', { command: 'trap "" TERM; sleep 30' });
    await engine.submit(run);
    await new Promise((r) => setTimeout(r, 200));
    await engine.terminate(run, 'test');
    const end = await waitForEnd(engine, run, 5000).catch(() => undefined);
    const [after] = await engine.reconcile([run]);
    expect(end ?? after).toMatchObject({ status: expect.stringMatching(/STOPPED|NEEDS_RETRY/) });
  });
});
