import { createLogger, type ScriptClient } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from './breaker';
import { bulkhead } from './bulkhead';
import { InvalidArgumentError, isInvalidArgumentError } from './errors';
import { fallback } from './fallback';
import type { Policy, PolicyFn } from './policy';
import { rateLimit } from './rate-limit';
import { redisRateLimit } from './redis-rate-limit';
import { retry } from './retry';
import { RetryBudget } from './retry-budget';
import { timeout } from './timeout';
import { wrap } from './wrap';

const quiet = createLogger({ level: 'silent' });
const BAD: unknown[] = [42, undefined, null, 'fetchUsers', { call: () => {} }];

async function refusal(policy: Policy, fn: unknown): Promise<unknown> {
  return policy.execute(fn as PolicyFn<unknown>).then(
    () => expect.unreachable('a non-function ran'),
    (error: unknown) => error,
  );
}

describe('a non-function handed to a policy', () => {
  it.each(BAD)('CircuitBreaker.execute(%o): typed error, nothing counted, no timer', async (bad) => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ name: 'users', clock, logger: quiet, volumeThreshold: 1 });
    const error = await refusal(breaker, bad);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', where: 'CircuitBreaker.execute', argument: 'fn' });
    expect(breaker.totals).toEqual({ success: 0, failure: 0, timeout: 0, rejected: 0, shed: 0, cancelled: 0 });
    expect(breaker.state).toBe('closed'); // one "failure" would have opened it
    expect(clock.pendingCount).toBe(0);
  });

  it('names what it received', async () => {
    const breaker = new CircuitBreaker({ logger: quiet });
    const error = (await refusal(breaker, 42)) as Error;
    expect(error.message).toBe('CircuitBreaker.execute: fn must be a function, received number 42');
  });

  it('retry: rejected once, never retried', async () => {
    const policy = retry({ maxRetries: 3, backoff: false });
    const retried = vi.fn();
    const gaveUp = vi.fn();
    policy.onRetry(retried);
    policy.onGiveUp(gaveUp);
    expect(await refusal(policy, 42)).toMatchObject({ where: 'RetryPolicy.execute', argument: 'fn' });
    expect(retried).not.toHaveBeenCalled();
    expect(gaveUp).not.toHaveBeenCalled();
  });

  it('a retry budget is not charged for it', async () => {
    const budget = new RetryBudget({ clock: new FakeClock() });
    await refusal(retry({ budget }), null);
    expect(budget.stats).toEqual({ requests: 0, retries: 0 });
  });

  it.each([
    ['TimeoutPolicy.execute', () => timeout({ timeoutMs: 100, clock: new FakeClock() })],
    ['BulkheadPolicy.execute', () => bulkhead(1)],
    ['FallbackPolicy.execute', () => fallback('fallback value', { logger: quiet })],
    ['TokenBucketLimiter.execute', () => rateLimit({ limit: 1 })],
    ['PolicyWrap.execute', () => wrap(retry({ backoff: false }), timeout(1_000))],
  ] as const)('%s rejects with InvalidArgumentError (a fallback does not answer it)', async (where, make) => {
    const error = await refusal(make(), undefined);
    expect(isInvalidArgumentError(error)).toBe(true);
    expect(error).toMatchObject({ where, argument: 'fn', received: 'undefined' });
  });

  it('a rate limiter takes no token for it; the Redis one sends no command', async () => {
    const limiter = rateLimit({ limit: 1 });
    await refusal(limiter, 1);
    expect(limiter.available()).toBe(1);
    const redis = { evalsha: vi.fn(), eval: vi.fn() } as unknown as ScriptClient;
    const distributed = redisRateLimit({ redis, name: 'api', limit: 1 });
    expect(await refusal(distributed, 1)).toMatchObject({ where: 'RedisRateLimiter.execute' });
    expect(await refusal(distributed.limitFor('alice'), 1)).toMatchObject({ where: 'RedisRateLimiter.execute' });
    expect(redis.evalsha).not.toHaveBeenCalled();
    expect(redis.eval).not.toHaveBeenCalled();
  });

  it('inside a wrap, no layer runs: the breaker counts nothing, the retry does not retry', async () => {
    const breaker = new CircuitBreaker({ logger: quiet, volumeThreshold: 1 });
    const policy = retry({ backoff: false });
    const retried = vi.fn();
    policy.onRetry(retried);
    expect(isInvalidArgumentError(await refusal(wrap(policy, breaker), 42))).toBe(true);
    expect(retried).not.toHaveBeenCalled();
    expect(breaker.totals.failure).toBe(0);
  });

  it('breaker.wrap() and wrap() check at once, synchronously', () => {
    const breaker = new CircuitBreaker({ logger: quiet });
    expect(() => breaker.wrap(42 as never)).toThrow(InvalidArgumentError);
    expect(() => breaker.wrap(42 as never)).toThrow('CircuitBreaker.wrap: fn must be a function, received number 42');
    expect(() => wrap(breaker, 42 as never)).toThrow(
      'wrap: policies[1] must be a policy (with an execute method), received number 42',
    );
    expect(() => wrap(undefined as never)).toThrow(/policies\[0\]/);
  });
});
