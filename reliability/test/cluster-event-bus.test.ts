/**
 * The event-bus Transport contract on the 3-master Redis Cluster (127.0.0.1:7001-7003), in full.
 *
 * It once found a real gap: "aborting a blocked read resolves it with [] promptly" failed on Cluster, because
 * `CLIENT ID` / `CLIENT UNBLOCK` are keyless, so ioredis sent them to arbitrary nodes while the XREADGROUP
 * blocked on the node owning the stream's slot (client ids are per node). RedisTransport now closes the
 * consumer's blocking connection on abort when it runs on a Cluster; the regression below uses six readers so
 * that a lucky routing could not hide the old behaviour.
 */
import { randomUUID } from 'node:crypto';
import { type Cluster, createRedis } from '@ballast/core';
import { RedisTransport } from '@ballast/event-bus';
import { track } from '@ballast/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { transportContract } from '../../packages/event-bus/test/transport.contract';

let cluster: Cluster;
const prefix = `test-cluster-bus-${randomUUID().slice(0, 8)}:`;
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

transportContract('redis-cluster', {
  create: () => ({ transport: new RedisTransport({ redis: cluster, prefix }), type: `t${n++}` }),
  destroy: ({ transport }) => transport.close(),
});

it('aborted blocked reads on a Cluster come back at once with [], and the consumer can read again', async () => {
  const t = new RedisTransport({ redis: cluster, prefix });
  await t.ensureGroup('abort', 'g');
  const controller = new AbortController();
  const reads = Array.from({ length: 6 }, (_, i) =>
    track(t.read('abort', 'g', `c${i}`, 10, 10_000, controller.signal)),
  );
  await new Promise((resolve) => setImmediate(resolve));
  controller.abort();
  // Well inside the 10 s BLOCK: the old behaviour waited it out.
  await expect.poll(() => reads.every((r) => r.done), { timeout: 3_000, interval: 20 }).toBe(true);
  for (const r of reads) expect(r.value).toEqual([]);
  // The consumer gets a fresh blocking connection and reads what arrives.
  const next = t.read('abort', 'g', 'c0', 10, 5_000);
  await t.publish('abort', { n: '1' });
  expect((await next).map((e) => e.fields.n)).toEqual(['1']);
  await t.close();
}, 40_000);
