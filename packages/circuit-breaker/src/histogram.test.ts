import { describe, expect, it } from 'vitest';
import { bucketIndex, bucketValue, HISTOGRAM_SIZE, LatencyHistogram, RollingHistogram } from './histogram';

describe('LatencyHistogram', () => {
  it('bucket index is monotonic and every value maps within 6.25 % of its bucket midpoint', () => {
    let prev = -1;
    for (const v of [0, 1, 15, 16, 17, 100, 1_000, 12_345, 1e6, 3.6e9, 2 ** 32 - 1]) {
      const i = bucketIndex(v);
      expect(i).toBeGreaterThanOrEqual(prev);
      expect(i).toBeLessThan(HISTOGRAM_SIZE);
      prev = i;
      if (v >= 16) expect(Math.abs(bucketValue(i) - v) / v).toBeLessThanOrEqual(0.0625);
    }
    expect(bucketIndex(-5)).toBe(0);
    expect(bucketIndex(1e15)).toBe(HISTOGRAM_SIZE - 1);
  });

  it('percentiles of a uniform 1..10000 µs distribution are within bucket precision', () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 10_000; v++) h.record(v);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      expect(Math.abs(h.quantile(q) - q * 10_000) / (q * 10_000)).toBeLessThan(0.0625);
    }
    expect(h.meanUs).toBeCloseTo(5_000.5, 5);
    expect(h.quantile(1)).toBe(10_000);
  });

  it('merge adds samples; empty quantile is 0', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    expect(a.quantile(0.5)).toBe(0);
    a.record(10);
    b.record(1_000);
    a.merge(b);
    expect(a.count).toBe(2);
    expect(a.maxUs).toBe(1_000);
  });
});

describe('RollingHistogram', () => {
  it('covers one to two periods, then forgets', () => {
    const r = new RollingHistogram(1_000, 0);
    r.record(0, 100);
    r.record(1_500, 200); // new period; the first is "previous"
    expect(r.snapshot(1_500).count).toBe(2);
    expect(r.snapshot(2_100).count).toBe(1); // first period dropped
    expect(r.snapshot(5_000).count).toBe(0); // idle: all stale
  });
});
