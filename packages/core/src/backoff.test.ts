import { describe, expect, it } from 'vitest';
import { backoffDelay, backoffOptionsSchema, createBackoff } from './backoff';
import { InvalidOptionsError } from './errors';

const opts = (o: object) => backoffOptionsSchema.parse(o);

/** A deterministic PRNG (mulberry32) so spread assertions are repeatable. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('backoff', () => {
  it('exponential without jitter doubles from initialMs and stops at maxMs', () => {
    const o = opts({ initialMs: 500, maxMs: 8_000, jitter: 'none' });
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(o, n))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    for (const jitter of ['none', 'full', 'equal', 'decorrelated'] as const) {
      const o = opts({ initialMs: 100, maxMs: 5_000, jitter });
      const rnd = seeded(1);
      let prev = 100;
      for (let n = 0; n < 2_000; n++) {
        prev = backoffDelay(o, n, prev, rnd);
        expect(prev).toBeGreaterThanOrEqual(0);
        expect(prev).toBeLessThanOrEqual(5_000);
        expect(Number.isFinite(prev)).toBe(true);
      }
    }
  });

  it('any valid options, any attempt up to 1e6: a finite integer within [0, maxMs] (initialMs 0 included)', () => {
    const rnd = seeded(2026);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
    // Edges first (a zero first delay with a huge attempt was NaN: 0 · Infinity), then random draws.
    const cases: { initialMs: number; maxMs: number; factor: number }[] = [
      { initialMs: 0, maxMs: 0, factor: 1 },
      { initialMs: 0, maxMs: 1_000, factor: 2 },
      { initialMs: 0, maxMs: 30_000, factor: 1e6 },
      { initialMs: 0.4, maxMs: 10.6, factor: 3 },
      { initialMs: 1, maxMs: Number.MAX_SAFE_INTEGER, factor: 10 },
    ];
    for (let i = 0; i < 300; i++) {
      const initialMs = pick([0, 0, rnd() * 10, rnd() * 1_000, rnd() * 1e6]);
      const maxMs = initialMs + pick([0, rnd() * 5, rnd() * 60_000, rnd() * 1e9]);
      cases.push({ initialMs, maxMs, factor: pick([1, 1 + rnd(), 2, 1 + rnd() * 100]) });
    }
    const attempts = [0, 1, 2, 31, 1_023, 1_024, 1_025, 100_000, 999_999, 1_000_000];
    for (const c of cases) {
      for (const jitter of ['none', 'full', 'equal', 'decorrelated'] as const) {
        const o = opts({ ...c, jitter });
        let prev = o.initialMs;
        for (const attempt of [...attempts, Math.floor(rnd() * 1e6)]) {
          const d = backoffDelay(o, attempt, prev, rnd);
          if (!(Number.isInteger(d) && d >= 0 && d <= o.maxMs)) {
            throw new Error(`backoffDelay(${JSON.stringify(o)}, ${attempt}, ${prev}) = ${d}`);
          }
          prev = d;
        }
      }
    }
  });

  it('full jitter spreads uniformly over [0, exp]', () => {
    const o = opts({ initialMs: 1_000, maxMs: 1_000, jitter: 'full' });
    const rnd = seeded(42);
    const samples = Array.from({ length: 10_000 }, () => backoffDelay(o, 3, undefined, rnd));
    expect(Math.min(...samples)).toBeLessThan(20);
    expect(Math.max(...samples)).toBeGreaterThan(980);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(mean).toBeGreaterThan(480);
    expect(mean).toBeLessThan(520);
    // Every decile holds roughly a tenth of the samples.
    const deciles = new Array(10).fill(0);
    for (const s of samples) deciles[Math.min(9, Math.floor(s / 100))]++;
    for (const d of deciles) expect(d).toBeGreaterThan(800);
  });

  it('equal jitter stays within [exp/2, exp]', () => {
    const o = opts({ initialMs: 400, maxMs: 10_000, jitter: 'equal' });
    const rnd = seeded(7);
    for (let i = 0; i < 1_000; i++) {
      const d = backoffDelay(o, 2, undefined, rnd);
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1_600);
    }
  });

  it('decorrelated jitter stays within [initial, min(cap, 3·previous)]', () => {
    const o = opts({ initialMs: 100, maxMs: 10_000, jitter: 'decorrelated' });
    const rnd = seeded(9);
    let prev = 100;
    for (let i = 0; i < 1_000; i++) {
      const next = backoffDelay(o, i, prev, rnd);
      expect(next).toBeGreaterThanOrEqual(100);
      expect(next).toBeLessThanOrEqual(Math.min(10_000, prev * 3) + 1);
      prev = next;
    }
  });

  it('createBackoff hands out a sequence, counts attempts and resets', () => {
    const b = createBackoff({ initialMs: 10, maxMs: 1000, jitter: 'none' });
    expect([b.next(), b.next(), b.next()]).toEqual([10, 20, 40]);
    expect(b.attempt).toBe(3);
    b.reset();
    expect(b.next()).toBe(10);
  });

  it('rejects bad options with a typed error naming the field', () => {
    expect(() => createBackoff({ initialMs: -1 })).toThrow(InvalidOptionsError);
    expect(() => createBackoff({ initialMs: 1000, maxMs: 10 })).toThrow(/maxMs/);
    expect(() => createBackoff({ jitter: 'wild' as never })).toThrow(/jitter: expected one of/);
  });
});
