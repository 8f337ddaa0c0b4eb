// WAIT-based durability (issue 27 §3): a private master + one replica. With the replica live a saga with
// `durability: { replicas: 1 }` runs; with the replica paused (SIGSTOP) its first write rejects typed within about
// timeoutMs, naming the node and acked vs asked — and the write stands on the master; without durability the
// same paused-replica run succeeds silently. On the shared Cluster (masters only) WAIT is routed to the master
// of the key's slot.
import { createRedis, hashSlot, type Redis, sleep, systemClock } from '@ballast/core';
import { type RedisServer, startRedisServer } from '@ballast/testkit';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator, defineSaga, isSagaDurabilityError, RedisSagaStore } from '../src/index';

let master: RedisServer;
let replica: RedisServer;
let redis: Redis;

const saga = defineSaga<{ n: number }>('durable', {
  steps: [
    { name: 'a', run: async () => {} },
    { name: 'b', run: async () => {} },
  ],
});

beforeAll(async () => {
  // No 5 s wait before the replica's first (diskless) sync.
  master = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] });
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  redis = createRedis(master.url) as Redis;
  redis.on('error', () => {});
  // The replica is online once the master lists it as such (generous bound: a loaded machine).
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

describe('RedisSagaStore durability (WAIT)', () => {
  it('refuses a bad durability option with a typed error naming the field', () => {
    expect(() => new RedisSagaStore({ redis, durability: { replicas: 0, timeoutMs: 100 } })).toThrow(/replicas/);
    expect(() => new RedisSagaStore({ redis, durability: { replicas: 1, timeoutMs: 0 } })).toThrow(/timeoutMs/);
  });

  it('with the replica live, a saga with replicas: 1 runs to completion', async () => {
    const store = new RedisSagaStore({ redis, prefix: 'live', durability: { replicas: 1, timeoutMs: 5_000 } });
    const o = createOrchestrator({ store, sweepIntervalMs: 0 });
    await o.run(saga, { n: 1 }, { sagaId: 'live-1' });
    expect((await store.get('live-1'))?.status).toBe('completed');
    await o.close();
  });

  it('with the replica paused, the write rejects typed within ~timeoutMs and stands on the master; without durability it succeeds silently', async () => {
    replica.pause();
    try {
      const store = new RedisSagaStore({ redis, prefix: 'paused', durability: { replicas: 1, timeoutMs: 300 } });
      const o = createOrchestrator({ store, sweepIntervalMs: 0 });
      const t = performance.now();
      const error = await o.run(saga, { n: 2 }, { sagaId: 'paused-1' }).catch((e: unknown) => e);
      const took = performance.now() - t;
      expect(isSagaDurabilityError(error)).toBe(true);
      expect(error).toMatchObject({ backend: 'redis', node: `127.0.0.1:${master.port}`, acked: 0, asked: 1 });
      expect((error as Error).message).toMatch(/only 0 of 1 replicas/);
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(5_000);
      // WAIT is not a rollback: the saga's create is on the master.
      expect(await store.get('paused-1')).toBeDefined();
      await o.close();

      // Negative check: the same run with the replica still paused, no durability — succeeds, nobody is told.
      const plain = new RedisSagaStore({ redis, prefix: 'paused' });
      const p = createOrchestrator({ store: plain, sweepIntervalMs: 0 });
      await p.run(saga, { n: 3 }, { sagaId: 'paused-2' });
      expect((await plain.get('paused-2'))?.status).toBe('completed');
      await p.close();
    } finally {
      replica.resume();
    }
  });
});

describe('a write mid-saga falls short', () => {
  it('run rejects typed, the saga stays as written (running, step a done) and a sweeper finishes it once replicas ack', async () => {
    const durability = { replicas: 1, timeoutMs: 300 };
    const store = new RedisSagaStore({ redis, prefix: 'mid', durability });
    const o = createOrchestrator({ store, sweepIntervalMs: 0, leaseMs: 300 });
    const mid = defineSaga<{ n: number }>('mid', {
      steps: [
        { name: 'a', run: async () => replica.pause(), compensate: async () => {} },
        { name: 'b', run: async () => {} },
      ],
    });
    const error = await o.run(mid, { n: 1 }, { sagaId: 'mid-1' }).catch((e: unknown) => e);
    replica.resume();
    expect(isSagaDurabilityError(error)).toBe(true);
    expect(error).toMatchObject({ operation: 'advance', acked: 0, asked: 1 });
    expect(await store.get('mid-1')).toMatchObject({ status: 'running', executedSteps: ['a'], currentStep: 1 });
    await o.close();

    const sweeper = createOrchestrator({ store, sagas: [mid], sweepIntervalMs: 0, leaseMs: 300 });
    const deadline = Date.now() + 10_000;
    while ((await store.get('mid-1'))?.status !== 'completed') {
      if (Date.now() > deadline) throw new Error('the sweeper never finished the saga');
      await sweeper.sweep();
      await sleep(systemClock, 50);
    }
    await sweeper.close();
  });
});

describe('RedisSagaStore durability on a Cluster', () => {
  const fx = useRedisClusterFixture({ name: 'saga-durability' });
  it('routes WAIT to the master of the key slot (the shared Cluster has no replicas: 0 of 1)', async () => {
    const store = new RedisSagaStore({
      redis: fx.cluster,
      prefix: fx.prefix,
      partitions: 4,
      durability: { replicas: 1, timeoutMs: 50 },
    });
    // WAITs each master has served (INFO commandstats): the one the store names must be the one that got it.
    const waits = async () => {
      const out = new Map<string, number>();
      for (const n of fx.cluster.nodes('master')) {
        const stats = String(await n.info('commandstats'));
        out.set(`${n.options.host}:${n.options.port}`, Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0));
      }
      return out;
    };
    const nodes = new Set<string>();
    for (const id of ['c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6', 'c-7', 'c-8']) {
      const before = await waits();
      const error = await store.create({ id, saga: 's', owner: 'me', context: '{}' }, 1_000).catch((e: unknown) => e);
      expect(isSagaDurabilityError(error)).toBe(true);
      const key = store.keysOf(id).saga;
      const slot = hashSlot(key);
      const ranges = (await fx.cluster.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const [, , [host, port]] = ranges.find(([from, to]) => slot >= from && slot <= to)!;
      expect(error).toMatchObject({ node: `${host}:${port}`, key, acked: 0, asked: 1 });
      const after = await waits();
      expect(after.get(`${host}:${port}`)! - before.get(`${host}:${port}`)!).toBeGreaterThanOrEqual(1);
      nodes.add(`${host}:${port}`);
    }
    expect(nodes.size).toBeGreaterThan(1); // more than one master was asked
  });
});
