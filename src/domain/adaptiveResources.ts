// Adaptive resource allocation (README "Classic web UI, templates and adaptive resources"): a run whose
// executable has adaptive_resource_allocation gets more memory/cpu when recent runs of the
// same command were OOM-killed, and says why. Pure rules first (testable as a table), then the
// query that feeds them.
import { and, desc, eq, gte, isNull, or } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { runs } from '../db/schema.js';
import type { EngineName } from '../config.js';
import { LIMITS, clamp } from './resources.js';

export const ARA = {
  windowMs: 3 * 24 * 3600 * 1000,
  maxRuns: 30,
  memoryFactor: 1.75,
  cpuFactor: 1.25,
  cpuStep: 250,
  /** GPU runs may ask for more (they are never adapted, but their baseline is clamped here). */
  gpuCpuMax: 94_000,
  gpuMemoryMax: 376_000,
  /** Big-memory band in which cpu is raised to at least memory / 8. */
  bigMemory: { from: 36_864, below: 131_072 },
} as const;

/** Engines that enforce limits, so an OOM kill means "asked for too little". */
export function adaptsOn(engine: EngineName | string): boolean {
  return engine === 'docker' || engine === 'kubernetes' || engine === 'ecs';
}

/** A past run as the estimate reads it. */
export interface PastRun {
  cpu: number;
  memory: number;
  exitCode: number | null;
  exitReason: string | null;
  status: string;
  maxMemoryUsed: number | null;
  maxCpuUsed: number | null;
  queuedAt: Date;
}

export interface SizingInput {
  override: { cpu?: number | null; memory?: number | null };
  executable: { cpu?: number | null; memory?: number | null };
  gpu: number | null;
  /** adaptive_resource_allocation on, on an engine that enforces limits. */
  adaptive: boolean;
  /** Finished runs of the same executable and command in the window, newest first; the estimate reads up to 30 OOM kills. */
  history: PastRun[];
  /** Word for the executable in the reason ("definition", "template"). */
  kind?: string;
}

export interface Sizing {
  cpu: number;
  memory: number;
  baseline: { cpu: number; memory: number };
  /** One line a person reads: where each number came from. */
  reason: string;
  /** How many OOM-killed runs the estimate used (0: none). */
  oomRuns: number;
}

export const isOomKilled = (r: Pick<PastRun, 'exitCode' | 'exitReason'>) => r.exitCode === 137 || r.exitReason === 'OOMKilled';

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const roundUpTo = (n: number, step: number) => Math.ceil(n / step) * step;

export function computeSizing(input: SizingInput): Sizing {
  const hasGpu = (input.gpu ?? 0) > 0;
  const kind = input.kind ?? 'definition';
  const cpuMax = hasGpu ? ARA.gpuCpuMax : LIMITS.cpu.max;
  const memoryMax = hasGpu ? ARA.gpuMemoryMax : LIMITS.memory.max;

  // Baseline: override → executable → minimum.
  const memorySource = input.override.memory ? 'run override' : input.executable.memory ? `the ${kind}` : 'the default';
  const cpuSource = input.override.cpu ? 'run override' : input.executable.cpu ? `the ${kind}` : 'the default';
  const memory = clamp(input.override.memory || input.executable.memory || LIMITS.memory.min, LIMITS.memory.min, memoryMax);
  let cpu = clamp(input.override.cpu || input.executable.cpu || LIMITS.cpu.min, LIMITS.cpu.min, cpuMax);
  let cpuNote = cpuSource;
  if (!hasGpu && memory >= ARA.bigMemory.from && memory < ARA.bigMemory.below && cpu < Math.ceil(memory / 8)) {
    cpu = Math.min(cpuMax, Math.ceil(memory / 8));
    cpuNote = `memory / 8 (${cpuSource} asked for less)`;
  }
  const baseline = { cpu, memory };
  const base = { cpu, memory, baseline, oomRuns: 0 };
  const plain = `memory ${memory} MB: ${memorySource}; cpu ${cpu}: ${cpuNote}`;

  if (hasGpu) return { ...base, reason: `${plain} (GPU runs are not adapted)` };
  if (!input.adaptive) return { ...base, reason: plain };

  const ooms = input.history.filter(isOomKilled).slice(0, ARA.maxRuns);
  const latestOom = ooms[0]?.queuedAt.getTime() ?? -Infinity;
  // Successful runs after the latest OOM kill that reported their peaks: the request may come
  // back down towards what they used.
  const measured = input.history.filter((r) => r.exitCode === 0 && r.queuedAt.getTime() > latestOom && r.maxMemoryUsed !== null && r.maxMemoryUsed > 0);

  let memoryAsk = memory;
  let cpuAsk = cpu;
  const memoryWhy: string[] = [];
  const cpuWhy: string[] = [];
  const memOverridden = Boolean(input.override.memory);
  const cpuOverridden = Boolean(input.override.cpu);

  if (ooms.length > 0) {
    const p99Memory = percentile(
      ooms.map((r) => r.memory),
      99,
    );
    const p99Cpu = percentile(
      ooms.map((r) => r.cpu),
      99,
    );
    let memEstimate = p99Memory * ARA.memoryFactor;
    let memWhy = `${ooms.length} OOM-killed run${ooms.length === 1 ? '' : 's'} in 3 days, p99 ${p99Memory} MB × ${ARA.memoryFactor}`;
    if (measured.length > 0) {
      const p99Used = percentile(
        measured.map((r) => r.maxMemoryUsed!),
        99,
      );
      const fromUsage = p99Used * ARA.memoryFactor;
      if (fromUsage < memEstimate) {
        memEstimate = fromUsage;
        memWhy += `, down to ${measured.length} later successful run${measured.length === 1 ? '' : 's'}' p99 use ${p99Used} MB × ${ARA.memoryFactor}`;
      }
    }
    const memClamped = clamp(Math.ceil(memEstimate), LIMITS.memory.min, memoryMax);
    if (!memOverridden && memClamped > memoryAsk) {
      memoryAsk = memClamped;
      memoryWhy.push(memWhy);
    }
    let cpuEstimate = p99Cpu * ARA.cpuFactor;
    let cpuEstWhy = `${ooms.length} OOM-killed run${ooms.length === 1 ? '' : 's'} in 3 days, p99 ${p99Cpu} × ${ARA.cpuFactor}`;
    const cpuMeasured = measured.filter((r) => r.maxCpuUsed !== null && r.maxCpuUsed > 0);
    if (cpuMeasured.length > 0) {
      const p99Used = percentile(
        cpuMeasured.map((r) => r.maxCpuUsed!),
        99,
      );
      if (p99Used * ARA.cpuFactor < cpuEstimate) {
        cpuEstimate = p99Used * ARA.cpuFactor;
        cpuEstWhy += `, down to p99 use ${p99Used} × ${ARA.cpuFactor}`;
      }
    }
    const cpuClamped = clamp(roundUpTo(cpuEstimate, ARA.cpuStep), LIMITS.cpu.min, cpuMax);
    if (!cpuOverridden && cpuClamped > cpuAsk) {
      cpuAsk = cpuClamped;
      cpuWhy.push(cpuEstWhy);
    }
  }

  if (memoryWhy.length === 0 && cpuWhy.length === 0) {
    const runs = `${ooms.length} OOM-killed run${ooms.length === 1 ? '' : 's'} in 3 days`;
    const note =
      ooms.length > 0
        ? memOverridden && cpuOverridden
          ? ` (${runs}, but the run's overrides win)`
          : ` (${runs} ask for no more)`
        : ' (no OOM-killed runs of this command in 3 days)';
    return { ...base, oomRuns: ooms.length, reason: plain + note };
  }
  const memoryPart = memoryWhy.length
    ? `memory ${memoryAsk} MB: ${memoryWhy.join('; ')} (baseline ${memory} MB from ${memorySource})`
    : `memory ${memory} MB: ${memorySource}`;
  const cpuPart = cpuWhy.length ? `cpu ${cpuAsk}: ${cpuWhy.join('; ')} (baseline ${cpu} from ${cpuNote})` : `cpu ${cpu}: ${cpuNote}`;
  return { cpu: cpuAsk, memory: memoryAsk, baseline, oomRuns: ooms.length, reason: `${memoryPart}; ${cpuPart}` };
}

/** Runs of one executable and command in the last 3 days, newest first (at most 200 read). */
export async function recentRuns(db: DbOrTx, executableId: string, commandHash: string | null, now = new Date()): Promise<PastRun[]> {
  return db
    .select({
      cpu: runs.cpu,
      memory: runs.memory,
      exitCode: runs.exitCode,
      exitReason: runs.exitReason,
      status: runs.status,
      maxMemoryUsed: runs.maxMemoryUsed,
      maxCpuUsed: runs.maxCpuUsed,
      queuedAt: runs.queuedAt,
    })
    .from(runs)
    .where(
      and(
        eq(runs.definitionId, executableId),
        commandHash === null ? isNull(runs.commandHash) : eq(runs.commandHash, commandHash),
        gte(runs.queuedAt, new Date(now.getTime() - ARA.windowMs)),
        eq(runs.status, 'STOPPED'),
        or(eq(runs.exitCode, 137), eq(runs.exitReason, 'OOMKilled'), eq(runs.exitCode, 0)),
      ),
    )
    .orderBy(desc(runs.queuedAt))
    .limit(200);
}

/** The sizing of a run about to be executed. */
export async function sizeRun(db: DbOrTx, input: Omit<SizingInput, 'history'> & { executableId: string; commandHash: string | null }): Promise<Sizing> {
  const wantsHistory = input.adaptive && !(input.gpu && input.gpu > 0) && !(input.override.cpu && input.override.memory);
  const history = wantsHistory ? await recentRuns(db, input.executableId, input.commandHash) : [];
  return computeSizing({ ...input, history });
}
