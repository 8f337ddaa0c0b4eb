import { sleep, systemClock } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import { RedisSagaStore } from '../src/index';
import { sagaContract } from './orchestrator.contract';
import { storeContract } from './store.contract';
import { sagaV2Contract } from './v2.contract';

const fx = useRedisFixture({ name: 'saga' });
/** Leases are on the Redis server's clock: short, so the recovery tests wait little. */
const LEASE_MS = 250;

const sagaBackend = {
  create: () => ({
    store: new RedisSagaStore({ redis: fx.current.redis, prefix: fx.current.prefix, partitions: 4 }),
    clock: new FakeClock(),
    leaseMs: LEASE_MS,
    expireLeases: () => sleep(systemClock, LEASE_MS + 30),
  }),
};
sagaContract('redis', sagaBackend);
sagaV2Contract('redis', sagaBackend);

let n = 0;
storeContract('redis', {
  create: () => ({
    store: new RedisSagaStore({ redis: fx.current.redis, prefix: fx.current.prefix, partitions: 4 }),
    leaseMs: 100,
    expire: () => sleep(systemClock, 130),
    id: () => `rs-${Date.now().toString(36)}-${n++}`,
  }),
});

it('DLQ retention: deadLetterMaxLen caps each partition stream, newest kept', async () => {
  const store = new RedisSagaStore({
    redis: fx.current.redis,
    prefix: `${fx.current.prefix}cap:`,
    partitions: 1,
    deadLetterMaxLen: 3,
  });
  for (let i = 0; i < 5; i++) {
    await store.addDeadLetter({ sagaId: `s${i}`, saga: 's', step: 'x', error: '{}', context: '{}', at: i });
  }
  expect((await store.listDeadLetters()).map((d) => d.sagaId)).toEqual(['s2', 's3', 's4']);
});
