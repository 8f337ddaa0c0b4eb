import { describe, expect, it } from 'vitest';
import { runSuite } from '../src/harness';
import { loadSuites } from '../src/suites/index';
import { createSagaSuite, saga as sagaSuite } from '../src/suites/saga';

/** A smoke test against the local Redis: every case × impl runs and reports, with its round trips. No speed assertions. */
describe('saga suite', () => {
  it('is registered', async () => {
    expect((await loadSuites()).saga).toBe(sagaSuite);
  });

  it('returns a row per case and impl and logs N + 1 = 5 round trips per four-step saga on Redis', async () => {
    const lines: string[] = [];
    const suite = createSagaSuite({ log: (l) => lines.push(l) });
    const result = await runSuite(suite, { timeMs: 20, iterations: 5, warmupMs: 0 });
    expect(result.suite).toBe('saga');
    expect(result.rows.map((r) => `${r.case}/${r.impl}`).sort()).toEqual([
      'four-step-noop/ballast-memory',
      'four-step-noop/ballast-redis',
      'four-step-noop/ballast-redis+events',
      'four-step-noop/ballast-redis+outbox',
      'four-step-noop/ballast-redis-replicated',
      'four-step-noop/ballast-redis-replicated+wait1',
    ]);
    for (const row of result.rows) {
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(row.p99Us).toBeGreaterThanOrEqual(row.p50Us);
      expect(row.sagasPerSec).toBeGreaterThan(0);
    }
    const trips = (impl: string) => result.rows.find((r) => r.impl === impl)?.roundTripsPerSaga;
    expect(lines.find((l) => l.includes('ballast-redis:'))).toMatch(/: 5\.00 Redis round trips per saga/);
    // Its six events are written by the state scripts: still N + 1.
    expect(trips('ballast-redis')).toBe(5);
    expect(trips('ballast-redis+events')).toBe(5);
    expect(Number(trips('ballast-redis+outbox'))).toBeGreaterThan(5);
    // WAIT 1 after each of the 5 state writes: 10 round trips on the private master + replica.
    expect(trips('ballast-redis-replicated')).toBe(5);
    expect(trips('ballast-redis-replicated+wait1')).toBe(10);
  }, 60_000);
});
