import { pino, type Logger } from 'pino';

export type { Logger };

/** How long a log write may wait for a full stdout (a reader that stopped reading). */
const STALL_LIMIT_MS = 1000;

/**
 * JSON lines on stdout. pino writes synchronously, and on a full non-blocking pipe its writer
 * (sonic-boom) retries EAGAIN forever, sleeping with Atomics.wait on the main thread: a
 * process whose log reader stopped reading froze there, deaf to every signal, and pino's own
 * flush at exit froze the same way. Here a write that has waited STALL_LIMIT_MS gives up:
 * those lines are dropped (counted in the next line that gets through) rather than the
 * process hanging.
 */
export function createLogger(level: string = 'info', bindings: Record<string, unknown> = {}): Logger {
  // Set at the first EAGAIN of a stall, cleared by the next write that goes through: once a
  // stall has lasted STALL_LIMIT_MS, later writes give up at once until stdout drains.
  let stalledSince: number | undefined;
  let failed = false;
  let dropped = 0;
  const destination = pino.destination({
    dest: 1,
    sync: true,
    // Bounded memory while stdout is stuck: sonic-boom drops what exceeds this.
    maxLength: 16 * 1024 * 1024,
    retryEAGAIN: () => {
      stalledSince ??= Date.now();
      return Date.now() - stalledSince < STALL_LIMIT_MS;
    },
  });
  // A write that gave up is reported as an error on the destination; it is not fatal.
  destination.on('error', () => {
    failed = true;
  });
  return pino(
    {
      level,
      base: { ...bindings },
      hooks: {
        logMethod(args, method) {
          if (dropped > 0 && stalledSince === undefined) {
            const n = dropped;
            dropped = 0;
            method.call(this, { droppedWrites: n }, `stdout was full for over ${STALL_LIMIT_MS} ms: ${n} log write(s) dropped`);
          }
          failed = false;
          method.apply(this, args);
          if (failed) dropped++;
          else stalledSince = undefined;
        },
      },
    },
    destination,
  );
}

/** For tests and library use: a logger that writes nothing. */
export const silentLogger: Logger = pino({ level: 'silent' });
