import { channel, type Topics, type TopicName } from './topics.js';

export type Unsubscribe = () => void;

/**
 * Fan-out of events after commit. Delivery is best effort: subscribers that need every
 * item (log followers) detect gaps by `seq` and read the rest from Postgres.
 */
export interface EventBus {
  publish<T extends TopicName>(topic: T, payload: Topics[T], runId?: string): Promise<void>;
  subscribe<T extends TopicName>(topic: T, handler: (payload: Topics[T]) => void, runId?: string): Unsubscribe;
  /** Resolves when the transport answers (for /health/ready); rejects when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export { channel };
