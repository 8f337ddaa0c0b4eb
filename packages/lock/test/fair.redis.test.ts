/**
 * §2 fair mode and the §1 bullets that live in the same scripts (reentrant fencing/ttl, keys that never
 * expire), on the real server. Managers in one test stand for processes: each has its own connections.
 */
import { createLogger } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import type { AcquireResult } from '../src/backend';
import type { RedisLockBackend } from '../src/backends/redis';
import { isLockTimeoutError } from '../src/errors';
import { fencedSet } from '../src/fencing';
import { lockKeys } from '../src/keys';
import type { Lease } from '../src/lease';
import { LockManager } from '../src/manager';
import type { LockManagerOptions } from '../src/options';

const fx = useRedisFixture({ name: 'lock-fair' });
const quiet = createLogger({ level: 'silent' });
const managers: LockManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
});

/** A manager on its own connection (another process, as far as Redis can tell). */
function manager(options: LockManagerOptions = {}) {
  const m = new LockManager({ redis: fx.current.duplicate(), prefix: fx.current.prefix, logger: quiet, ...options });
  managers.push(m);
  return m;
}

/** Counts a backend's fair scripts and tells when a call came back refused (the caller is then queued). */
function watchFair(m: LockManager) {
  const backend = m.backend as RedisLockBackend;
  const original = backend.tryAcquireFair.bind(backend);
  let calls = 0;
  const queued: (() => void)[] = [];
  backend.tryAcquireFair = async (...args) => {
    calls++;
    const r: AcquireResult = await original(...args);
    if (!r.acquired && args[3].queueMs > 0) queued.shift()?.();
    return r;
  };
  return {
    calls: () => calls,
    /** Resolves when the next queued refusal comes back. */
    nextQueued: () => new Promise<void>((resolve) => queued.push(resolve)),
  };
}

describe('fair (FIFO) exclusive locks on Redis', () => {
  it('are the default: waiters get the lock in the order they queued, across managers', async () => {
    const holder = manager();
    const first = await holder.acquire('fifo');
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      const m = manager();
      const w = watchFair(m);
      const queued = w.nextQueued();
      waiters.push(
        m.acquire('fifo', { waitMs: 10_000 }).then(async (lease) => {
          order.push(i);
          await lease.release();
        }),
      );
      await queued; // i is in the queue before i + 1 asks
    }
    // A newcomer that would take a free lock at once (non-fair) does not jump the queue either.
    const late = holder.tryAcquire('fifo');
    await first.release();
    expect(await late).toBeUndefined();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('a release hands the lock over in its own script: the waiter holds it without another acquire round trip', async () => {
    const holder = manager();
    // No refresh of the queue entry during the test: the hand-off alone must wake the waiter.
    const waiter = manager({ maxRetryDelayMs: 30_000, fairQueueTtlMs: 60_000 });
    const w = watchFair(waiter);
    const lease = await holder.acquire('handoff', { ttlMs: 30_000 });
    const queued = w.nextQueued();
    const next = waiter.acquire('handoff', { waitMs: 20_000, ttlMs: 30_000 });
    await queued;
    expect(w.calls()).toBe(2); // the first attempt, then the one that queued
    await lease.release();
    const got = await next;
    expect(w.calls()).toBe(2); // nothing more: the grant came with the release
    expect(got.fencingToken).toBeGreaterThan(lease.fencingToken);
    expect(await waiter.backend.holders('handoff')).toEqual({ mode: 'exclusive', holders: { [got.token]: 1 } });
    // The hold lasts the ttl asked (the entry had more than that left), and is valid on our clock.
    expect(await fx.current.redis.pttl(lockKeys(fx.current.prefix, 'handoff').owners)).toBeGreaterThan(20_000);
    expect(got.validUntil).toBeGreaterThan(performance.now() + 20_000);
    // The channel is subscribed now: the next wait queues with its very first attempt.
    const again = waiter.acquire('handoff', { waitMs: 20_000 });
    const queuedAgain = w.nextQueued();
    await queuedAgain;
    expect(w.calls()).toBe(3);
    // … and a re-entry by the holder on that subscribed key is still a re-entry, not a waiter's answer.
    const inner = await waiter.acquire('handoff', { owner: got.token, waitMs: 1_000 });
    expect(inner.count).toBe(2);
    expect(inner.fencingToken).toBe(got.fencingToken);
    await inner.release();
    await got.release();
    await (await again).release();
    expect(w.calls()).toBe(4);
  });

  it('a lock whose holder expired with waiters queued goes to the oldest waiter, not to a newcomer', async () => {
    const m = manager();
    const b = m.backend as RedisLockBackend;
    const k = lockKeys(fx.current.prefix, 'expired-holder');
    expect((await b.tryAcquireFair('expired-holder', 'holder', 10_000, { queueMs: 10_000 })).acquired).toBe(true);
    const queued = await b.tryAcquireFair('expired-holder', 'w1', 10_000, { queueMs: 10_000, waiting: true });
    expect(queued.acquired).toBe(false);
    // The holder's hold runs out (its process died): the lock is free, the queue is not empty.
    await fx.current.redis.del(k.owners);
    // A newcomer's first attempt (the manager's tryAcquire: fair, not queued) finds it free and must not take it.
    expect(await m.tryAcquire('expired-holder')).toBeUndefined();
    expect(await fx.current.redis.hget(k.owners, 't:w1')).toBe('1');
    expect(await b.release('expired-holder', 'w1', 'exclusive')).toBe(0);
  });

  it('a waiter that gives up (timeout, abort) leaves the queue: the next release does not hand it the lock', async () => {
    const holder = manager();
    const lease = await holder.acquire('quit');
    const m = manager();
    const w = watchFair(m);
    await expect(m.acquire('quit', { waitMs: 150 })).rejects.toSatisfy(isLockTimeoutError);
    const ac = new AbortController();
    const queued = w.nextQueued();
    const aborted = m.acquire('quit', { signal: ac.signal });
    await queued;
    ac.abort();
    await expect(aborted).rejects.toThrow();
    const k = lockKeys(fx.current.prefix, 'quit');
    expect(await fx.current.redis.llen(k.queue)).toBe(0);
    await lease.release();
    expect(await holder.backend.holders('quit')).toEqual({ mode: undefined, holders: {} });
  });

  it('a dead waiter (its entry never refreshed) is skipped once its entry expired', async () => {
    const holder = manager();
    const lease = await holder.acquire('dead');
    const backend = holder.backend as RedisLockBackend;
    // A process that queued and died: its entry lives 30 ms and is never refreshed.
    await backend.tryAcquireFair('dead', 'ghost', 30_000, { queueMs: 30 });
    const m = manager();
    const w = watchFair(m);
    const queued = w.nextQueued();
    const next = m.acquire('dead', { waitMs: 5_000 });
    await queued;
    await new Promise((resolve) => setTimeout(resolve, 50)); // Redis' clock: the ghost's entry runs out
    await lease.release();
    const got = await next;
    expect(await m.backend.holders('dead')).toEqual({ mode: 'exclusive', holders: { [got.token]: 1 } });
    await got.release();
  });

  it('fair: false keeps the racing (non-fair) waiters; a waiter gets the lock when the holder releases', async () => {
    const m = manager({ fair: false });
    const a = await m.acquire('nonfair');
    const b = m.acquire('nonfair', { waitMs: 5_000 });
    await a.release();
    await (await b).release();
    const k = lockKeys(fx.current.prefix, 'nonfair');
    expect(await fx.current.redis.exists(k.queue)).toBe(0); // never queued
  });
});

describe('reentrancy: one fencing token per hold, never shortened (issue 18 §1)', () => {
  it('outer 30 s → fence f; inner 200 ms → the same f, the hold still ~30 s; the outer holder may still write', async () => {
    const m = manager();
    const other = manager();
    const owner = 'reentrant-owner';
    const outer = await m.acquire('re', { owner, ttlMs: 30_000 });
    const inner = await m.acquire('re', { owner, ttlMs: 200 });
    expect(inner.count).toBe(2);
    expect(inner.fencingToken).toBe(outer.fencingToken);
    const protectedKey = fx.current.key('protected');
    await fencedSet(fx.current.redis, protectedKey, 'inner', inner.fencingToken);
    await fencedSet(fx.current.redis, protectedKey, 'outer', outer.fencingToken); // not stale: same hold
    expect(await fx.current.redis.get(protectedKey)).toBe('outer');
    expect(await fx.current.redis.pttl(lockKeys(fx.current.prefix, 're').owners)).toBeGreaterThan(20_000);
    expect(await other.tryAcquire('re', { fair: false })).toBeUndefined();
    await inner.release();
    await outer.release();
    const next = await other.acquire('re');
    expect(next.fencingToken).toBeGreaterThan(outer.fencingToken);
    await next.release();
  });
});

describe('keys that never expire (issue 18 §1)', () => {
  it('10,000 distinct keys acquired and released leave one permanent key; tokens stay strictly monotonic', async () => {
    const prefix = `${fx.current.prefix}:many`; // this test's keys alone
    const m = manager({ autoExtend: false, prefix });
    let last = 0;
    const n = 10_000;
    const batch = 200;
    for (let i = 0; i < n; i += batch) {
      const leases: Lease[] = await Promise.all(
        Array.from({ length: batch }, (_, j) => m.acquire(`user:${i + j}`, { ttlMs: 60_000 })),
      );
      // Per key the token only grows; here (one counter per prefix) across keys too, in grant order.
      const fences = leases.map((l) => l.fencingToken).sort((a, b) => a - b);
      expect(fences[0]).toBeGreaterThan(last);
      last = fences.at(-1)!;
      await Promise.all(leases.map((l) => l.release()));
    }
    // Again on one key: the token keeps growing after it went free.
    const again = await m.acquire('user:0');
    expect(again.fencingToken).toBeGreaterThan(last);
    await again.release();
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await fx.current.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5_000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    expect(keys).toEqual([`${prefix}:lock:fences`]);
  }, 20_000);

  it('a v1 per-lock counter is folded into the prefix counter on the next grant (tokens never go back)', async () => {
    const prefix = `${fx.current.prefix}:legacy`;
    const m = manager({ prefix });
    const k = lockKeys(prefix, 'legacy');
    await fx.current.redis.set(k.fence, '5000');
    const lease = await m.acquire('legacy');
    expect(lease.fencingToken).toBe(5001);
    expect(await fx.current.redis.exists(k.fence)).toBe(0);
    await lease.release();
    expect((await m.acquire('other')).fencingToken).toBe(5002);
  });
});
