// Small I/O helpers the engines share (engines import nothing else from Flotilla but
// types.ts, errors.ts and this file).
import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`, or less when `signal` aborts; never rejects (an abort just ends the wait). */
export async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // aborted: the caller checks the signal
  }
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
