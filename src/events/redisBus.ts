// Redis pub/sub bus for production: any API instance hears what any worker published.
// One subscriber connection per process, multiplexed over channels.
import { Redis } from 'ioredis';
import type { EventBus } from './bus.js';
import { channel, type TopicName, type Topics } from './topics.js';
import type { Logger } from '../logger.js';

const PING_TIMEOUT_MS = 1000;
const PUBLISH_TIMEOUT_MS = 1000;

/** Rejects when `promise` has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer ${what} within ${ms} ms`)), ms);
  });
  promise.catch(() => {});
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function createRedisBus(url: string, logger?: Logger): Promise<EventBus> {
  const opts = { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: (n: number) => Math.min(n * 100, 2000) };
  // No offline queue on the publisher: while Redis is away a publish fails at once instead of
  // waiting for the reconnect, so executes, status changes and log flushes (which publish
  // after their commit) go on without Redis. The subscriber keeps its queue: its subscribe
  // commands are worth sending once Redis is back.
  // Auto-pipelining: the publishes of one execute or transition (run.status, runs.changed,
  // runs.queued) leave in one socket write instead of one each.
  const pub = new Redis(url, { ...opts, enableOfflineQueue: false, enableAutoPipelining: true });
  // A payload published on two topics (run.status and runs.changed carry the same event) is
  // serialized once. Payloads are not changed after they are published.
  const serialized = new WeakMap<object, string>();
  const toJson = (payload: object): string => {
    let json = serialized.get(payload);
    if (json === undefined) serialized.set(payload, (json = JSON.stringify(payload)));
    return json;
  };
  const sub = new Redis(url, opts);
  let publishing = true;
  const onError = (err: Error) => logger?.warn({ err: err.message }, 'redis bus connection error');
  pub.on('error', onError);
  sub.on('error', onError);
  await Promise.all([pub.connect(), sub.connect()]);

  const handlers = new Map<string, Set<(payload: unknown) => void>>();
  sub.on('message', (ch: string, message: string) => {
    const set = handlers.get(ch);
    if (!set) return;
    let payload: unknown;
    try {
      payload = JSON.parse(message);
    } catch {
      return;
    }
    for (const h of [...set]) {
      try {
        h(payload);
      } catch {
        // isolate subscribers
      }
    }
  });

  return {
    async publish<T extends TopicName>(topic: T, payload: Topics[T], runId?: string) {
      try {
        // A publish sent just before Redis went away would otherwise wait for the reconnect.
        await within(pub.publish(channel(topic, runId), toJson(payload)), PUBLISH_TIMEOUT_MS, 'PUBLISH');
        if (!publishing) logger?.info('redis bus publishing again');
        publishing = true;
      } catch (err) {
        // Best effort: Postgres holds the truth and every consumer also polls or backfills.
        // Said once per outage, not once per event.
        if (publishing) logger?.warn({ err: (err as Error).message, topic }, 'events not published until Redis answers; followers poll Postgres meanwhile');
        publishing = false;
      }
    },
    subscribe<T extends TopicName>(topic: T, handler: (payload: Topics[T]) => void, runId?: string) {
      const key = channel(topic, runId);
      let set = handlers.get(key);
      if (!set) {
        handlers.set(key, (set = new Set()));
        sub.subscribe(key).catch((err: Error) => logger?.warn({ err: err.message, key }, 'subscribe failed'));
      }
      const h = handler as (payload: unknown) => void;
      set.add(h);
      return () => {
        set.delete(h);
        if (set.size === 0) {
          handlers.delete(key);
          sub.unsubscribe(key).catch(() => {});
        }
      };
    },
    async ping() {
      // A command in flight when Redis went away waits for the reconnect, so bound the wait.
      await within(pub.ping(), PING_TIMEOUT_MS, 'PING');
    },
    async close() {
      handlers.clear();
      await Promise.allSettled([pub.quit(), sub.quit()]);
      pub.disconnect();
      sub.disconnect();
    },
  };
}
