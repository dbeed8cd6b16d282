// Small I/O helpers the engines share (engines import nothing else from Flotilla but
// types.ts, errors.ts and this file). The waits are the only ones in src/: the worker loops
// and the live and log services wait with them too.
import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`, or less when `signal` aborts; never rejects (an abort just ends the wait). */
export async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return;
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // aborted: the caller checks the signal
  }
}

/** A wait that `wake()` can end early: a loop between passes, a follower between polls. */
export interface Waker {
  /** Ends the wait under way; with none under way, the next wait returns at once. */
  wake(): void;
  /** Waits `ms`, or less when woken or when `signal` aborts; never rejects. One waiter at a time. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
}

export function createWaker(): Waker {
  let woken = false;
  let current: AbortController | undefined;
  return {
    wake() {
      woken = true;
      current?.abort();
    },
    async wait(ms, signal) {
      if (!woken && !signal?.aborted) {
        const waiting = (current = new AbortController());
        const stop = () => waiting.abort();
        signal?.addEventListener('abort', stop, { once: true });
        await abortableSleep(ms, waiting.signal);
        signal?.removeEventListener('abort', stop);
        current = undefined;
      }
      woken = false;
    },
  };
}

/**
 * The JSON values of a newline-delimited JSON stream (Docker's events and pull progress),
 * blank lines skipped. A character split across chunks is decoded whole.
 */
export async function* ndjson<T>(stream: AsyncIterable<unknown>): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const data of stream) {
    rest += typeof data === 'string' ? data : decoder.decode(data as Uint8Array, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
}
