import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import type { DiscoveryBackend, QueryOptions, QueryResult } from '../src/backend';
import { nextIndex, RateLimiter, ServiceWatch } from '../src/watch';

/** A backend whose `query` answers from a script (index or error), instantly. Pure-logic test double. */
function scripted(script: (number | Error)[]) {
  const sent: number[] = [];
  const backend = {
    kind: 'memory',
    runsHttpChecks: false,
    query: async (_name: string, o: QueryOptions = {}): Promise<QueryResult> => {
      sent.push(o.index ?? 0);
      const next = script.shift();
      if (next === undefined) {
        // Script exhausted: block until aborted, like a quiet blocking query.
        await new Promise<void>((resolve) => o.signal?.addEventListener('abort', () => resolve(), { once: true }));
        return { index: 999, instances: [] };
      }
      if (next instanceof Error) throw next;
      return { index: next, instances: [] };
    },
  } as unknown as DiscoveryBackend;
  return { backend, sent };
}

const base = {
  name: 'svc',
  waitMs: 30_000,
  backoff: { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 'full' as const },
  rateLimit: { burst: 100, perSecond: 100 },
  onSnapshot: () => {},
};

describe('nextIndex (Consul blocking-query rules)', () => {
  it('keeps a growing index, resets one that went backwards, never goes below 1', () => {
    expect(nextIndex(0, 12)).toBe(12);
    expect(nextIndex(12, 12)).toBe(12);
    expect(nextIndex(12, 40)).toBe(40);
    expect(nextIndex(40, 7)).toBe(1); // backwards: reset (0) then clamp to 1 — the next query answers at once
    expect(nextIndex(5, 0)).toBe(1);
    expect(nextIndex(0, 0)).toBe(1); // a buggy 0 must not turn the loop into a busy non-blocking poll
    expect(nextIndex(3, Number.NaN)).toBe(1);
  });
});

describe('ServiceWatch', () => {
  it('sends the index of the previous answer, resets when it goes backwards, clamps 0 to 1', async () => {
    const clock = new FakeClock();
    const { backend, sent } = scripted([10, 25, 5, 0, 8]);
    const w = new ServiceWatch({ ...base, backend, clock });
    await w.first;
    await clock.advance(1);
    await w.stop();
    expect(sent).toEqual([0, 10, 25, 1, 1, 8]);
  });

  it('backs off with jitter after errors, restarts from index 0 and reports unhealthy meanwhile', async () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    const { backend, sent } = scripted([10, new Error('down'), new Error('down'), 11]);
    const w = new ServiceWatch({ ...base, backend, clock, random: () => 1, onError: (e) => errors.push(e) });
    await w.first;
    await clock.advance(0);
    expect(w.healthy).toBe(false);
    expect(sent).toEqual([0, 10]);
    await clock.advance(100); // first backoff: full jitter of 100 ms (random=1)
    expect(sent).toEqual([0, 10, 0]);
    await clock.advance(199);
    expect(sent).toHaveLength(3); // second backoff is 200 ms
    await clock.advance(1);
    expect(sent).toEqual([0, 10, 0, 0, 11]);
    expect(w.healthy).toBe(true);
    expect(errors).toHaveLength(2);
    await w.stop();
  });

  it('the first round failing rejects `first` (every cold-miss caller sees the one error)', async () => {
    const clock = new FakeClock();
    const { backend } = scripted([new Error('refused')]);
    const w = new ServiceWatch({ ...base, backend, clock });
    await expect(w.first).rejects.toThrow('refused');
    expect(w.lastError).toBeInstanceOf(Error);
    await w.stop();
  });

  it('is rate-limited: a service changing constantly cannot make it spin', async () => {
    const clock = new FakeClock();
    const script = Array.from({ length: 1_000 }, (_, i) => i + 1);
    const { backend, sent } = scripted(script);
    const w = new ServiceWatch({ ...base, backend, clock, rateLimit: { burst: 5, perSecond: 10 } });
    await clock.advance(0);
    expect(sent.length).toBe(5); // the burst
    await clock.advance(1_000);
    expect(sent.length).toBeGreaterThanOrEqual(14);
    expect(sent.length).toBeLessThanOrEqual(16); // + ~10 per second
    await w.stop();
  });
});

describe('RateLimiter', () => {
  it('refills at perSecond up to burst', () => {
    const clock = new FakeClock();
    const r = new RateLimiter(2, 4, clock);
    expect(r.tryTake()).toBe(0);
    expect(r.tryTake()).toBe(0);
    expect(r.tryTake()).toBe(250);
  });
});
