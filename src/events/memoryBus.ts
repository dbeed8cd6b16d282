// In-process bus for the embedded mode (one process holds API and workers).
import type { EventBus } from './bus.js';
import { channel, type TopicName, type Topics } from './topics.js';

export function createMemoryBus(): EventBus {
  const handlers = new Map<string, Set<(payload: unknown) => void>>();
  return {
    async publish<T extends TopicName>(topic: T, payload: Topics[T], runId?: string) {
      const set = handlers.get(channel(topic, runId));
      if (!set) return;
      for (const h of [...set]) {
        try {
          h(payload);
        } catch {
          // A failing subscriber must not break the publisher or the others.
        }
      }
    },
    subscribe<T extends TopicName>(topic: T, handler: (payload: Topics[T]) => void, runId?: string) {
      const key = channel(topic, runId);
      let set = handlers.get(key);
      if (!set) handlers.set(key, (set = new Set()));
      const h = handler as (payload: unknown) => void;
      set.add(h);
      return () => {
        set.delete(h);
        if (set.size === 0) handlers.delete(key);
      };
    },
    async ping() {},
    async close() {
      handlers.clear();
    },
  };
}
