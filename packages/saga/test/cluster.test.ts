/**
 * The orchestrator contract on the local Redis Cluster (7001-7003): every script touches one `{partition}`
 * slot, the DLQ stream another; partitions spread over the masters.
 */
import { randomUUID } from 'node:crypto';
import { type Cluster, createRedis, hashSlot, sleep, systemClock } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisSagaStore } from '../src/index';
import { partitionKeys } from '../src/keys';
import { sagaContract } from './orchestrator.contract';
import { storeContract } from './store.contract';

let cluster: Cluster;
const prefix = `test:saga-cluster:${randomUUID().slice(0, 8)}`;
const LEASE_MS = 250;

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

it('partitions land on more than one slot, each saga hash with its lease index', () => {
  const slots = new Set(Array.from({ length: 8 }, (_, p) => hashSlot(partitionKeys(prefix, p).leases)));
  expect(slots.size).toBeGreaterThan(1);
  const k = partitionKeys(prefix, 3);
  expect(hashSlot(k.saga('some-saga'))).toBe(hashSlot(k.leases));
});

sagaContract('redis-cluster', {
  create: () => ({
    store: new RedisSagaStore({ redis: cluster, prefix, partitions: 8 }),
    clock: new FakeClock(),
    leaseMs: LEASE_MS,
    expireLeases: () => sleep(systemClock, LEASE_MS + 30),
  }),
});

let n = 0;
storeContract('redis-cluster', {
  create: () => ({
    store: new RedisSagaStore({ redis: cluster, prefix, partitions: 8 }),
    leaseMs: 100,
    expire: () => sleep(systemClock, 130),
    id: () => `cs-${Date.now().toString(36)}-${n++}`,
  }),
});
