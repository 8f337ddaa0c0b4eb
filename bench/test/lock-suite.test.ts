import { describe, expect, it } from 'vitest';
import { runSuite } from '../src/harness';
import { loadSuites } from '../src/suites/index';
import { createLockSuite, lock as lockSuite } from '../src/suites/lock';

/** A smoke test against the local Redis: every case × impl runs and reports. No speed assertions. */
describe('lock suite', () => {
  it('is registered', async () => {
    expect((await loadSuites()).lock).toBe(lockSuite);
  });

  it('returns a row per case and impl with positive ops/s', async () => {
    // Few workers and cycles keep it fast; redlock's contended waits are 200 ± 100 ms retries.
    const suite = createLockSuite({ workers: 3, cycles: 2 });
    const result = await runSuite(suite, { timeMs: 20, iterations: 2, warmupMs: 0 });
    expect(result.suite).toBe('lock');
    const cases = ['uncontended', 'contended', 'contended-wait-p99'];
    const impls = ['ballast', 'redlock', 'redis-semaphore'];
    // …and uncontended / contended on a private master + replica, plain and with durability (WAIT 1).
    const replicated = ['uncontended', 'contended'].flatMap((c) =>
      ['ballast-replicated', 'ballast-replicated+wait1'].map((i) => `${c}/${i}`),
    );
    expect(result.rows.map((r) => `${r.case}/${r.impl}`).sort()).toEqual(
      [...cases.flatMap((c) => impls.map((i) => `${c}/${i}`)), ...replicated].sort(),
    );
    for (const row of result.rows) {
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(Number.isFinite(row.opsPerSec)).toBe(true);
      expect(row.p99Us).toBeGreaterThanOrEqual(row.p50Us);
    }
  }, 60_000);
});
