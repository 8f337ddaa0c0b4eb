import { createRedis, type Redis } from '@ballast/core';
import { afterAll, describe, expect, it } from 'vitest';
import { benchRedisUrl } from '../src/env';
import { runSuite } from '../src/harness';
import { loadSuites } from '../src/suites/index';
import { redisBaseline } from '../src/suites/redis-baseline';

const redis = createRedis(benchRedisUrl()) as Redis;
afterAll(() => redis.disconnect());

/** Every key the suite may write: `bench:baseline:<run>` and `bench:baseline:{<run>}:stream`. */
async function baselineKeys(): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'bench:baseline:*', 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** A smoke test against the local Redis: every case runs, reports and cleans up. No speed assertions. */
describe('redis-baseline suite', () => {
  it('is registered, and listed first', async () => {
    const suites = await loadSuites();
    expect(suites['redis-baseline']).toBe(redisBaseline);
    expect(Object.keys(suites)[0]).toBe('redis-baseline');
  });

  it('returns a row per case with positive ops/s, and leaves no keys behind', async () => {
    const before = await baselineKeys();
    const result = await runSuite(redisBaseline, { timeMs: 20, iterations: 2, warmupMs: 0 });
    expect(result.suite).toBe('redis-baseline');
    expect(result.rows.map((r) => `${r.case}/${r.impl}`)).toEqual([
      'ping/ioredis',
      'set-get/ioredis',
      'stream-batch-500/ioredis',
    ]);
    for (const row of result.rows) {
      expect(Number.isFinite(row.opsPerSec)).toBe(true);
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(row.p50Us).toBeGreaterThan(0);
      expect(row.p99Us).toBeGreaterThanOrEqual(row.p50Us);
    }
    expect(await baselineKeys()).toEqual(before);
  }, 60_000);

  it('the stream case moves 500 entries a call (XADD ×500 → XREADGROUP COUNT 500 → XACK) and counts each', async () => {
    const before = await baselineKeys();
    const { cases, teardown } = await redisBaseline.setup();
    try {
      const stream = cases.find((c) => c.case === 'stream-batch-500')!;
      expect(stream.opsPerCall).toBe(500);
      // fn throws unless XREADGROUP returned exactly the 500 entries just added; twice, so XACK emptied the PEL.
      await stream.fn();
      await stream.fn();
      const created = (await baselineKeys()).filter((k) => !before.includes(k) && k.endsWith(':stream'));
      expect(created).toHaveLength(1);
      expect(await redis.xpending(created[0]!, 'g')).toEqual([0, null, null, null]);
    } finally {
      await teardown?.();
    }
  });
});
