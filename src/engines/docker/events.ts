// The daemon's event stream for Flotilla's containers, kept open across drops.
import type Docker from 'dockerode';
import type { Logger } from '../../logger.js';
import { LABEL_RUN_ID } from './createBody.js';
import { abortableSleep, ndjson } from '../io.js';

export interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  time?: number;
  timeNano?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Actions that change what inspect says about a run. */
export const WATCHED_ACTIONS = ['create', 'start', 'oom', 'kill', 'die'] as const;

const MAX_RECONNECT_DELAY_MS = 30_000;

/**
 * Calls `onEvent` for each container event carrying the run-id label, one at a time, in
 * order. When the stream drops it reconnects with `since` = the last event's second, so
 * events during the gap are replayed (a few may arrive twice; updates are idempotent).
 * Returns a function that stops watching and waits for the loop to end.
 */
export function watchContainerEvents(docker: Docker, onEvent: (e: DockerEvent) => Promise<void>, logger?: Logger): () => Promise<void> {
  const ac = new AbortController();
  const signal = ac.signal;
  let since = Math.floor(Date.now() / 1000);
  const filters = { type: ['container'], label: [LABEL_RUN_ID], event: [...WATCHED_ACTIONS] };

  const loop = (async () => {
    let delay = 250;
    while (!signal.aborted) {
      try {
        const stream = (await docker.getEvents({ filters, since, abortSignal: signal } as Docker.GetEventsOptions)) as unknown as NodeJS.ReadableStream;
        delay = 250;
        for await (const event of ndjson<DockerEvent>(stream)) {
          if (event.time) since = Math.max(since, event.time);
          try {
            await onEvent(event);
          } catch (err) {
            logger?.warn({ err, event: event.Action, container: event.Actor?.ID }, 'docker event handler failed');
          }
        }
        if (!signal.aborted) logger?.warn('docker event stream ended; reconnecting');
      } catch (err) {
        if (signal.aborted) break;
        logger?.warn({ err, retryInMs: delay }, 'docker event stream failed; reconnecting');
      }
      await abortableSleep(delay, signal);
      delay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
    }
  })();

  return async () => {
    ac.abort();
    await loop;
  };
}
