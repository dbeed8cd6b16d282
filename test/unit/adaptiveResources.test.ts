// Adaptive resource allocation as a table (spec/templates.md): baseline, OOM history, GPU
// excluded, clamps, an override wins, and the way back down from measured peaks.
import { describe, expect, it } from 'vitest';
import { computeSizing, percentile, type PastRun, type SizingInput } from '../../src/domain/adaptiveResources.js';

const now = Date.now();
const past = (over: Partial<PastRun>, minutesAgo = 10): PastRun => ({
  cpu: 256,
  memory: 512,
  exitCode: 0,
  exitReason: 'Exited successfully',
  status: 'STOPPED',
  maxMemoryUsed: null,
  maxCpuUsed: null,
  queuedAt: new Date(now - minutesAgo * 60_000),
  ...over,
});
const oom = (memory: number, cpu = 256, minutesAgo = 10) => past({ memory, cpu, exitCode: 137, exitReason: 'OOMKilled' }, minutesAgo);

const base: SizingInput = { override: {}, executable: {}, gpu: null, adaptive: true, history: [] };
const size = (over: Partial<SizingInput>) => computeSizing({ ...base, ...over });

describe('adaptive resources', () => {
  it.each<[string, Partial<SizingInput>, { cpu: number; memory: number }, RegExp]>([
    ['baseline: nothing given → 256 / 512', {}, { cpu: 256, memory: 512 }, /^memory 512 MB: the default; cpu 256: the default \(no OOM-killed runs/],
    [
      'baseline: the definition',
      { executable: { cpu: 1024, memory: 2048 } },
      { cpu: 1024, memory: 2048 },
      /^memory 2048 MB: the definition; cpu 1024: the definition/,
    ],
    [
      'baseline: the run override',
      { override: { cpu: 2048, memory: 4096 }, executable: { cpu: 1024, memory: 2048 } },
      { cpu: 2048, memory: 4096 },
      /^memory 4096 MB: run override; cpu 2048: run override/,
    ],
    ['baseline: clamped up to the minimums', { executable: { cpu: 10, memory: 16 } }, { cpu: 256, memory: 512 }, /memory 512 MB/],
    [
      'baseline: clamped down to the maximums',
      { override: { cpu: 99_999, memory: 999_999 } },
      { cpu: 60_000, memory: 350_000 },
      /memory 350000 MB: run override; cpu 60000/,
    ],
    [
      'baseline: big memory raises cpu to memory / 8',
      { executable: { memory: 40_000, cpu: 1024 } },
      { cpu: 5000, memory: 40_000 },
      /cpu 5000: memory \/ 8 \(the definition asked for less\)/,
    ],
    [
      'baseline: from 131072 MB the memory / 8 rule stops',
      { executable: { memory: 131_072, cpu: 1024 } },
      { cpu: 1024, memory: 131_072 },
      /cpu 1024: the definition/,
    ],
    [
      'OOM history: p99 of requested memory × 1.75, cpu × 1.25 rounded up to 250',
      { executable: { memory: 512, cpu: 256 }, history: [oom(512), oom(512), past({})] },
      { cpu: 500, memory: 896 },
      /^memory 896 MB: 2 OOM-killed runs in 3 days, p99 512 MB × 1.75 \(baseline 512 MB from the definition\); cpu 500: 2 OOM-killed runs in 3 days, p99 256 × 1.25/,
    ],
    [
      'OOM history: exit code 137 alone counts',
      { history: [past({ exitCode: 137, exitReason: 'Error' }, 5)] },
      { cpu: 500, memory: 896 },
      /1 OOM-killed run in 3 days/,
    ],
    ['OOM history: the p99 is of the largest requests', { history: [oom(1024), oom(512), oom(600)] }, { cpu: 500, memory: 1792 }, /p99 1024 MB × 1.75/],
    [
      'OOM history: an estimate below the baseline leaves the baseline',
      { executable: { memory: 4096, cpu: 1024 }, history: [oom(1024)] },
      { cpu: 1024, memory: 4096 },
      /^memory 4096 MB: the definition; cpu 1024: the definition \(1 OOM-killed run in 3 days ask for no more\)$/,
    ],
    [
      'OOM history: only the 30 newest OOM kills are read',
      { history: [...Array.from({ length: 30 }, () => oom(512)), oom(100_000, 256, 60)] },
      { cpu: 500, memory: 896 },
      /30 OOM-killed runs/,
    ],
    ['clamp: the estimate is capped at 350000 MB', { history: [oom(300_000, 50_000)] }, { cpu: 60_000, memory: 350_000 }, /memory 350000 MB: 1 OOM-killed run/],
    ['GPU runs are never adapted', { gpu: 1, history: [oom(512)] }, { cpu: 256, memory: 512 }, /\(GPU runs are not adapted\)$/],
    ['GPU baseline clamps allow more', { gpu: 2, override: { cpu: 90_000, memory: 370_000 } }, { cpu: 90_000, memory: 370_000 }, /GPU runs are not adapted/],
    [
      'an override wins over the estimate',
      { override: { cpu: 256, memory: 600 }, history: [oom(512), oom(512)] },
      { cpu: 256, memory: 600 },
      /the run's overrides win/,
    ],
    [
      'a memory override wins; cpu still adapts',
      { override: { memory: 600 }, history: [oom(512)] },
      { cpu: 500, memory: 600 },
      /^memory 600 MB: run override; cpu 500: 1 OOM-killed run/,
    ],
    ['adaptive off → the baseline', { adaptive: false, history: [oom(512)] }, { cpu: 256, memory: 512 }, /^memory 512 MB: the default; cpu 256: the default$/],
    [
      'measured peaks after the last OOM bring the request back down (never under the baseline)',
      { history: [past({ maxMemoryUsed: 600, maxCpuUsed: 200 }, 1), oom(2048, 256, 30)] },
      { cpu: 256, memory: 1050 },
      /memory 1050 MB: 1 OOM-killed run in 3 days, p99 2048 MB × 1.75, down to 1 later successful run' p99 use 600 MB × 1.75/,
    ],
    [
      'peaks from before the last OOM are not trusted',
      { history: [oom(512, 256, 1), past({ maxMemoryUsed: 100 }, 30)] },
      { cpu: 500, memory: 896 },
      /p99 512 MB × 1.75 \(/,
    ],
  ])('%s', (_label, input, expected, reason) => {
    const s = size(input);
    expect({ cpu: s.cpu, memory: s.memory }).toEqual(expected);
    expect(s.reason).toMatch(reason);
  });

  it('percentile is nearest-rank', () => {
    expect(percentile([1], 99)).toBe(1);
    expect(
      percentile(
        Array.from({ length: 100 }, (_x, i) => i + 1),
        99,
      ),
    ).toBe(99);
    expect(percentile([5, 1, 3], 50)).toBe(3);
  });

  it('reports the baseline next to the result', () => {
    expect(size({ executable: { memory: 1024, cpu: 512 }, history: [oom(1024, 512)] })).toMatchObject({
      baseline: { cpu: 512, memory: 1024 },
      memory: 1792,
      cpu: 750,
      oomRuns: 1,
    });
  });
});
