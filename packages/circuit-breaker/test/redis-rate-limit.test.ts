import { InvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it, vi } from 'vitest';
import { isRateLimitedError, PolicyClosedError, RateLimitedError } from '../src/errors';
import { type RedisRateLimitOptions, redisRateLimit } from '../src/redis-rate-limit';
import { retry } from '../src/retry';
import { timeout } from '../src/timeout';
import { wrap } from '../src/wrap';

const fx = useRedisFixture({ name: 'redis-rate-limit' });

let seq = 0;
/** A limiter on the fixture's connection and prefix, with a name (hash tag) unique to the test. */
function limiter(options: Partial<RedisRateLimitOptions> & { limit: number }) {
  seq += 1;
  return redisRateLimit({ redis: fx.current.redis, prefix: fx.current.prefix, name: `rl${seq}`, ...options });
}

describe('redisRateLimit (GCRA on real Redis)', () => {
  it('allows exactly `burst` of many concurrent checks (atomic)', async () => {
    const rl = limiter({ limit: 10, periodMs: 60_000 });
    const decisions = await Promise.all(Array.from({ length: 50 }, () => rl.check()));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions.filter((d) => !d.allowed)).toHaveLength(40);
    // Every refused request is told to come back when the next token is emitted (periodMs / limit).
    for (const d of decisions.filter((d) => !d.allowed)) {
      expect(d.retryAfterMs).toBeGreaterThan(0);
      expect(d.retryAfterMs).toBeLessThanOrEqual(6_000);
      expect(d.remaining).toBe(0);
    }
  });

  it('counts remaining down, then refuses with retryAfterMs within one emission interval', async () => {
    const rl = limiter({ limit: 5, periodMs: 5_000 }); // one token a second
    const remaining: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await rl.check();
      expect(d.allowed).toBe(true);
      expect(d.retryAfterMs).toBe(0);
      remaining.push(d.remaining);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const refused = await rl.check();
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(0);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(refused.resetAfterMs).toBeGreaterThan(4_000);
    expect(refused.resetAfterMs).toBeLessThanOrEqual(5_000);
  });

  it('honours burst and cost', async () => {
    const rl = limiter({ limit: 1, periodMs: 10_000, burst: 4 });
    expect(await rl.check('default', 3)).toMatchObject({ allowed: true, remaining: 1 });
    const refused = await rl.check('default', 2);
    expect(refused).toMatchObject({ allowed: false, remaining: 1 });
    expect(refused.retryAfterMs).toBeGreaterThan(9_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000);
    // a refused request took nothing
    expect(await rl.check('default', 1)).toMatchObject({ allowed: true, remaining: 0 });
    await expect(rl.check('default', 5)).rejects.toThrow(RangeError);
    await expect(rl.check('default', 0)).rejects.toThrow(RangeError);
  });

  it('keeps separate keys independent, under one hash tag', async () => {
    const rl = limiter({ limit: 2, periodMs: 60_000 });
    expect((await rl.check('10.0.0.1')).allowed).toBe(true);
    expect((await rl.check('10.0.0.1')).allowed).toBe(true);
    expect((await rl.check('10.0.0.1')).allowed).toBe(false);
    expect(await rl.check('10.0.0.2')).toMatchObject({ allowed: true, remaining: 1 });
    expect(await rl.check()).toMatchObject({ allowed: true, remaining: 1 });
    expect(rl.keys.key('10.0.0.1')).toBe(`${fx.current.prefix}:ratelimit:{${rl.name}}:10.0.0.1`);
    expect(await fx.current.redis.exists(rl.keys.key('10.0.0.1'), rl.keys.key('10.0.0.2'))).toBe(2);
  });

  it('stores the TAT with an expiry, so idle keys disappear', async () => {
    const rl = limiter({ limit: 10, periodMs: 2_000 });
    const d = await rl.check('idle');
    const key = rl.keys.key('idle');
    const pttl = await fx.current.redis.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(200); // one emission interval: the bucket is full again then
    expect(d.resetAfterMs).toBe(200);
    const tat = await fx.current.redis.get(key);
    expect(tat).toMatch(/^\d+$/); // an integer (microseconds), no exponent, no fraction
  });

  it('shares one budget between instances on different connections', async () => {
    const name = `shared-${seq++}`;
    const options = { prefix: fx.current.prefix, name, limit: 6, periodMs: 60_000 };
    const a = redisRateLimit({ ...options, redis: fx.current.duplicate() });
    const b = redisRateLimit({ ...options, redis: fx.current.duplicate() });
    const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).check('user-1')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(6);
    expect((await a.check('user-1')).allowed).toBe(false);
    expect((await b.check('user-1')).allowed).toBe(false);
  });

  it('refills deterministically with a fake clock (ARGV[4] "now")', async () => {
    const clock = new FakeClock();
    const rl = limiter({ limit: 10, periodMs: 1_000, clock }); // a token every 100 ms
    const first = await Promise.all(Array.from({ length: 10 }, () => rl.check()));
    expect(first.every((d) => d.allowed)).toBe(true);
    expect(await rl.check()).toEqual({ allowed: false, remaining: 0, retryAfterMs: 100, resetAfterMs: 1_000 });

    await clock.advance(40);
    expect(await rl.check()).toMatchObject({ allowed: false, retryAfterMs: 60 });
    await clock.advance(60);
    expect(await rl.check()).toMatchObject({ allowed: true, remaining: 0 });
    expect((await rl.check()).allowed).toBe(false);

    await clock.advance(350);
    expect(await rl.check('default', 3)).toMatchObject({ allowed: true, remaining: 0 });

    await clock.advance(60_000); // long idle: full again, never beyond burst
    const after = await Promise.all(Array.from({ length: 12 }, () => rl.check()));
    expect(after.filter((d) => d.allowed)).toHaveLength(10);
  });

  it('handles fractional emission intervals without drift', async () => {
    const clock = new FakeClock();
    const rl = limiter({ limit: 3, periodMs: 1_000, clock }); // 333.33… ms a token
    const first = await Promise.all(Array.from({ length: 4 }, () => rl.check()));
    expect(first.map((d) => d.allowed).sort()).toEqual([false, true, true, true]);
    await clock.advance(1_000); // exactly three tokens later
    const second = await Promise.all(Array.from({ length: 4 }, () => rl.check()));
    expect(second.filter((d) => d.allowed)).toHaveLength(3);
  });

  it("decides on the server's clock (TIME), with no clock option and no waiting", async () => {
    const rl = limiter({ limit: 2, periodMs: 200 }); // a token every 100 ms, bucket of 2 (200 ms tolerance)
    const key = rl.keys.key('default');
    const serverNowUs = async () => {
      const [s, us] = await fx.current.redis.time();
      return Number(s) * 1_000_000 + Number(us);
    };
    // A bucket last used "150 ms from now" on the server's clock: half a token left, so refused, and told to
    // come back when the server reaches now + 50 ms, less the time this round trip took.
    const before = await serverNowUs();
    await fx.current.redis.set(key, String(before + 150_000), 'PX', 10_000);
    const refused = await rl.check();
    const elapsedMs = Math.ceil(((await serverNowUs()) - before) / 1000);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(50);
    expect(refused.retryAfterMs).toBeGreaterThanOrEqual(50 - elapsedMs);
    // The same bucket written as last used 10 s ago on the server's clock: full again.
    await fx.current.redis.set(key, String((await serverNowUs()) - 10_000_000), 'PX', 10_000);
    expect(await rl.check()).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('works inside wrap(): refused calls never reach the inner policies or the function', async () => {
    const rl = limiter({ limit: 1, periodMs: 60_000 });
    const perTry = timeout(5_000);
    const retried = retry({ maxRetries: 2, backoff: false, retryOn: (e) => !isRateLimitedError(e) });
    let calls = 0;
    const policy = wrap(retried, rl.limitFor('client-1'), perTry);
    await expect(policy.execute(() => ++calls)).resolves.toBe(1);
    const error = await policy.execute(() => ++calls).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(calls).toBe(1);
    await expect(wrap(rl.limitFor('client-2'), perTry).execute(() => 'other client')).resolves.toBe('other client');
    await perTry.close(); // its deadline timer
  });

  it('close() refuses later decisions with PolicyClosedError (the Redis client stays open)', async () => {
    const rl = limiter({ limit: 5 });
    await rl.close();
    await expect(rl.check()).rejects.toBeInstanceOf(PolicyClosedError);
    await expect(rl.execute(() => 'x')).rejects.toBeInstanceOf(PolicyClosedError);
    expect(await fx.current.redis.ping()).toBe('PONG');
  });

  describe('as a policy', () => {
    it('execute runs fn under the default key and throws RateLimitedError without calling it', async () => {
      const rl = limiter({ limit: 1, periodMs: 60_000 });
      await expect(rl.execute(({ attempt }) => `ran ${attempt}`)).resolves.toBe('ran 0');
      const fn = vi.fn();
      const error = await rl.execute(fn).catch((e: unknown) => e);
      expect(fn).not.toHaveBeenCalled();
      expect(error).toBeInstanceOf(RateLimitedError);
      expect(error).toMatchObject({ code: 'RATE_LIMITED', limiter: rl.name });
      expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
      expect((error as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(60_000);
      expect((await rl.check('default')).allowed).toBe(false); // execute used the 'default' key
    });

    it('limitFor(key) binds a policy to one key', async () => {
      const rl = limiter({ limit: 1, periodMs: 60_000 });
      const alice = rl.limitFor('alice');
      const bob = rl.limitFor('bob');
      await expect(alice.execute(() => 'a')).resolves.toBe('a');
      await expect(alice.execute(() => 'a')).rejects.toBeInstanceOf(RateLimitedError);
      await expect(bob.execute(() => 'b')).resolves.toBe('b');
      expect((await rl.check()).allowed).toBe(true); // the default key is untouched
      expect(() => rl.limitFor('')).toThrow(/non-empty/);
    });

    it('does not take a token for an already aborted signal', async () => {
      const rl = limiter({ limit: 1, periodMs: 60_000 });
      const fn = vi.fn();
      await expect(rl.execute(fn, AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });
      expect(fn).not.toHaveBeenCalled();
      expect((await rl.check()).allowed).toBe(true);
    });
  });

  describe('options', () => {
    it('defaults periodMs 1000, burst = limit', () => {
      const rl = limiter({ limit: 7 });
      expect({ periodMs: rl.periodMs, burst: rl.burst }).toEqual({ periodMs: 1000, burst: 7 });
      const defaultPrefix = redisRateLimit({ redis: fx.current.redis, name: 'api', limit: 1 });
      expect(defaultPrefix.keys.key('x')).toBe('ballast:ratelimit:{api}:x');
    });

    it.each([
      [{ redis: {} }, 'redis'],
      [{ redis: undefined }, 'redis'],
      [{ name: undefined }, 'name'],
      [{ limit: 0 }, 'limit'],
      [{ periodMs: -1 }, 'periodMs'],
      [{ burst: 0 }, 'burst'],
      [{ burst: 1.5 }, 'burst'],
      [{ prefix: '' }, 'prefix'],
      [{ limit: 1_000_000, periodMs: 1 }, 'limit'],
      [{ intervalMs: 1000 }, 'intervalMs'],
    ])('rejects %o naming %s', (override, field) => {
      const input = { redis: fx.current.redis, name: 'bad', limit: 1, ...override };
      let error: unknown;
      try {
        redisRateLimit(input as RedisRateLimitOptions);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as InvalidOptionsError).where).toBe('redisRateLimit');
      expect((error as InvalidOptionsError).issues.map((i) => i.path)).toEqual([field]);
    });
  });
});
