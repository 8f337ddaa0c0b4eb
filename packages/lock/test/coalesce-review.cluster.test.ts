// Review probes of coalesceScripts on the Cluster (s33 review2).
import { createLogger } from '@ballast/core';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { LockManager } from '../src/manager';

const fx = useRedisClusterFixture({ name: 'lock-coalesce-review' });
const silent = createLogger({ level: 'silent' });

describe('coalesceScripts on the Cluster: review probes', () => {
  it('a resource with braces in a tick of batched acquires: that caller alone rejects, typed; the others are granted', async () => {
    const m = new LockManager({ redis: fx.cluster, prefix: `${fx.prefix}:braces`, logger: silent });
    try {
      const resources = ['ok:1', '{user}:1', 'ok:2', 'a}b', 'ok:3', '{a'];
      const rs = await Promise.allSettled(resources.map((r) => m.acquire(r, { waitMs: 1_000 })));
      expect(rs.map((x) => x.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'rejected',
        'fulfilled',
        'rejected',
      ]);
      for (const x of rs) {
        if (x.status === 'rejected') expect((x.reason as Error).name).toBe('InvalidKeyError');
        else await x.value.release();
      }
      for (const r of ['ok:1', 'ok:2', 'ok:3']) expect((await m.backend.holders(r)).holders).toEqual({});
    } finally {
      await m.close();
    }
  });

  it('the same key by two owners in one tick, 100 rounds on 5 keys: one holder each, tokens rise', async () => {
    const m = new LockManager({ redis: fx.cluster, prefix: `${fx.prefix}:race`, logger: silent });
    try {
      const last = new Map<string, number>();
      for (let round = 0; round < 100; round++) {
        const keys = ['r1', 'r2', 'r3', 'r4', 'r5'];
        const rs = await Promise.allSettled(
          keys.flatMap((k) => [m.acquire(k, { waitMs: 0 }), m.acquire(k, { waitMs: 0 })]),
        );
        for (const [i, k] of keys.entries()) {
          const pair = [rs[2 * i]!, rs[2 * i + 1]!].filter((x) => x.status === 'fulfilled');
          expect(pair).toHaveLength(1);
          const lease = (pair[0] as PromiseFulfilledResult<Awaited<ReturnType<LockManager['acquire']>>>).value;
          expect(lease.fencingToken).toBeGreaterThan(last.get(k) ?? -1);
          last.set(k, lease.fencingToken);
        }
        await Promise.all(rs.flatMap((x) => (x.status === 'fulfilled' ? [x.value.release()] : [])));
      }
    } finally {
      await m.close();
    }
  });

  it('3,000 concurrent acquires across slots: all granted, all released', async () => {
    const m = new LockManager({ redis: fx.cluster, prefix: `${fx.prefix}:bulk`, logger: silent });
    try {
      const t0 = performance.now();
      const leases = await Promise.all(Array.from({ length: 3_000 }, (_, i) => m.acquire(`bulk:${i}`)));
      console.log('cluster 3000 acquires ms', Math.round(performance.now() - t0));
      expect(new Set(leases.map((l) => l.key)).size).toBe(3_000);
      await Promise.all(leases.map((l) => l.release()));
      expect((await m.backend.holders('bulk:7')).holders).toEqual({});
    } finally {
      await m.close();
    }
  }, 60_000);
});
