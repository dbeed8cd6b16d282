// Redis pub/sub bus for production: any API instance hears what any worker published.
// One subscriber connection per process, multiplexed over channels.
import { Redis } from 'ioredis';
import type { EventBus } from './bus.js';
import { channel, type TopicName, type Topics } from './topics.js';
import type { Logger } from '../logger.js';

const PING_TIMEOUT_MS = 1000;

export async function createRedisBus(url: string, logger?: Logger): Promise<EventBus> {
  const opts = { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: (n: number) => Math.min(n * 100, 2000) };
  const pub = new Redis(url, opts);
  const sub = new Redis(url, opts);
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
        await pub.publish(channel(topic, runId), JSON.stringify(payload));
      } catch (err) {
        // Best effort: Postgres holds the truth and every consumer also polls or backfills.
        logger?.warn({ err: (err as Error).message, topic }, 'event not published');
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
      // Commands queue while Redis is away (maxRetriesPerRequest: null), so bound the wait.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`redis did not answer PING within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
      });
      const answer = pub.ping();
      answer.catch(() => {});
      try {
        await Promise.race([answer, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      handlers.clear();
      await Promise.allSettled([pub.quit(), sub.quit()]);
      pub.disconnect();
      sub.disconnect();
    },
  };
}
