import type { Cluster } from '@ballast/core';
import { RedisTransport } from '@ballast/event-bus';
import { track } from '@ballast/testkit';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { beforeAll, expect, it } from 'vitest';
import { transportContract } from '../../packages/event-bus/test/transport.contract';

const fx = useRedisClusterFixture({ name: 'bus-contract-cluster' });
let cluster: Cluster;
const prefix = `${fx.prefix}:`;
let n = 0;

beforeAll(() => {
  cluster = fx.cluster;
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
