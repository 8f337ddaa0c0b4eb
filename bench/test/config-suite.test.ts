import { describe, expect, it } from 'vitest';
import { runSuite } from '../src/harness';
import { config as configSuite, createConfigSuite } from '../src/suites/config';
import { loadSuites } from '../src/suites/index';

/** A smoke test against the local Redis and the testkit's Consul emulator: every case × impl reports. No speed assertions. */
describe('config suite', () => {
  it('is registered', async () => {
    expect((await loadSuites()).config).toBe(configSuite);
  });

  it('returns a row per case and impl with positive ops/s', async () => {
    const suite = createConfigSuite({ watchers: 2 });
    const result = await runSuite(suite, { timeMs: 20, iterations: 3, warmupMs: 0 });
    expect(result.suite).toBe('config');
    const consul = process.env.CONSUL_HTTP_ADDR ? 'ballast-consul' : 'ballast-consul-emulator';
    expect(result.rows.map((r) => `${r.case}/${r.impl}`).sort()).toEqual(
      [
        'get/ballast-path',
        'get/ballast-snapshot',
        'get/plain-object',
        'propagation/ballast-memory',
        'propagation/ballast-redis',
        `propagation/${consul}`,
      ].sort(),
    );
    for (const row of result.rows) {
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(Number.isFinite(row.opsPerSec)).toBe(true);
      expect(row.p99Us).toBeGreaterThanOrEqual(row.p50Us);
    }
  }, 60_000);
});
