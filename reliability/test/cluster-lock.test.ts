import { type Cluster, createLogger, hashSlot } from '@ballast/core';
import { createLockManager, fencedSet, isStaleFencingTokenError, lockKeys, RedisLockBackend } from '@ballast/lock';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { beforeAll, expect, it } from 'vitest';
import { lockBackendContract } from '../../packages/lock/test/backend.contract';

const fx = useRedisClusterFixture({ name: 'lock-cluster' });
let cluster: Cluster;
const prefix = fx.prefix;
let n = 0;

beforeAll(() => {
  cluster = fx.cluster;
});

it('the keys of one resource share a slot; different resources land on different masters', async () => {
  const slots = ['a', 'b', 'c', 'd', 'e', 'f'].map((r) => {
    const k = lockKeys(prefix, r);
    const all = [k.owners, k.expiry, k.fence, k.waiters, k.released].map(hashSlot);
    expect(new Set(all).size).toBe(1);
    return all[0]!;
  });
  expect(new Set(slots).size).toBeGreaterThan(1);
});

lockBackendContract('redis cluster (3 masters)', {
  create: () => ({
    backend: new RedisLockBackend({ redis: cluster, prefix, lingerMs: 50 }),
    resource: () => `r${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});

it('the lock manager and fencedSet work end to end on the cluster (a {tagged} key keeps its fence in its slot)', async () => {
  const locks = createLockManager({ redis: cluster, prefix, ttlMs: 5_000, logger: createLogger({ level: 'silent' }) });
  const resource = `${prefix}:{order-42}:total`;
  const first = await locks.acquire('order-42');
  await fencedSet(cluster, resource, 'a', first.fencingToken);
  await first.release();
  const second = await locks.acquire('order-42');
  expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
  await fencedSet(cluster, resource, 'b', second.fencingToken);
  const stale = await fencedSet(cluster, resource, 'stale', first.fencingToken).catch((e: unknown) => e);
  expect(isStaleFencingTokenError(stale)).toBe(true);
  expect(await cluster.get(resource)).toBe('b');
  await second.release();
  await locks.close();
  // Untagged, the default fence key `<key>:fence` hashes elsewhere: the cluster refuses the script, as
  // fencedSet's documentation warns.
  const untagged = 'reliability-untagged-total'; // refused: nothing is ever written under it
  expect(hashSlot(untagged)).not.toBe(hashSlot(`${untagged}:fence`));
  await expect(fencedSet(cluster, untagged, 'x', 1)).rejects.toThrow(/CROSSSLOT/);
});
