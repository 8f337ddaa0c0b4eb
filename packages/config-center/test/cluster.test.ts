import { type Cluster, createLogger, createRedis } from '@ballast/core';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { createConfig, defaults, redisHash } from '../src';

const fx = useRedisClusterFixture({ name: 'config-cluster' });
let cluster: Cluster;
const prefix = fx.prefix;
const nodes = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];

beforeAll(() => {
  cluster = fx.cluster;
});
it('commits, versions and propagates a write between two configs on Redis Cluster', async () => {
  const schema = z.object({ db: z.object({ pool: z.object({ max: z.number() }) }) });
  const logger = createLogger({ level: 'silent' });
  const other = createRedis({ nodes }) as Cluster;
  const one = await createConfig({
    schema,
    logger,
    sources: [defaults({ db: { pool: { max: 1 } } }), redisHash({ redis: cluster, prefix, name: 'user-service' })],
  });
  const two = await createConfig({
    schema,
    logger,
    sources: [defaults({ db: { pool: { max: 1 } } }), redisHash({ redis: other, prefix, name: 'user-service' })],
  });
  try {
    const seen = new Promise<number>((resolve) => two.watch('db.pool.max', resolve));
    await one.set('db.pool.max', 9);
    expect(await seen).toBe(9);
    await one.set('db.pool.max', 10);
    await one.rollback(1);
    await expect.poll(() => two.get('db.pool.max')).toBe(9);
    expect((await two.history()).map((r) => r.version)).toEqual([3, 2, 1]);
  } finally {
    await one.close();
    await two.close();
    other.disconnect();
  }
});
