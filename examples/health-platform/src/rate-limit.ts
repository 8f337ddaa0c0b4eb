/**
 * The gateway's per-client rate limit (standing in for seed 001's Kong plugin): @ballast/circuit-breaker's
 * Redis GCRA limiter (one Lua call per decision, shared by every gateway instance), or its local token
 * bucket when the demo runs without Redis.
 */
import { RedisRateLimiter, TokenBucketLimiter } from '@ballast/circuit-breaker';
import { type RedisClient, systemClock } from '@ballast/core';

export interface ClientLimiter {
  readonly kind: 'redis' | 'memory';
  check(client: string): Promise<{ allowed: boolean; retryAfterMs: number }>;
}

export function createClientLimiter(options: {
  redis: RedisClient | undefined;
  prefix: string;
  limit: number;
  burst: number;
}): ClientLimiter {
  if (options.redis) {
    const limiter = new RedisRateLimiter({
      redis: options.redis,
      // The settings are part of the name: after a reload, GCRA state earned under the old limit (a
      // theoretical arrival time far ahead at 1/s) must not hold clients back under the new one.
      name: `api-gateway:${options.limit}:${options.burst}`,
      limit: options.limit,
      burst: options.burst,
      prefix: options.prefix,
    });
    return { kind: 'redis', check: (client) => limiter.check(client) };
  }
  const buckets = new Map<string, TokenBucketLimiter>();
  return {
    kind: 'memory',
    check: async (client) => {
      let bucket = buckets.get(client);
      if (!bucket) {
        bucket = new TokenBucketLimiter({
          name: 'api-gateway',
          limit: options.limit,
          intervalMs: 1_000,
          burst: options.burst,
          clock: systemClock,
        });
        buckets.set(client, bucket);
      }
      return bucket.tryAcquire();
    },
  };
}
