import { createRedis, type Redis, sleep, systemClock } from '@ballast/core';
import { type RedisServer, startRedisServer } from '@ballast/testkit';

/**
 * A private master with one replica on spare ports (for the WAIT rows: what `durability` costs), once the
 * replica is online. The master syncs it at once (no 5 s diskless delay).
 */
export async function masterWithReplica(
  suite: string,
): Promise<{ master: RedisServer; replica: RedisServer; redis: Redis }> {
  const master = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] });
  const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  const redis = createRedis(master.url) as Redis;
  const deadline = Date.now() + 30_000;
  while (!/slave0:.*state=online/.test(await redis.info('replication'))) {
    if (Date.now() > deadline) {
      redis.disconnect();
      await Promise.all([replica.stop(), master.stop()]);
      throw new Error(`bench ${suite}: the private replica never came online`);
    }
    await sleep(systemClock, 20);
  }
  return { master, replica, redis };
}
