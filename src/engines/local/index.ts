// The `local` engine: `bash -c <command>` (or `sh -c`) as a detached process group in a
// per-run directory. A small shell wrapper starts it through a launcher (tagger.ts) that
// stores stdout and stderr in one file in the exact order they were written, then writes the
// exit code to a file, so a run outlives the worker that started it: after a worker restart
// its logs resume from byte offsets and its exit code is still known. Only a run whose
// process is gone without an exit file is lost (NEEDS_RETRY, per docs/engines.md).
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PermanentEngineError, RetryableEngineError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Engine, EngineRun, LogChunk, MissingRun, StatusUpdate, SubmitResult } from '../types.js';
import { followFiles, followMerged, parseCursor } from './follow.js';
import { LAUNCHER } from './tagger.js';
import { createSpawner, type Spawned } from './spawner.js';

export interface LocalEngineConfig {
  /** Parent of the per-run directories. */
  workdir?: string;
  /** Time between SIGTERM and SIGKILL on terminate. */
  graceMs?: number;
}

interface RunFiles {
  dir: string;
  work: string;
  stdout: string;
  stderr: string;
  /** Both streams merged in write order (tagger.ts); runs started before it have stdout/stderr. */
  output: string;
  exit: string;
  pid: string;
}

const SHELL = existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';

/**
 * GNU time, where installed, measures the command: peak resident memory (KB) and cpu seconds,
 * written to the run's `usage` file (the last line; a line before it may say how it ended).
 */
function gnuTime(): string | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const probe = spawnSync('/usr/bin/time', ['-f', '%M', '-o', '/dev/null', 'true'], { stdio: 'ignore', timeout: 5000 });
  return probe.status === 0 ? '/usr/bin/time' : undefined;
}
const TIME = gnuTime();
const MEASURE = TIME ? `"${TIME}" -f '%M %e %U %S' -o "$2/usage" ` : '';

/**
 * The kernel's count of OOM kills in this process's memory cgroup (v2 memory.events, v1
 * memory.oom_control); undefined where neither can be read. A run that ends with SIGKILL
 * while the count rose was OOM-killed.
 */
async function oomKills(): Promise<number | undefined> {
  for (const file of ['/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control']) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(await readFile(file, 'utf8'));
      if (m) return Number(m[1]);
    } catch {
      // not this cgroup layout
    }
  }
  return undefined;
}

// $1 = command, $2 = run directory, $3 = host, $4 = start time, $5 = the launcher program.
// The wrapper writes the pid file itself before the command runs: a worker killed right after
// spawn leaves a run the next submit recognises (and adopts) instead of launching it again.
// The launcher returns once the command has exited and its last line is stored, so the exit
// file always means "all output is in the file". The pid and exit files are renamed into
// place so a reader never sees them half written.
const WRAPPER =
  `printf '{"pid":%s,"host":"%s","startedAt":"%s"}' "$$" "$3" "$4" >"$2/pid.tmp" && mv "$2/pid.tmp" "$2/pid"; ` +
  `${MEASURE}perl -e "$5" "$2" "${SHELL}" "$1" </dev/null; code=$?; echo $code >"$2/exit.tmp"; mv "$2/exit.tmp" "$2/exit"`;

/** Long enough for the submitter to record PENDING first; a push that still loses is covered by reconcile. */
const RUNNING_PUSH_DELAY_MS = 200;

export function exitReasonFor(code: number): string {
  if (code === 0) return 'Exited successfully';
  if (code > 128 && code < 160) return `Error: killed by signal ${code - 128}`;
  return `Error: exited with code ${code}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether anything of the run's process group is left. A stop's SIGTERM ends the wrapper
 * (the leader) at once, while the command may go on writing output as it shuts down, or
 * ignore TERM until the SIGKILL.
 */
function groupAlive(pgid: number): boolean {
  return isAlive(-pgid);
}

export function createLocalEngine(config: LocalEngineConfig = {}, deps: { logger?: Logger } = {}): Engine {
  const root = resolve(config.workdir ?? join(tmpdir(), 'flotilla-local'));
  const graceMs = config.graceMs ?? 5000;
  const host = hostname();
  const listeners = new Set<(u: StatusUpdate) => void>();
  const timers = new Set<NodeJS.Timeout>();
  const spawner = createSpawner();

  const files = (runId: string): RunFiles => {
    if (!/^[A-Za-z0-9_.-]+$/.test(runId)) throw new PermanentEngineError(`run id ${runId} is not a safe directory name`);
    const dir = join(root, runId);
    return {
      dir,
      work: join(dir, 'work'),
      stdout: join(dir, 'stdout'),
      stderr: join(dir, 'stderr'),
      output: join(dir, 'output'),
      exit: join(dir, 'exit'),
      pid: join(dir, 'pid'),
    };
  };

  async function readExit(f: RunFiles): Promise<number | undefined> {
    try {
      const n = Number.parseInt((await readFile(f.exit, 'utf8')).trim(), 10);
      return Number.isNaN(n) ? undefined : n;
    } catch {
      return undefined;
    }
  }

  async function readPid(f: RunFiles): Promise<{ pid: number; host: string; startedAt: Date } | undefined> {
    try {
      const v = JSON.parse(await readFile(f.pid, 'utf8')) as { pid: number; host: string; startedAt: string };
      return { pid: v.pid, host: v.host, startedAt: new Date(v.startedAt) };
    } catch {
      return undefined;
    }
  }

  /** The final update: exit, OOM kill (SIGKILL while the cgroup's OOM kill count rose), measured peaks. */
  async function stopped(f: RunFiles, runId: string, code: number, finishedAt = new Date()): Promise<StatusUpdate> {
    const update: StatusUpdate = { runId, status: 'STOPPED', exitCode: code, exitReason: exitReasonFor(code), finishedAt };
    // The start time says the process ran, also to a reader that never saw it RUNNING.
    const pid = await readPid(f);
    if (pid) update.startedAt = pid.startedAt;
    if (code === 137) {
      const before = Number.parseInt(await readFile(join(f.dir, 'oom_before'), 'utf8').catch(() => ''), 10);
      const now = await oomKills();
      if (Number.isInteger(before) && now !== undefined && now > before) update.exitReason = 'OOMKilled';
    }
    const usage = await readFile(join(f.dir, 'usage'), 'utf8').catch(() => '');
    const m = /(\d+) ([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(usage);
    if (m) {
      const [kb, elapsed, user, sys] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
      update.usage = { maxMemoryMb: Math.max(1, Math.ceil(kb / 1024)) };
      // Average over the run (GNU time has no peak): cpu seconds per second, in cpu units.
      if (user + sys > 0) update.usage.maxCpu = Math.max(1, Math.round(((user + sys) / Math.max(elapsed, 0.01)) * 1024));
    }
    return update;
  }

  async function statusOf(run: EngineRun): Promise<StatusUpdate | MissingRun | undefined> {
    const f = files(run.runId);
    const code = await readExit(f);
    if (code !== undefined) return stopped(f, run.runId, code);
    const pid = await readPid(f);
    if (!pid) return { runId: run.runId, missing: true };
    // A process on another host is not ours to judge.
    if (pid.host !== host) return undefined;
    if (isAlive(pid.pid)) return { runId: run.runId, status: 'RUNNING', startedAt: pid.startedAt, engineRef: `${pid.host}:${pid.pid}` };
    // The exit file may land just after the process ends; look once more before calling it lost.
    await sleep(50);
    const late = await readExit(f);
    if (late !== undefined) return stopped(f, run.runId, late);
    return { runId: run.runId, status: 'NEEDS_RETRY', exitReason: 'Lost: the process running it ended' };
  }

  const engine: Engine = {
    name: 'local',

    async submit(run: EngineRun): Promise<SubmitResult> {
      const f = files(run.runId);
      const existing = await readPid(f);
      if (existing && existing.host === host) {
        const code = await readExit(f);
        const ref = `${existing.host}:${existing.pid}`;
        if (code !== undefined) return { engineRef: ref, status: 'STOPPED', startedAt: existing.startedAt, exitCode: code, exitReason: exitReasonFor(code) };
        if (isAlive(existing.pid)) return { engineRef: ref, status: 'RUNNING', startedAt: existing.startedAt };
        // A previous attempt died before finishing: start over in a clean directory.
        await rm(f.dir, { recursive: true, force: true });
      } else if (existsSync(f.dir)) {
        await rm(f.dir, { recursive: true, force: true });
      }
      await mkdir(f.work, { recursive: true });
      const oomBefore = await oomKills();
      await Promise.all([writeFile(f.output, ''), ...(oomBefore === undefined ? [] : [writeFile(join(f.dir, 'oom_before'), String(oomBefore))])]);
      const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: f.work };
      for (const e of run.env) env[e.name] = e.value;
      const command = run.command ?? 'true';
      const startedAt = new Date();
      let child: Spawned;
      try {
        child = await spawner.spawn('/bin/sh', ['-c', WRAPPER, `flotilla-${run.runId}`, command, f.dir, host, startedAt.toISOString(), LAUNCHER], {
          cwd: f.work,
          env,
          detached: true,
        });
      } catch (err) {
        throw new RetryableEngineError(`could not start process: ${(err as Error).message}`, { cause: err });
      }
      const pid = child.pid;
      // Listen before any await: a short command can exit while the pid file is written.
      // Pushes wait until just after this submit is recorded (PENDING), so the timeline reads
      // QUEUED → PENDING → RUNNING → STOPPED as on the other engines, also for a command
      // that exits at once; reconcile covers a push that still loses the race.
      let recorded!: () => void;
      const submitRecorded = new Promise<void>((r) => (recorded = r));
      let runningPushed = false;
      const push = (update: StatusUpdate) => {
        // Names the process, so a late push about an earlier attempt's process is told apart
        // from the current attempt (the run may have been retried by the time it arrives).
        update.engineRef = `${host}:${pid}`;
        for (const l of listeners) l(update);
      };
      const pushRunning = () => {
        if (runningPushed) return;
        runningPushed = true;
        push({ runId: run.runId, status: 'RUNNING', startedAt });
      };
      void child.exited.then(() => {
        void Promise.all([readExit(f), submitRecorded]).then(async ([code]) => {
          if (code === undefined) return push({ runId: run.runId, status: 'NEEDS_RETRY', exitReason: 'Lost: the process running it ended' });
          pushRunning();
          push(await stopped(f, run.runId, code));
        });
      });
      // Status and log readers look for the pid file, so it is there before submit returns.
      // The pid is known now: writing the file here (the same content the wrapper writes
      // first thing) costs a write instead of waiting for a shell to start under load. The
      // wrapper's own copy still covers a worker killed between the spawn and this write.
      const pidTmp = join(f.dir, 'pid.submit.tmp');
      await writeFile(pidTmp, JSON.stringify({ pid, host, startedAt: startedAt.toISOString() }));
      await rename(pidTmp, f.pid);
      // Launched: PENDING until just after the submit is recorded, then RUNNING while it lives.
      const timer = setTimeout(() => {
        timers.delete(timer);
        recorded();
        if (!existsSync(f.exit)) pushRunning();
      }, RUNNING_PUSH_DELAY_MS);
      timer.unref();
      timers.add(timer);
      return { engineRef: `${host}:${pid}`, status: 'PENDING', startedAt };
    },

    async reconcile(runs: EngineRun[]) {
      const out: (StatusUpdate | MissingRun)[] = [];
      for (const run of runs) {
        const s = await statusOf(run);
        if (s) out.push(s);
      }
      return out;
    },

    watch(onUpdate) {
      listeners.add(onUpdate);
      return async () => {
        listeners.delete(onUpdate);
      };
    },

    async *logs(run: EngineRun, cursor: string | null, signal: AbortSignal): AsyncIterable<LogChunk> {
      const f = files(run.runId);
      const done = async () => (await readExit(f)) !== undefined || !(await isRunning(f));
      if (existsSync(f.output)) {
        yield* followMerged(f.output, cursor, done, signal);
        return;
      }
      // A run started by an earlier version: separate files, stdout first.
      yield* followFiles(
        { stdout: f.stdout, stderr: f.stderr },
        parseCursor(cursor),
        async () => (await readExit(f)) !== undefined || !(await isRunning(f)),
        signal,
      );
    },

    async terminate(run: EngineRun): Promise<void> {
      const f = files(run.runId);
      const pid = await readPid(f);
      if (!pid || pid.host !== host || !groupAlive(pid.pid)) return;
      const signalGroup = (sig: NodeJS.Signals) => {
        try {
          process.kill(-pid.pid, sig);
        } catch {
          // already gone
        }
      };
      signalGroup('SIGTERM');
      // The group, not its leader: SIGTERM ends the wrapper shell at once, while a command
      // that traps TERM lives on in the group and must still get the SIGKILL.
      const timer = setTimeout(() => {
        timers.delete(timer);
        signalGroup('SIGKILL');
      }, graceMs);
      timer.unref();
      timers.add(timer);
    },

    async release(run: EngineRun): Promise<void> {
      await rm(files(run.runId).dir, { recursive: true, force: true });
    },

    async describe() {
      return { clusters: ['local'], capabilities: ['bash', `host:${host}`] };
    },

    async close() {
      listeners.clear();
      await spawner.close();
      deps.logger?.debug('local engine closed; running processes continue');
    },
  };

  async function isRunning(f: RunFiles): Promise<boolean> {
    const pid = await readPid(f);
    return pid !== undefined && pid.host === host && groupAlive(pid.pid);
  }

  return engine;
}
