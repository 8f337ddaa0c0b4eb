import { describe, expect, it } from 'vitest';
import { CountWindow, Outcome, TimeWindow } from './window';

describe('TimeWindow', () => {
  it('keeps running sums as buckets expire one by one', () => {
    const w = new TimeWindow(1_000, 10, 0); // 100 ms buckets
    for (let t = 0; t < 1_000; t += 100) w.record(t, t < 500 ? Outcome.failure : Outcome.success, false);
    expect(w.counts(999)).toMatchObject({ failure: 5, success: 5 });
    expect(w.calls(1_000)).toBe(9); // bucket 0 left
    expect(w.failures(1_250)).toBe(2); // window is [300, 1300): the failures at 300 and 400 remain
    expect(w.calls(1_899)).toBe(1); // the call at 900 is in the oldest bucket still inside
    expect(w.calls(1_900)).toBe(0);
    expect(w.calls(5_000)).toBe(0);
  });

  it('counts rejected/shed/cancelled apart from calls and tracks slow calls', () => {
    const w = new TimeWindow(1_000, 4, 0);
    w.record(0, Outcome.rejected, false);
    w.record(0, Outcome.shed, false);
    w.record(0, Outcome.cancelled, false);
    w.record(0, Outcome.timeout, true);
    w.record(0, Outcome.success, true);
    expect(w.calls(0)).toBe(2);
    expect(w.failures(0)).toBe(1);
    expect(w.slow(0)).toBe(2);
    expect(w.counts(0)).toMatchObject({ rejected: 1, shed: 1, cancelled: 1, timeout: 1 });
    w.reset(10);
    expect(w.counts(10)).toMatchObject({ rejected: 0, success: 0, slow: 0 });
  });

  it('records in O(1) whatever the bucket count (100k buckets: same sums)', () => {
    const w = new TimeWindow(10_000, 100_000, 0);
    for (let i = 0; i < 200_000; i++) w.record(i * 0.05, i % 2 ? Outcome.failure : Outcome.success, false);
    // 10 s window at t≈10 s: everything recorded is still inside.
    expect(w.calls(9_999.95)).toBe(200_000);
    // Half the window later, half the samples remain (± one bucket at the edge).
    const half = w.calls(15_000);
    expect(half).toBeGreaterThanOrEqual(99_996);
    expect(half).toBeLessThanOrEqual(100_002);
    expect(w.calls(20_000)).toBe(0);
  });
});

describe('CountWindow', () => {
  it('holds the last N calls and overwrites the oldest', () => {
    const w = new CountWindow(3);
    w.record(0, Outcome.failure, true);
    w.record(0, Outcome.failure, false);
    w.record(0, Outcome.success, false);
    expect([w.calls(), w.failures(), w.slow()]).toEqual([3, 2, 1]);
    w.record(0, Outcome.success, false); // evicts the slow failure
    expect([w.calls(), w.failures(), w.slow()]).toEqual([3, 1, 0]);
    w.record(0, Outcome.rejected, false); // not a sample
    expect(w.calls()).toBe(3);
    expect(w.counts().rejected).toBe(1);
  });
});
