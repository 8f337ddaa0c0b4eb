import { createLogger } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker';
import type { BreakerOptions } from './options';

// Issue 23 §3: a call is timed (its start read from the clock) only when something needs its duration; the
// latency histogram is exact up to 256 calls per period, then sampled one call in 8 with weight 8.

const quiet = createLogger({ level: 'silent' });

/** A FakeClock that counts `monotonic()` reads. */
class CountingClock extends FakeClock {
  reads = 0;
  override monotonic(): number {
    this.reads++;
    return super.monotonic();
  }
}

function make(options: BreakerOptions = {}) {
  const clock = new CountingClock();
  const breaker = new CircuitBreaker({ name: 'sampled', clock, logger: quiet, timeoutMs: false, ...options });
  return { clock, breaker };
}

/** One call that takes `ms` on the fake clock, awaited before the next starts. */
async function timedCall(clock: FakeClock, breaker: CircuitBreaker, ms: number): Promise<void> {
  const p = breaker.execute(() => new Promise<string>((r) => clock.setTimeout(() => r('ok'), ms)));
  await clock.advance(ms);
  await p;
}

describe('latency sampling', () => {
  it('times every call up to 256 in a period, then one in 8: half the clock reads, the histogram still right', async () => {
    const { clock, breaker } = make();
    for (let i = 0; i < 256; i++) await timedCall(clock, breaker, 5);
    const exact = breaker.latency();
    expect(exact.count).toBe(256);

    const before = clock.reads;
    for (let i = 0; i < 800; i++) await breaker.execute(async () => 'ok');
    // An untimed call reads the clock once (its window bucket); a sampled one twice.
    expect(clock.reads - before).toBe(800 + 100);
    // 100 samples of weight 8 stand for the 800 calls.
    expect(breaker.latency().count).toBe(256 + 800);
    expect(breaker.counts().success).toBe(256 + 800);
  });

  it('keeps mean and percentiles right past the exact samples (weighted samples)', async () => {
    const { clock, breaker } = make();
    for (let i = 0; i < 256 + 8 * 50; i++) await timedCall(clock, breaker, i % 2 === 0 ? 10 : 30);
    const h = breaker.latency();
    expect(h.count).toBe(256 + 8 * 50);
    // Every 8th call is sampled: all sampled calls past 256 have the same parity, so the mean moves toward
    // one of the two values — but within what 50 weighted samples of one value allow.
    expect(h.meanUs / 1000).toBeGreaterThan(10);
    expect(h.meanUs / 1000).toBeLessThan(30);
    expect(breaker.stats.latencyMean).toBeCloseTo(h.meanUs / 1000, 3);
    expect(h.quantile(0.25) / 1000).toBeCloseTo(10, -1);
  });

  it('times every call when a slow-call rule is set, so slow calls past 256 still trip it', async () => {
    const { clock, breaker } = make({
      slowCallDurationMs: 50,
      slowCallRateThreshold: 50,
      volumeThreshold: 10,
      errorThresholdPercentage: 50,
      capacity: 1_000,
    });
    for (let i = 0; i < 300; i++) await breaker.execute(async () => 'fast');
    expect(breaker.state).toBe('closed');
    const slow = Array.from({ length: 400 }, () =>
      breaker.execute(() => new Promise<string>((r) => clock.setTimeout(() => r('slow'), 80))),
    );
    const settled = Promise.allSettled(slow);
    await clock.advance(80);
    await settled;
    expect(breaker.counts().slow).toBe(400);
    expect(breaker.state).toBe('open');
  });

  it('times every call while a listener wants durations (onSuccess, onFailure)', async () => {
    const { clock, breaker } = make();
    for (let i = 0; i < 300; i++) await breaker.execute(async () => 'ok');
    const successes: number[] = [];
    const failures: number[] = [];
    breaker.onSuccess((e) => successes.push(e.durationMs));
    breaker.onFailure((e) => failures.push(e.durationMs));
    for (let i = 0; i < 20; i++) await timedCall(clock, breaker, 7);
    for (let i = 0; i < 20; i++) {
      const p = breaker.execute(() => new Promise((_, reject) => clock.setTimeout(() => reject(new Error('x')), 3)));
      await clock.advance(3);
      await p.catch(() => {});
    }
    expect(successes).toEqual(Array(20).fill(7));
    expect(failures).toEqual(Array(20).fill(3));
  });

  it("returns the function's own promise, its outcome counted before the caller resumes", async () => {
    const { breaker } = make();
    const own = Promise.resolve('mine');
    const returned = breaker.execute(() => own);
    expect(returned).toBe(own);
    await returned;
    expect(breaker.totals.success).toBe(1);
    const failing = Promise.reject(new Error('no'));
    await expect(breaker.execute(() => failing)).rejects.toThrow('no');
    expect(breaker.totals.failure).toBe(1);
  });
});
