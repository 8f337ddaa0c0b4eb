import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, sleep, systemClock } from './clock';
import { isAbortedError } from './errors';

describe('systemClock + sleep', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sleep resolves after the delay, not before', async () => {
    let done = false;
    const p = sleep(systemClock, 1_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await p;
    expect(done).toBe(true);
  });

  it('an aborted sleep rejects at once and leaves no timer behind', async () => {
    const c = new AbortController();
    const p = sleep(systemClock, 60_000, c.signal);
    expect(vi.getTimerCount()).toBe(1);
    c.abort(new Error('shutdown'));
    await expect(p).rejects.toSatisfy(isAbortedError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an already-aborted signal rejects without scheduling', async () => {
    const c = new AbortController();
    c.abort();
    await expect(sleep(systemClock, 10, c.signal)).rejects.toSatisfy(isAbortedError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("caps delays beyond Node's timer limit instead of firing at once", async () => {
    let fired = false;
    systemClock.setTimeout(() => {
      fired = true;
    }, 2 ** 40);
    await vi.advanceTimersByTimeAsync(10);
    expect(fired).toBe(false);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(fired).toBe(true);
  });

  it('now and monotonic advance with time; intervals repeat until cleared', async () => {
    const t0 = systemClock.now();
    const m0 = systemClock.monotonic();
    let ticks = 0;
    const h = systemClock.setInterval(() => ticks++, 100);
    await vi.advanceTimersByTimeAsync(350);
    expect(ticks).toBe(3);
    systemClock.clearInterval(h);
    await vi.advanceTimersByTimeAsync(500);
    expect(ticks).toBe(3);
    expect(systemClock.now() - t0).toBe(850);
    expect(systemClock.monotonic() - m0).toBeCloseTo(850, 0);
  });
});
