// WAIT-based durability for the Redis queue's add (issue 27 §3): a private master + one replica. With the replica
// live `add` resolves; with it paused (SIGSTOP) `add` rejects typed within about timeoutMs — the job is queued on
// the master all the same; without durability the same add succeeds silently.
import { createRedis, hashSlot, isInvalidOptionsError, type Redis, sleep, systemClock } from '@ballast/core';
import { type RedisServer, startRedisServer } from '@ballast/testkit';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, isQueueDurabilityError } from '../src/index';
import { queueKeys } from '../src/keys';

let master: RedisServer;
let replica: RedisServer;
let redis: Redis;

beforeAll(async () => {
  // No 5 s wait before the replica's first (diskless) sync.
  master = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] });
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  redis = createRedis(master.url) as Redis;
  redis.on('error', () => {});
  const deadline = Date.now() + 15_000;
  while (!/slave0:.*state=online/.test(await redis.info('replication'))) {
    if (Date.now() > deadline) throw new Error('replica never came online');
    await sleep(systemClock, 20);
  }
}, 30_000);
afterAll(async () => {
  redis?.disconnect();
  replica?.resume();
  await Promise.all([replica?.stop(), master?.stop()]);
});

describe('queue durability (WAIT) on Redis', () => {
  it('refuses a bad durability option with a typed error naming the field', () => {
    let error: unknown;
    try {
      createQueue('bad', { backend: 'redis', redis, durability: { replicas: 0, timeoutMs: 100 } });
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionsError(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/durability\.replicas/);
  });

  it('with the replica live, add with replicas: 1 resolves', async () => {
    const q = createQueue('live', { backend: 'redis', redis, durability: { replicas: 1, timeoutMs: 5_000 } });
    const added = await q.add('job', { n: 1 });
    expect(added.duplicate).toBe(false);
    await q.close();
  });

  it('with the replica paused, add rejects typed within ~timeoutMs and the job stays queued; without durability it succeeds silently', async () => {
    replica.pause();
    try {
      const q = createQueue('paused', { backend: 'redis', redis, durability: { replicas: 1, timeoutMs: 300 } });
      const t = performance.now();
      const error = await q.add('job', { n: 2 }, { jobId: 'j-1' }).catch((e: unknown) => e);
      const took = performance.now() - t;
      expect(isQueueDurabilityError(error)).toBe(true);
      expect(error).toMatchObject({
        backend: 'redis',
        node: `127.0.0.1:${master.port}`,
        queue: 'paused',
        jobIds: ['j-1'],
        acked: 0,
        asked: 1,
      });
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(5_000);
      expect((await q.getJob('j-1'))?.state).toBe('waiting'); // WAIT is not a rollback
      await q.close();

      const plain = createQueue('paused', { backend: 'redis', redis });
      expect((await plain.add('job', { n: 3 }, { jobId: 'j-2' })).duplicate).toBe(false);
      await plain.close();
    } finally {
      replica.resume();
    }
  });
});

describe('queue durability on a Cluster', () => {
  const fx = useRedisClusterFixture({ name: 'queue-durability' });
  it("routes WAIT to the master of the queue's slot (the shared Cluster has no replicas: 0 of 1)", async () => {
    const waits = async () => {
      const out = new Map<string, number>();
      for (const n of fx.cluster.nodes('master')) {
        const stats = String(await n.info('commandstats'));
        out.set(`${n.options.host}:${n.options.port}`, Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0));
      }
      return out;
    };
    const ranges = (await fx.cluster.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const nodes = new Set<string>();
    for (const name of ['qa', 'qb', 'qc', 'qd', 'qe', 'qf']) {
      const q = createQueue(name, {
        backend: 'redis',
        redis: fx.cluster,
        prefix: fx.prefix,
        durability: { replicas: 1, timeoutMs: 50 },
      });
      const slot = hashSlot(queueKeys(name, fx.prefix).job);
      const [, , [host, port]] = ranges.find(([from, to]) => slot >= from && slot <= to)!;
      const before = await waits();
      const error = await q.add('job', {}).catch((e: unknown) => e);
      expect(isQueueDurabilityError(error)).toBe(true);
      expect(error).toMatchObject({ node: `${host}:${port}`, queue: name, acked: 0, asked: 1 });
      const after = await waits();
      expect(after.get(`${host}:${port}`)! - before.get(`${host}:${port}`)!).toBeGreaterThanOrEqual(1);
      nodes.add(`${host}:${port}`);
      await q.close();
    }
    expect(nodes.size).toBeGreaterThan(1);
  });
});
