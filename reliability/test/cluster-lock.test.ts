/**
 * The lock's Redis contract suite against the local 3-master Redis Cluster (127.0.0.1:7001-7003, started by
 * `npm test`'s services step). Every key of a resource shares its `{resource}` hash tag, so each script runs
 * on one slot; resources spread over all three masters.
 */
import { randomUUID } from 'node:crypto';
import { type Cluster, createLogger, createRedis, hashSlot } from '@ballast/core';
import { createLockManager, fencedSet, isStaleFencingTokenError, lockKeys, RedisLockBackend } from '@ballast/lock';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lockBackendContract } from '../../packages/lock/test/backend.contract';

let cluster: Cluster;
const prefix = `test-cluster-lock-${randomUUID().slice(0, 8)}`;
let n = 0;

beforeAll(async () => {
  cluster = createRedis({ nodes: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'] }) as Cluster;
  await cluster.ping();
});

afterAll(async () => {
  await Promise.all(
    cluster.nodes('master').map(async (node) => {
      const keys = await node.keys(`${prefix}*`);
      for (const k of keys) await node.del(k);
    }),
  );
  cluster.disconnect();
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
