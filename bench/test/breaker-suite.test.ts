import { describe, expect, it } from 'vitest';
import { runSuite } from '../src/harness';
import { breaker as breakerSuite } from '../src/suites/breaker';
import { loadSuites } from '../src/suites/index';

const IMPLS = ['ballast', 'cockatiel', 'opossum'];
const quick = { timeMs: 20, iterations: 5, warmupMs: 0 };

/** A smoke test: every impl runs and reports. No speed assertions (numbers come from `npm run bench`). */
describe('breaker suite', () => {
  it('is registered', async () => {
    expect((await loadSuites()).breaker).toBe(breakerSuite);
  });

  it.each(['success-no-timeout', 'composite', 'megamorphic', 'failure-window-1k'])(
    '%s returns a row per impl with positive ops/s',
    async (filter) => {
      const result = await runSuite(breakerSuite, { ...quick, filter });
      expect(result.suite).toBe('breaker');
      expect(result.rows.map((r) => r.impl).sort()).toEqual(IMPLS);
      for (const row of result.rows) {
        expect(row.case).toBe(filter);
        expect(row.opsPerSec).toBeGreaterThan(0);
        expect(row.p99Us).toBeGreaterThanOrEqual(row.p50Us);
      }
    },
  );
});
