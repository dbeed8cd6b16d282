// Real processes in tests: `flotilla serve` / `flotilla worker` children, and looking at
// process groups through /proc.
import { readdirSync, readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));

export interface FlotillaProcess {
  child: ChildProcess;
  /** Base URL (serve only). */
  url?: string;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `flotilla <role>`; resolves once it is ready (serve: listening; worker: loops started). */
export async function startFlotilla(role: 'serve' | 'worker', env: Record<string, string>, timeoutMs = 30_000): Promise<FlotillaProcess> {
  const child = spawn(process.execPath, [BIN, role], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let url: string | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`flotilla ${role} not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (b: Buffer) => {
      out += b.toString();
      const ready = role === 'serve' ? /"url":"(http:[^"]+)".*flotilla API listening/.exec(out) : /workers started/.test(out);
      if (ready) {
        if (role === 'serve') url = (ready as RegExpExecArray)[1];
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`flotilla ${role} exited (${code}) before it was ready:\n${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** Live (non-zombie) processes whose process group is `pgid`, from /proc. */
export function processGroupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && Number(fields[2]) === pgid) out.push(Number(entry));
  }
  return out;
}

/** The pid in a local engine ref (`<host>:<pid>`); it leads the run's process group. */
export function pidOfLocalRef(engineRef: string | null | undefined): number {
  const pid = Number(engineRef?.split(':').pop());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`not a local engine ref: ${engineRef}`);
  return pid;
}
