// Graceful shutdown in one place: the first SIGTERM/SIGINT runs the registered closers in
// reverse order; a second signal exits at once.
import type { Logger } from './logger.js';

export function onShutdown(logger: Logger, closers: (() => Promise<void>)[]): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void (async () => {
      for (const close of [...closers].reverse()) {
        try {
          await close();
        } catch (err) {
          logger.error({ err }, 'error during shutdown');
        }
      }
      process.exit(0);
    })();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
