// A background loop: runs `tick` every `intervalMs`, at once when woken, and again right
// away while `tick` reports more work. Errors are logged and backed off, never thrown.
import type { Logger } from '../logger.js';

export interface Loop {
  readonly name: string;
  wake(): void;
  stop(): Promise<void>;
}

export function startLoop(opts: {
  name: string;
  intervalMs: number;
  logger: Logger;
  /** Returns true when there is more work to do now. */
  tick: (signal: AbortSignal) => Promise<boolean>;
}): Loop {
  const ac = new AbortController();
  let wakeUp: (() => void) | undefined;
  let woken = false;
  let failures = 0;

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || ac.signal.aborted) {
        woken = false;
        return resolve();
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        woken = false;
        resolve();
      }
      wakeUp = done;
    });

  const running = (async () => {
    while (!ac.signal.aborted) {
      let more = false;
      try {
        more = await opts.tick(ac.signal);
        failures = 0;
      } catch (err) {
        failures++;
        opts.logger.error({ err, loop: opts.name, failures }, 'worker loop tick failed');
      }
      if (ac.signal.aborted) break;
      if (more) continue;
      // Back off after repeated failures (e.g. the database is down) instead of spinning.
      await wait(failures ? Math.min(30_000, opts.intervalMs * 2 ** Math.min(failures, 5)) : opts.intervalMs);
    }
  })();

  return {
    name: opts.name,
    wake() {
      woken = true;
      wakeUp?.();
    },
    async stop() {
      ac.abort();
      wakeUp?.();
      await running;
    },
  };
}
