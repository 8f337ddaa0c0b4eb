/**
 * RetryBudget: retries granted as ratio · requests + a per-second floor over a sliding window, and the cap it
 * puts on a retry policy.
 */
import { InvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { retry } from './retry';
import { RetryBudget, retryBudget } from './retry-budget';

describe('RetryBudget', () => {
  it('with ratio 0.2 and no floor grants 2 retries after 10 requests', () => {
    const clock = new FakeClock();
    const budget = retryBudget({ ratio: 0.2, minRetriesPerSecond: 0, clock });
    for (let i = 0; i < 10; i++) budget.onRequest();
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([true, true, false]);
    expect(budget.stats).toEqual({ requests: 10, retries: 2 });
  });

  it('limits a retry policy: 10 failing calls make 12 tries, not 40', async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 0, clock });
    const policy = retry({ maxRetries: 3, backoff: false, budget });
    const gaveUp: number[] = [];
    policy.onGiveUp((e) => gaveUp.push(e.attempt));
    let tries = 0;
    const calls = Array.from({ length: 10 }, () =>
      policy.execute(() => {
        tries++;
        throw new Error('down');
      }),
    );
    const results = await Promise.allSettled(calls);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(tries).toBe(12);
    expect(budget.stats).toEqual({ requests: 10, retries: 2 });
    expect(gaveUp).toHaveLength(10);
  });

  it('allows minRetriesPerSecond retries even without requests', () => {
    const clock = new FakeClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 3_000, clock });
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('forgets requests and retries once they leave the window', async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ ratio: 0.2, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    for (let i = 0; i < 10; i++) budget.onRequest();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);

    await clock.advance(900); // still inside the window
    expect(budget.stats).toEqual({ requests: 10, retries: 2 });
    expect(budget.tryRetry()).toBe(false);

    await clock.advance(100); // the whole window has passed
    expect(budget.stats).toEqual({ requests: 0, retries: 0 });
    expect(budget.tryRetry()).toBe(false); // no requests, no floor

    for (let i = 0; i < 5; i++) budget.onRequest();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
  });

  it('slides: old slots expire one by one', async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    budget.onRequest(); // t=0
    await clock.advance(500);
    budget.onRequest(); // t=500
    expect(budget.stats.requests).toBe(2);
    await clock.advance(500); // t=1000: the t=0 slot is gone
    expect(budget.stats.requests).toBe(1);
    await clock.advance(500); // t=1500: the t=500 slot is gone
    expect(budget.stats.requests).toBe(0);
  });

  it('survives a jump far past the window', async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ ratio: 0.5, minRetriesPerSecond: 0, windowMs: 1_000, clock });
    for (let i = 0; i < 4; i++) budget.onRequest();
    expect(budget.tryRetry()).toBe(true);
    await clock.advance(1_000_000);
    expect(budget.stats).toEqual({ requests: 0, retries: 0 });
    budget.onRequest();
    budget.onRequest();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
  });

  it('validates its options', () => {
    expect(() => retryBudget({ ratio: -1 })).toThrow(InvalidOptionsError);
    expect(() => retryBudget({ windowMs: 0 })).toThrow(/windowMs/);
  });
});
