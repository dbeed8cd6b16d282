// Worker loops say what they are doing: state, last error, last good pass; a pass that
// hangs makes the loop wedged, which fails /health/ready and shows on /metrics.
import { afterEach, describe, expect, it } from 'vitest';
import { readiness } from '../../src/api/health.js';
import { silentLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { startLoop, type Loop } from '../../src/workers/loop.js';

const loops: Loop[] = [];
afterEach(async () => {
  await Promise.all(loops.splice(0).map((l) => l.stop()));
});

function loop(tick: (signal: AbortSignal) => Promise<boolean>, wedgedAfterMs?: number): Loop {
  const l = startLoop({ name: 'test', intervalMs: 20, logger: silentLogger, tick, wedgedAfterMs });
  loops.push(l);
  return l;
}

describe('a worker loop', () => {
  it('reports its last good pass and its last error, and emits an event for each', async () => {
    let n = 0;
    const seen: string[] = [];
    const l = loop(async () => {
      n++;
      if (n === 2) throw new Error('database is down');
      return false;
    });
    l.events.on('tickSucceeded', () => seen.push('ok'));
    l.events.on('tickFailed', ({ err }) => seen.push(`failed: ${(err as Error).message}`));
    await expect.poll(() => n, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    const s = l.status();
    expect(s.lastError).toMatchObject({ message: 'database is down' });
    expect(s.lastSuccessAt).toBeInstanceOf(Date);
    expect(s.wedged).toBe(false);
    expect(seen.slice(0, 2)).toEqual(expect.arrayContaining(['failed: database is down']));
    await l.stop();
    expect(l.status().state).toBe('stopped');
  });

  it('is wedged when one pass runs longer than it may, and the worker is then not ready', async () => {
    let release: () => void = () => {};
    const l = loop(
      (signal) =>
        new Promise<boolean>((resolve) => {
          release = () => resolve(false);
          signal.addEventListener('abort', () => resolve(false), { once: true });
        }),
      50,
    );
    await expect.poll(() => l.status().state).toBe('running');
    await expect.poll(() => l.status().wedged, { timeout: 2000 }).toBe(true);
    const ready = await readiness({ loops: () => [l.status()] });
    expect(ready.ready).toBe(false);
    expect(ready.body).toMatchObject({ failing: ['loops'] });

    const metrics = createMetrics({ processMetrics: false });
    metrics.trackLoops(() => [l.status()]);
    const text = await metrics.render();
    expect(text).toContain('flotilla_worker_loop_state{loop="test",state="running"} 1');
    expect(text).toContain('flotilla_worker_loop_wedged{loop="test"} 1');

    release();
    await expect.poll(() => l.status().wedged).toBe(false);
    expect((await readiness({ loops: () => [l.status()] })).ready).toBe(true);
  });
});
