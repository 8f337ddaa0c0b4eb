// WAIT-based durability for lock grants (issue 27 §3): a private master + one replica. Without it a failover to a
// replica that missed a grant loses the hold and the fencing counter's increment (reliability's cluster-failover
// lagged run: tokens issued twice). With the replica live `acquire` resolves; with it paused (SIGSTOP) `acquire`
// rejects typed within about timeoutMs and the hold is released; a grant handed over by a fair release (written by
// the releasing client's connection) is waited on too.
import { createRedis, isInvalidOptionsError, type Redis, sleep, systemClock } from '@ballast/core';
import { type RedisServer, startRedisServer } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLockManager, isLockDurabilityError, lockKeys } from '../src/index';

let master: RedisServer;
let replica: RedisServer;
let redis: Redis;
let other: Redis;

beforeAll(async () => {
  // No 5 s wait before the replica's first (diskless) sync.
  master = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] });
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  redis = createRedis(master.url) as Redis;
  other = createRedis(master.url) as Redis;
  for (const r of [redis, other]) r.on('error', () => {});
  const deadline = Date.now() + 15_000;
  while (!/slave0:.*state=online/.test(await redis.info('replication'))) {
    if (Date.now() > deadline) throw new Error('replica never came online');
    await sleep(systemClock, 20);
  }
}, 30_000);
afterAll(async () => {
  redis?.disconnect();
  other?.disconnect();
  replica?.resume();
  await Promise.all([replica?.stop(), master?.stop()]);
});

describe('lock durability (WAIT) on Redis', () => {
  it('refuses a bad durability option, and durability without the redis option, with typed errors naming the field', () => {
    const errorOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const bad = errorOf(() => createLockManager({ redis, durability: { replicas: 0, timeoutMs: 100 } }));
    expect(isInvalidOptionsError(bad)).toBe(true);
    expect(String((bad as Error).message)).toMatch(/durability\.replicas/);
    const memory = errorOf(() => createLockManager({ durability: { replicas: 1, timeoutMs: 100 } }));
    expect(isInvalidOptionsError(memory)).toBe(true);
    expect(String((memory as Error).message)).toMatch(/durability/);
  });

  it('with the replica live, acquire with replicas: 1 resolves', async () => {
    const m = createLockManager({ redis, prefix: 'dur-live', durability: { replicas: 1, timeoutMs: 5_000 } });
    const lease = await m.acquire('a');
    expect(lease.fencingToken).toBeGreaterThan(0);
    await lease.release();
    await m.close();
  });

  it('with the replica paused, acquire rejects typed within ~timeoutMs and releases the hold; without durability it succeeds', async () => {
    const m = createLockManager({ redis, prefix: 'dur-paused', durability: { replicas: 1, timeoutMs: 300 } });
    const plain = createLockManager({ redis: other, prefix: 'dur-paused' });
    replica.pause();
    try {
      const t = performance.now();
      const error = await m.acquire('a').catch((e: unknown) => e);
      const took = performance.now() - t;
      expect(isLockDurabilityError(error)).toBe(true);
      expect(error).toMatchObject({
        backend: 'redis',
        node: `127.0.0.1:${master.port}`,
        key: 'a',
        acked: 0,
        asked: 1,
        timeoutMs: 300,
      });
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(5_000);
      // Released: another client gets it at once (and, without durability, nothing waits for the replica).
      const lease = await plain.tryAcquire('a');
      expect(lease).toBeDefined();
      await lease?.release();
    } finally {
      replica.resume();
      await m.close();
      await plain.close();
    }
  });

  it('a grant handed over by a fair release is waited on too: with the replica paused the waiter is refused', async () => {
    const prefix = 'dur-handoff';
    const holder = createLockManager({ redis: other, prefix });
    // A ttl within the queue entry's 10 s: the hold is handed over whole, so nothing tops it up (an extend that
    // would be a write of the waiter's own, hiding what this test is about).
    const waiter = createLockManager({ redis, prefix, ttlMs: 5_000, durability: { replicas: 1, timeoutMs: 300 } });
    const held = await holder.acquire('h');
    const waiting = waiter.acquire('h', { waitMs: 10_000 }).catch((e: unknown) => e);
    // Queued (its queue entry written and replicated) before the replica stops.
    const queue = lockKeys(prefix, 'h').queue;
    const deadline = Date.now() + 5_000;
    while ((await redis.llen(queue)) === 0) {
      if (Date.now() > deadline) throw new Error('the waiter never queued');
      await sleep(systemClock, 10);
    }
    await redis.wait(1, 1_000);
    replica.pause();
    try {
      // The release script hands the lock to the waiter on the HOLDER's connection: a WAIT on the waiter's own
      // connection alone would see only its queue entry — replicated — and return at once.
      await held.release();
      const error = await waiting;
      expect(isLockDurabilityError(error)).toBe(true);
      expect(error).toMatchObject({ key: 'h', acked: 0, asked: 1 });
    } finally {
      replica.resume();
      await holder.close();
      await waiter.close();
    }
  });
});
