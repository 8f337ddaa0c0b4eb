import { type Cluster, hashSlot, sleep, systemClock } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { beforeAll, expect, it } from 'vitest';
import { RedisSagaStore } from '../src/index';
import { partitionKeys, partitionOf } from '../src/keys';
import { sagaContract } from './orchestrator.contract';
import { storeContract } from './store.contract';
import { sagaV2Contract } from './v2.contract';

const fx = useRedisClusterFixture({ name: 'saga-cluster' });
let cluster: Cluster;
const prefix = fx.prefix;
const LEASE_MS = 250;

beforeAll(() => {
  cluster = fx.cluster;
});
it('partitions land on more than one slot, each saga hash with its lease index', () => {
  const slots = new Set(Array.from({ length: 8 }, (_, p) => hashSlot(partitionKeys(prefix, p).leasesOf('s'))));
  expect(slots.size).toBeGreaterThan(1);
  const k = partitionKeys(prefix, 3);
  expect(hashSlot(k.saga('some-saga'))).toBe(hashSlot(k.leasesOf('s')));
  expect(hashSlot(k.outbox)).toBe(hashSlot(k.saga('some-saga'))); // events go out in the state write's slot
});

it('§6 on a Cluster the bus streams are in other slots: the store keeps events in its outbox, never in the bus', () => {
  const bus = {
    prepare: () => {
      throw new Error('never asked on a Cluster');
    },
  };
  const store = new RedisSagaStore({ redis: cluster, prefix, events: { bus, publishLua: '' } });
  expect(store.publishesEvents).toBe(false);
});

it('DLQ retention on a Cluster: deadLetterMaxLen caps each partition stream in its own slot, newest kept', async () => {
  const store = new RedisSagaStore({ redis: cluster, prefix: `${prefix}cap:`, partitions: 2, deadLetterMaxLen: 3 });
  for (let i = 0; i < 12; i++) {
    await store.addDeadLetter({ sagaId: `s${i}`, saga: 's', step: 'x', error: '{}', context: '{}', at: i });
  }
  const kept = (await store.listDeadLetters()).map((d) => d.sagaId);
  // Two partitions (two slots), each trimmed to its newest 3: 6 kept, none of them an old entry of its partition.
  expect(kept).toHaveLength(6);
  const byPartition = new Map<number, number[]>();
  for (let i = 0; i < 12; i++) {
    const p = partitionOf(`s${i}`, 2);
    byPartition.set(p, [...(byPartition.get(p) ?? []), i]);
  }
  const expected = [...byPartition.values()].flatMap((is) => is.slice(-3)).map((i) => `s${i}`);
  expect(kept.sort()).toEqual(expected.sort());
});

const sagaBackend = {
  create: () => ({
    store: new RedisSagaStore({ redis: cluster, prefix, partitions: 8 }),
    clock: new FakeClock(),
    leaseMs: LEASE_MS,
    expireLeases: () => sleep(systemClock, LEASE_MS + 30),
  }),
};
sagaContract('redis-cluster', sagaBackend);
sagaV2Contract('redis-cluster', sagaBackend);

let n = 0;
storeContract('redis-cluster', {
  create: () => ({
    store: new RedisSagaStore({ redis: cluster, prefix, partitions: 8 }),
    leaseMs: 100,
    expire: () => sleep(systemClock, 130),
    id: () => `cs-${Date.now().toString(36)}-${n++}`,
  }),
});
