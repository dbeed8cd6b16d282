// Starts processes off the main thread. A spawn blocks its thread until the child has
// exec'd (libuv waits on a pipe for it), which under load takes milliseconds a run: on the
// worker's event loop that was a quarter of its time at full dispatch load. Here the spawns
// run on a few small threads, and the main thread only hears the pid and, later, the exit.
import { Worker } from 'node:worker_threads';

const THREAD = String.raw`
const { parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
parentPort.on('message', ({ id, file, args, options }) => {
  let child;
  try {
    child = spawn(file, args, options);
  } catch (err) {
    return parentPort.postMessage({ id, error: String(err && err.message) });
  }
  if (child.pid === undefined) {
    return child.once('error', (err) => parentPort.postMessage({ id, error: String(err && err.message) }));
  }
  child.on('error', () => {});
  parentPort.postMessage({ id, pid: child.pid });
  child.once('exit', () => parentPort.postMessage({ id, exited: true }));
});
`;

export interface Spawned {
  pid: number;
  /** Resolves when the process has exited (it is this process's child, so its exit is seen at once). */
  exited: Promise<void>;
}

export interface Spawner {
  spawn(file: string, args: string[], options: { cwd: string; env: Record<string, string>; detached: boolean }): Promise<Spawned>;
  close(): Promise<void>;
}

export function createSpawner(threads = 2): Spawner {
  let workers: Worker[] | undefined;
  let next = 0;
  let ids = 0;
  const waiting = new Map<number, { started: (s: Spawned) => void; failed: (err: Error) => void; exit?: () => void }>();

  const onMessage = (m: { id: number; pid?: number; error?: string; exited?: boolean }) => {
    const w = waiting.get(m.id);
    if (!w) return;
    if (m.error !== undefined) {
      waiting.delete(m.id);
      w.failed(new Error(m.error));
    } else if (m.pid !== undefined) {
      w.started({ pid: m.pid, exited: new Promise<void>((resolve) => (w.exit = resolve)) });
    } else if (m.exited) {
      waiting.delete(m.id);
      w.exit?.();
    }
  };

  // Started on the first spawn: an engine that never launches anything costs no thread.
  const pool = () =>
    (workers ??= Array.from({ length: threads }, () => {
      const w = new Worker(THREAD, { eval: true });
      w.on('message', onMessage);
      // The children outlive the worker process (detached), and so must not hold it open.
      w.unref();
      return w;
    }));

  return {
    spawn(file, args, options) {
      const id = ++ids;
      const worker = pool()[next++ % threads]!;
      return new Promise<Spawned>((started, failed) => {
        waiting.set(id, { started, failed });
        worker.postMessage({ id, file, args, options: { ...options, stdio: 'ignore' } });
      });
    },
    async close() {
      const all = workers ?? [];
      workers = undefined;
      await Promise.all(all.map((w) => w.terminate()));
    },
  };
}
