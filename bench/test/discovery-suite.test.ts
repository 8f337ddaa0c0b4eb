import { describe, expect, it } from 'vitest';
import { runSuite } from '../src/harness';
import { createDiscoverySuite, discovery as discoverySuite } from '../src/suites/discovery';
import { loadSuites } from '../src/suites/index';

/** A smoke test against an in-process Consul emulator: every case reports. No speed assertions. */
describe('discovery suite', () => {
  it('is registered', async () => {
    expect((await loadSuites()).discovery).toBe(discoverySuite);
  });

  it('returns a row per case with positive ops/s and the request count of the load phase', async () => {
    const suite = createDiscoverySuite({ watchers: 2, loadSeconds: 0.3, propagationPauseMs: 0 });
    const result = await runSuite(suite, { timeMs: 20, iterations: 3, warmupMs: 0 });
    expect(result.suite).toBe('discovery');
    expect(result.rows.map((r) => r.case)).toEqual(['cached-lookup', 'propagation', 'lookups-under-load']);
    for (const row of result.rows) {
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(Number.isFinite(row.opsPerSec)).toBe(true);
      expect(row.p99Us).toBeGreaterThanOrEqual(row.p50Us);
    }
    // No lookup-caused request: only watch rounds (and registration upkeep) reach Consul.
    expect(result.rows[2]?.impl).toMatch(
      /^ballast \(300 lookups in 0.3s: \d+ Consul requests = \d+ watch \+ 0 non-blocking \+ \d+ registration upkeep \+ 0 other\)$/,
    );
  }, 60_000);
});
