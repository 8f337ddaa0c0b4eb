import { AbortedError, InvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it, vi } from 'vitest';
import { isRateLimitedError, RateLimitedError } from './errors';
import { rateLimit } from './rate-limit';

function invalid(input: unknown): InvalidOptionsError {
  try {
    rateLimit(input as Parameters<typeof rateLimit>[0]);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return error as InvalidOptionsError;
  }
  throw new Error('expected rateLimit to throw');
}

describe('rateLimit (local token bucket)', () => {
  it('allows a full burst, then refuses with the time until the next token', () => {
    const clock = new FakeClock();
    const limiter = rateLimit({ limit: 10, intervalMs: 1000, clock }); // one token every 100 ms
    for (let i = 0; i < 10; i++) {
      expect(limiter.tryAcquire()).toEqual({ allowed: true, remaining: 9 - i, retryAfterMs: 0 });
    }
    expect(limiter.tryAcquire()).toEqual({ allowed: false, remaining: 0, retryAfterMs: 100 });
  });

  it('counts retryAfterMs from the tokens already refilled and from the tokens asked for', async () => {
    const clock = new FakeClock();
    const limiter = rateLimit({ limit: 10, intervalMs: 1000, clock });
    expect(limiter.tryAcquire(10).allowed).toBe(true);
    await clock.advance(30);
    expect(limiter.tryAcquire().retryAfterMs).toBe(70);
    expect(limiter.tryAcquire(3)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 270 });
  });

  it('refills lazily as fake time passes, never beyond the burst', async () => {
    const clock = new FakeClock();
    const limiter = rateLimit({ limit: 10, intervalMs: 1000, clock });
    expect(limiter.tryAcquire(10).allowed).toBe(true);

    await clock.advance(99);
    expect(limiter.tryAcquire().allowed).toBe(false);
    await clock.advance(1);
    expect(limiter.tryAcquire()).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect(limiter.tryAcquire().allowed).toBe(false);

    await clock.advance(250); // 2.5 tokens
    expect(limiter.available()).toBe(2);

    await clock.advance(60_000); // long idle: capped at the bucket's capacity
    expect(limiter.available()).toBe(10);
    expect(limiter.tryAcquire(10).allowed).toBe(true);
    expect(limiter.tryAcquire().allowed).toBe(false);
    expect(clock.pendingCount).toBe(0); // no timers at all
  });

  it('takes nothing when refused: a large request does not starve small ones', async () => {
    const clock = new FakeClock();
    const limiter = rateLimit({ limit: 4, intervalMs: 400, clock });
    expect(limiter.tryAcquire(3).allowed).toBe(true);
    expect(limiter.tryAcquire(2)).toEqual({ allowed: false, remaining: 1, retryAfterMs: 100 });
    expect(limiter.tryAcquire(1)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
  });

  it('burst sets the capacity independently of the rate', async () => {
    const clock = new FakeClock();
    const limiter = rateLimit({ limit: 1, intervalMs: 1000, burst: 3, clock });
    expect([1, 2, 3, 4].map(() => limiter.tryAcquire().allowed)).toEqual([true, true, true, false]);
    await clock.advance(1000);
    expect(limiter.tryAcquire()).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect(limiter.tryAcquire().retryAfterMs).toBe(1000);
  });

  it('rejects token counts that could never be granted', () => {
    const limiter = rateLimit({ limit: 5, clock: new FakeClock() });
    expect(() => limiter.tryAcquire(6)).toThrow(RangeError);
    expect(() => limiter.tryAcquire(0)).toThrow(RangeError);
    expect(() => limiter.tryAcquire(1.5)).toThrow(RangeError);
    expect(limiter.available()).toBe(5);
  });

  describe('execute', () => {
    it('runs fn with the context while tokens last', async () => {
      const limiter = rateLimit({ limit: 2, clock: new FakeClock() });
      const controller = new AbortController();
      const fn = vi.fn(({ signal, attempt }: { signal: AbortSignal; attempt: number }) => {
        expect(signal).toBe(controller.signal);
        expect(attempt).toBe(0);
        return 'ok';
      });
      await expect(limiter.execute(fn, controller.signal)).resolves.toBe('ok');
      await expect(limiter.execute(async () => 42)).resolves.toBe(42);
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('rejects with RateLimitedError without calling fn when no token is left', async () => {
      const clock = new FakeClock();
      const limiter = rateLimit({ name: 'payments', limit: 1, intervalMs: 500, clock });
      await limiter.execute(() => undefined);
      const fn = vi.fn(() => 'never');
      const error = await limiter.execute(fn).catch((e: unknown) => e);
      expect(fn).not.toHaveBeenCalled();
      expect(error).toBeInstanceOf(RateLimitedError);
      expect(isRateLimitedError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'RATE_LIMITED', limiter: 'payments', retryAfterMs: 500 });

      await clock.advance(500);
      await expect(limiter.execute(fn)).resolves.toBe('never');
    });

    it('passes fn failures through (the token stays spent)', async () => {
      const limiter = rateLimit({ limit: 1, clock: new FakeClock() });
      const boom = new Error('boom');
      await expect(
        limiter.execute(() => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(limiter.available()).toBe(0);
    });

    it('rejects an already aborted signal without taking a token', async () => {
      const limiter = rateLimit({ limit: 1, clock: new FakeClock() });
      const fn = vi.fn();
      await expect(limiter.execute(fn, AbortSignal.abort())).rejects.toBeInstanceOf(AbortedError);
      expect(fn).not.toHaveBeenCalled();
      expect(limiter.available()).toBe(1);
    });
  });

  describe('options', () => {
    it('applies defaults: name, intervalMs 1000, burst = limit, systemClock', () => {
      const limiter = rateLimit({ limit: 3 });
      expect(limiter.options).toMatchObject({ name: 'rate-limit', limit: 3, intervalMs: 1000, burst: 3 });
      expect(limiter.name).toBe('rate-limit');
      expect(limiter.tryAcquire(3).allowed).toBe(true);
      expect(limiter.tryAcquire().allowed).toBe(false);
    });

    it.each([
      [{ limit: 0 }, 'limit'],
      [{ limit: 2.5 }, 'limit'],
      [{}, 'limit'],
      [{ limit: 1, intervalMs: -1 }, 'intervalMs'],
      [{ limit: 1, intervalMs: 0 }, 'intervalMs'],
      [{ limit: 1, burst: 0 }, 'burst'],
      [{ limit: 1, clock: Date }, 'clock'],
    ])('rejects %o naming %s', (input, field) => {
      const error = invalid(input);
      expect(error.where).toBe('rateLimit');
      expect(error.issues.map((i) => i.path)).toEqual([field]);
      expect(error.message).toContain(`${field}: expected`);
    });

    it('names an unknown option', () => {
      const error = invalid({ limit: 1, interval: 1000 });
      expect(error.issues).toEqual([expect.objectContaining({ path: 'interval', expected: 'no such option' })]);
    });
  });
});
