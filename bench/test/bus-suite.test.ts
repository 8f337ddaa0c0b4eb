import { describe, expect, it } from 'vitest';
import { runSuite } from '../src/harness';
import { bus as busSuite } from '../src/suites/bus';
import { loadSuites } from '../src/suites/index';

/** A smoke test against the local Redis: every case × impl runs and reports. No speed assertions. */
describe('bus suite', () => {
  it('is registered', async () => {
    expect((await loadSuites()).bus).toBe(busSuite);
  });

  it('returns a row per case and impl with positive ops/s', async () => {
    // The concurrent cases' 50k publishes per round are for measuring, not for a smoke test.
    process.env.BENCH_BUS_CONCURRENT = '2000';
    const result = await runSuite(busSuite, { timeMs: 20, iterations: 3, warmupMs: 0 });
    expect(result.suite).toBe('bus');
    expect(result.rows.map((r) => `${r.case}/${r.impl}`).sort()).toEqual([
      'end-to-end-concurrent/ballast',
      'end-to-end-concurrent/raw-ioredis',
      'end-to-end/ballast',
      'end-to-end/raw-ioredis',
      'publish-concurrent/ballast',
      'publish-concurrent/raw-ioredis',
      'publish/ballast',
      'publish/raw-ioredis',
    ]);
    for (const row of result.rows) {
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(row.p99Us).toBeGreaterThanOrEqual(row.p50Us);
    }
  });
});
