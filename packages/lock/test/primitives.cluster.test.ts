// The primitives' contract on a Redis Cluster (`node scripts/ensure-services.mjs redis-cluster`): each
// semaphore's, latch's and lock's keys share their `{name}` slot; a multi-lock's keys are taken by one script when
// they share a slot and one by one in sorted order (with rollback) when they do not.
import { createLogger, hashSlot } from '@ballast/core';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import { lockKeys } from '../src/keys';
import { CountDownLatch } from '../src/latch';
import { LockManager } from '../src/manager';
import { MultiLock } from '../src/multi-lock';
import { ReadWriteLock } from '../src/rw-lock';
import { Semaphore } from '../src/semaphore';
import { type PrimitiveWorld, primitivesContract } from './primitives.contract';

const fx = useRedisClusterFixture({ name: 'lock-primitives-cluster' });
const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Two lock keys whose Redis keys hash to one Cluster slot (found by search: the tag is the whole key). */
function sameSlot(prefix: string): [string, string] {
  const slot = (k: string) => hashSlot(lockKeys(prefix, k).owners);
  const first = 'pair-0';
  for (let i = 1; ; i++) if (slot(`pair-${i}`) === slot(first)) return [first, `pair-${i}`];
}

primitivesContract('redis cluster', async (): Promise<PrimitiveWorld> => {
  const redis = fx.cluster;
  const prefix = fx.prefix;
  const closers: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(x: T) => {
    closers.push(x);
    return x;
  };
  let n = 0;
  return {
    semaphore: (name, permits, o = {}) => track(new Semaphore({ name, permits, redis, prefix, logger, ...o })),
    latch: (name, o = {}) => track(new CountDownLatch({ name, redis, prefix, logger, ...o })),
    multi: (o = {}) => track(new MultiLock({ redis, prefix, logger, ...o })),
    rw: (o = {}) => track(new ReadWriteLock({ redis, prefix, logger, ...o })),
    manager: () => track(new LockManager({ redis, prefix, logger })),
    pass: (ms) => sleep(ms),
    key: (name) => `${name}-${++n}`,
    sameSlotKeys: () => sameSlot(prefix),
    async close() {
      for (const c of closers.splice(0)) await c.close();
    },
  };
});

it('a multi-lock over keys of different slots takes them in order, all or nothing', async () => {
  const multi = new MultiLock({ redis: fx.cluster, prefix: fx.prefix, logger });
  const m = new LockManager({ redis: fx.cluster, prefix: fx.prefix, logger });
  try {
    const keys = ['spread-a', 'spread-b', 'spread-c'];
    expect(new Set(keys.map((k) => hashSlot(lockKeys(fx.prefix, k).owners))).size).toBeGreaterThan(1);
    expect(multi.atomic(keys)).toBe(false);
    const held = await m.acquire('spread-c');
    expect(await multi.tryAcquire(keys)).toBeUndefined();
    for (const k of ['spread-a', 'spread-b']) expect(await fx.cluster.exists(lockKeys(fx.prefix, k).owners)).toBe(0);
    await held.release();
    const lease = await multi.acquire(keys, { waitMs: 5_000 });
    expect(Object.keys(lease.fencingTokens).sort()).toEqual(keys);
    await lease.release();
  } finally {
    await multi.close();
    await m.close();
  }
});
