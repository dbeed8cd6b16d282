// Client-side token bucket, as client-go's default limiter (qps 20, burst 30 in controllers):
// one bucket per cluster so a burst of submits cannot crowd the API server.
import { setTimeout as delay } from 'node:timers/promises';

export interface TokenBucket {
  /** Resolves when a token is available; rejects with the signal's reason when aborted. */
  take(signal?: AbortSignal): Promise<void>;
}

export interface TokenBucketOptions {
  qps: number;
  burst: number;
  now?: () => number;
}

export function createTokenBucket({ qps, burst, now = () => performance.now() }: TokenBucketOptions): TokenBucket {
  if (!(qps > 0) || !(burst >= 1)) throw new Error(`rate limit needs qps > 0 and burst >= 1 (got qps=${qps}, burst=${burst})`);
  let tokens = burst;
  let last = now();
  // Waiters are served in order: each one reserves its token (tokens may go negative) and
  // sleeps until the bucket has refilled up to it.
  return {
    async take(signal?: AbortSignal): Promise<void> {
      signal?.throwIfAborted();
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) * qps) / 1000);
      last = t;
      tokens -= 1;
      if (tokens >= 0) return;
      const waitMs = (-tokens * 1000) / qps;
      try {
        await delay(waitMs, undefined, { signal });
      } catch (err) {
        // Aborted while waiting: the token goes back, and the caller sees why it was aborted.
        tokens += 1;
        throw signal?.aborted ? signal.reason : err;
      }
    },
  };
}
