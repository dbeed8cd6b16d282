// Graceful shutdown in one place, with a hard bound. Installed before start-up (so a signal
// during a migration is handled too). The first SIGTERM/SIGINT runs the registered closers
// in reverse order; the process exits when they are done or when the shutdown timeout
// (FLOTILLA_SHUTDOWN_TIMEOUT) has passed, whichever is first.
//
// Two guarantees do not depend on this thread being able to run JavaScript, because a
// process that hangs is usually one whose main thread is stuck in a synchronous wait:
// - the first signal gives SIGTERM/SIGINT back to the kernel's default action, so a second
//   signal ends the process at once whatever the main thread is doing;
// - a watchdog process (a `sleep` in /bin/sh) SIGKILLs us a second after the timeout, in
//   case even the timeout's timer can never fire. It is killed when we exit normally.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from './logger.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** How long after the timeout the watchdog kills a process whose timers cannot run. */
const WATCHDOG_GRACE_MS = 1000;

export interface Shutdown {
  /** Registers something to close on shutdown; closers run in reverse order of adding. */
  add(close: () => Promise<void>): void;
}

export function installShutdown(logger: Logger, timeoutMs: number): Shutdown {
  const closers: (() => Promise<void>)[] = [];
  let watchdog: ChildProcess | undefined;
  const killWatchdog = () => {
    try {
      watchdog?.kill('SIGKILL');
    } catch {
      // already gone
    }
  };

  const handler = (signal: NodeJS.Signals) => {
    // Back to the default action (terminate) for the next one: Node restores it when the
    // last listener goes.
    for (const s of SIGNALS) process.removeAllListeners(s);
    logger.info({ signal, timeoutMs }, 'shutting down (a second signal exits at once)');
    watchdog = startWatchdog(timeoutMs + WATCHDOG_GRACE_MS, logger);
    process.once('exit', killWatchdog);
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, `shutdown did not finish within ${timeoutMs} ms (FLOTILLA_SHUTDOWN_TIMEOUT); exiting anyway`);
      process.exit(1);
    }, timeoutMs);
    void (async () => {
      for (const close of [...closers].reverse()) {
        try {
          await close();
        } catch (err) {
          logger.error({ err }, 'error during shutdown');
        }
      }
      clearTimeout(timer);
      process.exit(0);
    })();
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    add(close) {
      closers.push(close);
    },
  };
}

function startWatchdog(afterMs: number, logger: Logger): ChildProcess | undefined {
  try {
    const seconds = (afterMs / 1000).toFixed(3);
    const child = spawn('/bin/sh', ['-c', `sleep ${seconds} && kill -9 ${process.pid}`], { stdio: 'ignore' });
    child.on('error', (err) => logger.warn({ err }, 'shutdown watchdog could not start; relying on the timeout alone'));
    child.unref();
    return child;
  } catch (err) {
    logger.warn({ err }, 'shutdown watchdog could not start; relying on the timeout alone');
    return undefined;
  }
}
