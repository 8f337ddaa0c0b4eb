/**
 * Issue 23 §2: opossum's documented cache, coalesce, healthCheck and stats/snapshot examples, ported. opossum
 * binds its action at construction and `fire(...args)`s it; here `breaker.wrap(action)` is that bound action
 * (its arguments feed `cacheGetKey`), and `execute(fn)` is a call with no arguments.
 */
import { createLogger } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type OpossumStats } from './breaker';
import { isTimeoutError } from './errors';
import type { CacheTransport } from './keyed';

const quiet = createLogger({ level: 'silent' });

function make(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  const clock = new FakeClock();
  const breaker = new CircuitBreaker({ name: 'opossum-parity', clock, logger: quiet, ...options });
  return { clock, breaker };
}

describe('cache (opossum: "cache: true … that value will be returned for every subsequent execution")', () => {
  it('caches the first success; cacheHit/cacheMiss counted in stats; clearCache() forgets it', async () => {
    const { breaker } = make({ cache: true });
    let calls = 0;
    const action = breaker.wrap(async () => ++calls);
    expect(await action()).toBe(1);
    expect(await action()).toBe(1);
    expect(await action()).toBe(1);
    expect(calls).toBe(1);
    expect(breaker.stats).toMatchObject({ cacheHits: 2, cacheMisses: 1, fires: 1, successes: 1 });
    breaker.clearCache();
    expect(await action()).toBe(2);
    await breaker.close();
  });

  it('cacheTTL expires entries; cacheGetKey keys them by argument; failures are not cached', async () => {
    const { breaker, clock } = make({ cache: true, cacheTTL: 1_000, cacheGetKey: (id: unknown) => String(id) });
    const seen: string[] = [];
    const getUser = breaker.wrap(async (id: string) => {
      seen.push(id);
      if (id === 'bad') throw new Error('nope');
      return { id, at: clock.now() };
    });
    const u1 = await getUser('1');
    expect(await getUser('1')).toBe(u1);
    await getUser('2');
    await getUser('bad').catch(() => {});
    await getUser('bad').catch(() => {});
    expect(seen).toEqual(['1', '2', 'bad', 'bad']);
    await clock.advance(1_000);
    expect(await getUser('1')).not.toBe(u1);
    expect(seen).toEqual(['1', '2', 'bad', 'bad', '1']);
    await breaker.close();
  });

  it('cacheSize evicts the oldest entry; cacheTransport replaces the built-in cache', async () => {
    const { breaker } = make({ cache: true, cacheSize: 2, cacheGetKey: (k: unknown) => String(k) });
    let runs = 0;
    const square = breaker.wrap(async (n: number) => {
      runs++;
      return n * n;
    });
    await square(1);
    await square(2);
    await square(3); // evicts 1
    await square(2);
    expect(runs).toBe(3);
    await square(1);
    expect(runs).toBe(4);
    await breaker.close();

    const store = new Map<string, unknown>();
    const transport: CacheTransport = {
      get: (k) => store.get(k),
      set: (k, v) => void store.set(k, v),
      flush: () => store.clear(),
    };
    const custom = make({ cache: true, cacheTransport: transport }).breaker;
    expect(await custom.execute(async () => 'remote')).toBe('remote');
    expect([...store.values()]).toEqual(['remote']);
    expect(await custom.execute(async () => 'other')).toBe('remote');
    await custom.close();
  });
});

describe('coalesce (opossum: "only one action (with same cache key) is executed at a time")', () => {
  it('concurrent identical calls share one execution; other keys run on their own', async () => {
    const { breaker, clock } = make({ coalesce: true, cacheGetKey: (k: unknown) => String(k), timeoutMs: false });
    let runs = 0;
    const slow = breaker.wrap(
      (k: string) =>
        new Promise<string>((resolve) => {
          runs++;
          clock.setTimeout(() => resolve(`${k}:${runs}`), 100);
        }),
    );
    const a = [slow('a'), slow('a'), slow('a')];
    const b = slow('b');
    await clock.advance(100);
    const results = await Promise.all(a);
    expect(new Set(results).size).toBe(1);
    expect(await b).toMatch(/^b:/);
    expect(runs).toBe(2);
    expect(breaker.stats).toMatchObject({ coalesceCacheHits: 2, coalesceCacheMisses: 2, fires: 2 });
    await breaker.close();
  });

  it('shares the result for coalesceTTL, then runs afresh; coalesceResetOn: error drops a failure at once', async () => {
    const { breaker, clock } = make({ coalesce: true, coalesceTTL: 500, coalesceResetOn: ['error'] });
    let runs = 0;
    const run = () => breaker.execute(async () => ++runs);
    expect(await run()).toBe(1);
    expect(await run()).toBe(1);
    await clock.advance(500);
    expect(await run()).toBe(2);

    let failures = 0;
    const flaky = make({ coalesce: true, coalesceTTL: 10_000, coalesceResetOn: ['error'] }).breaker;
    const fail = () =>
      flaky.execute(async () => {
        failures++;
        throw new Error('down');
      });
    await fail().catch(() => {});
    await fail().catch(() => {});
    expect(failures).toBe(2);
    // Without reset-on-error, a failure is shared for the TTL (opossum's default).
    let kept = 0;
    const sticky = make({ coalesce: true, coalesceTTL: 10_000 }).breaker;
    const stickyFail = () =>
      sticky.execute(async () => {
        kept++;
        throw new Error('down');
      });
    await stickyFail().catch(() => {});
    await stickyFail().catch(() => {});
    expect(kept).toBe(1);
    await Promise.all([breaker.close(), flaky.close(), sticky.close()]);
  });

  it('coalesceResetOn: timeout drops a timed-out execution', async () => {
    const { breaker, clock } = make({
      coalesce: true,
      coalesceTTL: 10_000,
      coalesceResetOn: ['timeout'],
      timeoutMs: 100,
    });
    let runs = 0;
    const hang = () => breaker.execute(() => new Promise(() => void runs++));
    const first = track(hang());
    await clock.advance(100);
    expect(isTimeoutError(first.error)).toBe(true);
    void hang().catch(() => {});
    expect(runs).toBe(2);
    await breaker.close();
  });
});

describe('healthCheck(fn, interval)', () => {
  it('runs now and every interval; a rejection opens the breaker and emits healthCheckFailed', async () => {
    const { breaker, clock } = make({ resetTimeoutMs: 60_000 });
    let healthy = true;
    let checks = 0;
    const failed: unknown[] = [];
    breaker.onHealthCheckFailed((e) => failed.push(e.error));
    breaker.healthCheck(async () => {
      checks++;
      if (!healthy) throw new Error('unhealthy');
    }, 1_000);
    expect(checks).toBe(1);
    await clock.advance(1_000);
    expect(checks).toBe(2);
    expect(breaker.state).toBe('closed');
    healthy = false;
    await clock.advance(1_000);
    expect(breaker.state).toBe('open');
    expect(failed).toHaveLength(1);
    await breaker.close();
    await clock.advance(10_000);
    expect(checks).toBe(3); // close() ends the checks
  });

  it('refuses a non-function or a bad interval with a typed error', () => {
    const { breaker } = make();
    expect(() => breaker.healthCheck(42 as never)).toThrow(/healthCheck: fn must be a function/);
    expect(() => breaker.healthCheck(async () => {}, Number.NaN)).toThrow(/interval must be a positive/);
    void breaker.close();
  });
});

describe('stats and the snapshot stream (opossum field names)', () => {
  it("stats has opossum's fields plus ours; enableSnapshots emits it once per bucket", async () => {
    const { breaker, clock } = make({ enableSnapshots: true, rollingCountTimeoutMs: 1_000, rollingCountBuckets: 10 });
    const snapshots: OpossumStats[] = [];
    breaker.onSnapshot((s) => snapshots.push(s));
    await breaker.execute(async () => 'ok');
    await breaker.execute(async () => Promise.reject(new Error('x'))).catch(() => {});
    const stats = breaker.stats;
    for (const field of [
      'fires',
      'successes',
      'failures',
      'timeouts',
      'rejects',
      'semaphoreRejections',
      'fallbacks',
      'cacheHits',
      'cacheMisses',
      'coalesceCacheHits',
      'coalesceCacheMisses',
      'latencyMean',
      'percentiles',
      'shed',
      'cancelled',
      'slow',
      'zombies',
    ]) {
      expect(stats).toHaveProperty(field);
    }
    expect(stats).toMatchObject({ fires: 2, successes: 1, failures: 1 });
    expect(Object.keys(stats.percentiles)).toEqual(
      expect.arrayContaining(['0', '0.25', '0.5', '0.75', '0.9', '0.95', '0.99', '0.995', '1']),
    );
    await clock.advance(300);
    expect(snapshots).toHaveLength(3);
    expect(snapshots[0]).toMatchObject({ fires: 2 });
    await breaker.close();
    await clock.advance(1_000);
    expect(snapshots).toHaveLength(3);
  });
});
