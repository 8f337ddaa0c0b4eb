/**
 * LockInspector (what `ballast lock` and the dashboard show) against real Redis and the 3-master Cluster:
 * holders with their fencing tokens and time left, shared holders, fair waiters, and a forced release that a
 * stuck holder's lease notices and a queued waiter is handed.
 */
import { createLogger } from '@ballast/core';
import { useRedisClusterFixture, useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { LockInspector } from '../src/inspect';
import { LockManager } from '../src/manager';

const standalone = useRedisFixture({ name: 'lock-inspect' });
const cluster = useRedisClusterFixture({ name: 'lock-inspect-cluster' });

describe.each([
  ['standalone', () => ({ redis: standalone.current.redis, prefix: standalone.current.prefix })],
  ['cluster', () => ({ redis: cluster.cluster, prefix: cluster.prefix })],
] as const)('LockInspector (%s)', (_, fx) => {
  const manager = () =>
    new LockManager({ ...fx(), autoExtend: false, logger: createLogger({ level: 'silent' }), fair: true });

  it('lists held locks with holder, reentrant count, fencing token and ttl; nothing once released', async () => {
    const m = manager();
    const inspector = new LockInspector(fx());
    const a = await m.acquire('order:1', { ttlMs: 30_000 });
    const b = await m.acquire('order:2', { ttlMs: 10_000 });
    const r1 = await m.acquire('report:1', { ttlMs: 30_000, mode: 'shared' });
    const r2 = await m.acquire('report:1', { ttlMs: 20_000, mode: 'shared', owner: 'other-reader' });
    try {
      const all = await inspector.list();
      expect(all.map((l) => l.resource)).toEqual(['order:1', 'order:2', 'report:1']);
      const [o1, o2, rep] = all;
      expect(o1!.mode).toBe('exclusive');
      expect(o1!.holders).toEqual([
        { token: expect.any(String), count: 1, fencingToken: a.fencingToken, ttlMs: expect.any(Number) },
      ]);
      expect(o1!.holders[0]!.ttlMs).toBeGreaterThan(25_000);
      expect(o1!.holders[0]!.ttlMs).toBeLessThanOrEqual(30_000);
      expect(o2!.holders[0]!.ttlMs).toBeLessThanOrEqual(10_000);
      expect(o2!.holders[0]!.fencingToken).toBe(b.fencingToken);
      expect(rep!.mode).toBe('shared');
      expect(rep!.holders.map((h) => h.fencingToken)).toEqual([r1.fencingToken, r2.fencingToken].sort((x, y) => x - y));
      expect((await inspector.list({ match: 'order:*' })).map((l) => l.resource)).toEqual(['order:1', 'order:2']);
      expect(await inspector.list({ limit: 1 })).toHaveLength(1);
    } finally {
      await Promise.all([a.release(), b.release(), r1.release(), r2.release()]);
    }
    expect(await inspector.list()).toEqual([]);
    expect(await inspector.show('order:1')).toBeUndefined();
    await m.close();
  });

  it('forceRelease frees a stuck holder: its lease is lost at its next extend, a fair waiter is handed the lock', async () => {
    const m = manager();
    const other = manager();
    const inspector = new LockInspector(fx());
    const stuck = await m.acquire('stuck', { ttlMs: 60_000 });
    const waiting = other.acquire('stuck', { ttlMs: 5_000, waitMs: 30_000, fair: true });
    // The waiter is queued (fair mode) before the operator acts.
    await expect.poll(async () => (await inspector.show('stuck'))?.waiters.length, { timeout: 10_000 }).toBe(1);
    expect(await inspector.forceRelease('stuck')).toBe(1);
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(stuck.fencingToken);
    const shown = await inspector.show('stuck');
    expect(shown?.holders.map((h) => h.fencingToken)).toEqual([next.fencingToken]);
    // The stuck holder learns it lost the lock when it next talks to Redis.
    expect(await stuck.extend(60_000)).toBe(false);
    expect(stuck.signal.aborted).toBe(true);
    await next.release();
    expect(await inspector.forceRelease('stuck')).toBe(0);
    await Promise.all([m.close(), other.close()]);
  });
});
