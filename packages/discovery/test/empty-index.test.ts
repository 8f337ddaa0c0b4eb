/**
 * A blocking query made on a service that never had an instance returns at the service's first registration
 * (Consul: a blocking query returns once the index is greater than the one given). The Redis backend reported
 * index 1 for the untouched counter (0) and still 1 after the first registration, so the query waited its whole
 * `waitMs` (default 5 minutes).
 */
import { useRedisFixture } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import { MemoryBackend } from '../src/backends/memory';
import { RedisBackend } from '../src/backends/redis';

const fx = useRedisFixture({ name: 'discovery-empty-index' });
const spec = { id: 'x-1', name: 'fresh', address: '10.0.0.1', port: 80, tags: [], meta: {} };

for (const kind of ['memory', 'redis'] as const) {
  it(`${kind}: the first registration wakes a blocking query made on the empty service`, async () => {
    const b =
      kind === 'memory'
        ? new MemoryBackend()
        : new RedisBackend({ redis: fx.current.redis, prefix: fx.current.prefix });
    try {
      const first = await b.query('fresh');
      expect(first.instances).toEqual([]);
      // A wait far longer than the test's timeout: only the registration can end it in time.
      const waiting = b.query('fresh', { index: first.index, waitMs: 60_000 });
      await b.register(spec);
      const next = await waiting;
      expect(next.index).toBeGreaterThan(first.index);
      expect(next.instances.map((i) => i.id)).toEqual(['x-1']);
    } finally {
      await b.close();
    }
  }, 10_000);
}
