/**
 * Where the three parts of issue 18 meet, on the real server: the fair queue (§2) against close() and the
 * multi-lock, one fencing counter (§1) across the manager, the multi-lock and the read/write upgrade (§3).
 * Managers in one test stand for processes: each has its own connections.
 */
import { createLogger } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import type { LockBackend } from '../src/backend';
import type { RedisLockBackend } from '../src/backends/redis';
import { isLockManagerClosedError } from '../src/errors';
import { lockKeys, waitForKey } from '../src/keys';
import { LockManager } from '../src/manager';
import { MultiLock } from '../src/multi-lock';
import type { LockManagerOptions } from '../src/options';
import { ReadWriteLock } from '../src/rw-lock';
import { WaitGraph } from '../src/wait-graph';

const fx = useRedisFixture({ name: 'lock-integration' });
const quiet = createLogger({ level: 'silent' });
const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c.close();
});
const track = <T extends { close(): Promise<void> }>(x: T) => {
  closers.push(x);
  return x;
};

function manager(options: LockManagerOptions = {}, prefix = fx.current.prefix) {
  return track(new LockManager({ redis: fx.current.duplicate(), prefix, logger: quiet, ...options }));
}

/** Resolves once `m`'s next fair attempt comes back refused and queued (the caller's entry is in the list). */
function nextQueued(m: LockManager): Promise<void> {
  const backend = m.backend as RedisLockBackend;
  const original = backend.tryAcquireFair.bind(backend);
  return new Promise((resolve) => {
    backend.tryAcquireFair = async (...args) => {
      const r = await original(...args);
      if (!r.acquired && args[3].queueMs > 0) {
        backend.tryAcquireFair = original;
        resolve();
      }
      return r;
    };
  });
}

describe('close() and the fair queue', () => {
  it('close() while a fair waiter is queued: it is rejected with LockManagerClosedError and leaves the queue; the next waiter gets the lock at once', async () => {
    const key = 'close-fair';
    const q = lockKeys(fx.current.prefix, key).queue;
    const holder = await manager().acquire(key);
    // A stale entry would block the next waiter for 60 s, far beyond its 5 s wait.
    const closing = manager({ fairQueueTtlMs: 60_000, maxRetryDelayMs: 60_000 });
    const queuedB = nextQueued(closing);
    const b = closing.acquire(key).catch((e: unknown) => e);
    await queuedB;
    const next = manager({ maxRetryDelayMs: 60_000 });
    const queuedC = nextQueued(next);
    const c = next.acquire(key, { waitMs: 5_000 });
    await queuedC;
    expect(await fx.current.redis.llen(q)).toBe(2);
    await closing.close();
    expect(isLockManagerClosedError(await b)).toBe(true);
    expect(await fx.current.redis.llen(q)).toBe(1); // its entry left with it
    await holder.release(); // handed to the next live waiter by the release script
    const lease = await c;
    await lease.release();
  });
});

describe('the wait-for graph and fair hand-offs', () => {
  it('a waiter the release script already made the holder (before it heard) is not a deadlock with itself', async () => {
    const clock = new FakeClock();
    let looked: () => void = () => {};
    const lookedAt = new Promise<void>((r) => {
      looked = r;
    });
    // The key was handed to the waiter: the lock's own state names it the holder while its wait still runs.
    const backend = {
      holders: async () => {
        looked();
        return { mode: 'exclusive' as const, holders: { 'w.1': 1 } };
      },
    } as unknown as LockBackend;
    const graph = new WaitGraph(fx.current.redis, fx.current.prefix, backend, clock, quiet);
    const deadlocks: unknown[] = [];
    const stop = graph.watch('w.1', 'handed', (e) => deadlocks.push(e));
    clock.advance(50); // the first look at the graph
    await lookedAt;
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    stop();
    expect(deadlocks).toEqual([]);
  });
});

describe('the wait-for graph under a busy hand-off chain', () => {
  it('holders read at different moments of one key are not a cycle (stale edges of waiters just granted)', async () => {
    const clock = new FakeClock();
    const { redis, prefix } = fx.current;
    // w.1 waits for "hot"; each read of its holders sees the next worker of a fast fair chain, the last one w.1
    // itself (handed the lock meanwhile); h.1 and h.2 were granted and have not dropped their edges yet.
    const seen = ['h.1', 'h.2', 'w.1'];
    let reads = 0;
    let looked: () => void = () => {};
    const lookedAll = new Promise<void>((r) => {
      looked = r;
    });
    const backend = {
      holders: async () => {
        const holder = seen[Math.min(reads++, seen.length - 1)]!;
        if (reads >= seen.length) looked();
        return { mode: 'exclusive' as const, holders: { [holder]: 1 } };
      },
    } as unknown as LockBackend;
    for (const h of ['h.1', 'h.2']) await redis.set(waitForKey(prefix, h), 'hot', 'PX', 5_000);
    const graph = new WaitGraph(redis, prefix, backend, clock, quiet);
    const deadlocks: unknown[] = [];
    const stop = graph.watch('w.1', 'hot', (e) => deadlocks.push(e));
    clock.advance(50); // the first look at the graph
    await Promise.race([lookedAll, new Promise((r) => setTimeout(r, 2_000))]);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    stop();
    expect(deadlocks).toEqual([]);
  });
});

describe('one fencing counter across the manager, the multi-lock and the read/write upgrade', () => {
  it('a multi-lock grant after a manager grant on the same key has a greater fence; an upgrade greater than any before', async () => {
    const { redis, prefix } = fx.current;
    const m = manager();
    const multi = track(new MultiLock({ redis, prefix, logger: quiet }));
    const rw = track(new ReadWriteLock({ redis, prefix, logger: quiet }));
    const [k, j] = ['fence-k', 'fence-j'];
    const a = await m.acquire(k);
    await a.release();
    const ml = await multi.acquire([k, j]);
    expect(ml.fencingTokens[k]).toBeGreaterThan(a.fencingToken);
    await ml.release();
    const b = await m.acquire(k);
    expect(b.fencingToken).toBeGreaterThan(ml.fencingTokens[k]!);
    await b.release();
    const r = await rw.read(k);
    const read = r.fencingToken;
    expect(read).toBeGreaterThan(b.fencingToken);
    const other = await m.acquire('fence-elsewhere'); // the counter moves on meanwhile
    await other.release();
    await r.upgrade();
    expect(r.fencingToken).toBeGreaterThan(Math.max(read, other.fencingToken));
    await r.release();
    const c = await m.acquire(k);
    expect(c.fencingToken).toBeGreaterThan(r.fencingToken);
    await c.release();
  });

  it('multi-locks and upgrades on many keys leave no per-lock permanent key', async () => {
    const prefix = `${fx.current.prefix}:prim-many`;
    const { redis } = fx.current;
    const multi = track(new MultiLock({ redis, prefix, logger: quiet, autoExtend: false }));
    const rw = track(new ReadWriteLock({ redis, prefix, logger: quiet, autoExtend: false }));
    for (let i = 0; i < 300; i += 3) {
      const l = await multi.acquire([`k:${i}`, `k:${i + 1}`]);
      await l.release();
      const r = await rw.read(`k:${i + 2}`);
      await r.upgrade();
      await r.downgrade();
      await r.release();
    }
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5_000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    expect(keys).toEqual([`${prefix}:lock:fences`]);
  });
});

describe('a multi-lock and the fair queue', () => {
  it('does not take a free key a live fair waiter queued for first (it waits its turn), nor any other key', async () => {
    const { redis, prefix } = fx.current;
    const key = 'mq-key';
    const k = lockKeys(prefix, key);
    const holder = manager();
    const lease = await holder.acquire(key, { autoExtend: false });
    // A waiter queued behind the holder, whose process then stopped refreshing: its entry lives 60 s.
    const backend = holder.backend as RedisLockBackend;
    expect((await backend.tryAcquireFair(key, 'ghost', 30_000, { queueMs: 60_000 })).acquired).toBe(false);
    // The holder's key runs out (as its ttl would): free, with a live waiter queued.
    await redis.del(k.owners);
    const multi = track(new MultiLock({ redis, prefix, logger: quiet }));
    expect(multi.atomic([key, 'mq-other'])).toBe(true);
    expect(await multi.tryAcquire([key, 'mq-other'])).toBeUndefined();
    expect(await redis.exists(k.owners)).toBe(0);
    const other = await holder.tryAcquire('mq-other'); // nothing taken by the refused attempt
    expect(other).toBeDefined();
    await other!.release();
    await backend.leaveQueue(key, 'ghost');
    const ml = await multi.acquire([key, 'mq-other'], { waitMs: 5_000 });
    expect(ml.fencingTokens[key]).toBeGreaterThan(lease.fencingToken);
    await ml.release();
  });
});
