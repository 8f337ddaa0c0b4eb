/**
 * The Redis contract on the local 3-master Redis Cluster (7001-7003): every key of a queue shares its hash
 * tag, so each state move is one script on one slot.
 */
import { randomUUID } from 'node:crypto';
import { type Cluster, createRedis, hashSlot } from '@ballast/core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createQueue, type Queue, queueKeys } from '../src/index';
import { queueContract } from './queue.contract';

let cluster: Cluster;
const prefix = `test:queue-cluster:${randomUUID().slice(0, 8)}`;
let n = 0;
const open: Queue[] = [];

beforeAll(async () => {
  cluster = createRedis({ nodes: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'] }) as Cluster;
  await cluster.ping();
});
afterEach(async () => {
  for (const q of open.splice(0)) await q.close();
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

it('puts every key of a queue in one slot, different queues in different slots', () => {
  const a = queueKeys('emails', prefix);
  const slots = new Set([...a.all, `${a.job}42`].map(hashSlot));
  expect(slots.size).toBe(1);
  expect(hashSlot(queueKeys('sms', prefix).wait)).not.toBe(hashSlot(a.wait));
});

queueContract('redis-cluster', {
  create: () => ({
    newQueue: (options = {}) => {
      const q = createQueue(`c${n++}`, { ...options, backend: 'redis', redis: cluster, prefix });
      open.push(q);
      return q;
    },
  }),
});
