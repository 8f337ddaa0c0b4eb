import { type Cluster, hashSlot } from '@ballast/core';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { createQueue, type Queue, queueKeys } from '../src/index';
import { flowsContract } from './flows.contract';
import { queueContract } from './queue.contract';

const fx = useRedisClusterFixture({ name: 'queue-cluster' });
let cluster: Cluster;
const prefix = fx.prefix;
let n = 0;
const open: Queue[] = [];

beforeAll(() => {
  cluster = fx.cluster;
});
afterEach(async () => {
  for (const q of open.splice(0)) await q.close();
});
it('puts every key of a queue in one slot, different queues in different slots', () => {
  const a = queueKeys('emails', prefix);
  const slots = new Set([...a.all, `${a.job}42`].map(hashSlot));
  expect(slots.size).toBe(1);
  expect(hashSlot(queueKeys('sms', prefix).wait)).not.toBe(hashSlot(a.wait));
});

const clusterBackend = {
  create: () => ({
    newQueue: (options: Parameters<typeof createQueue>[1] = {}) => {
      const q = createQueue(`c${n++}`, { ...options, backend: 'redis', redis: cluster, prefix });
      open.push(q);
      return q;
    },
  }),
};
queueContract('redis-cluster', clusterBackend);
// Cross-queue flows here put a parent and its children in different slots (the outbox path).
flowsContract('redis-cluster', clusterBackend);
