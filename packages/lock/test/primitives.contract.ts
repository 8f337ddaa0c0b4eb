// The primitives' contract: the same behaviour on every backend (memory with a fake clock, Redis, Redis Cluster).
// A "world" gives fresh clients of one shared store; each client stands for another process.
import { isAbortedError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { isLockLostError, isLockTimeoutError } from '../src/errors';
import type { CountDownLatch } from '../src/latch';
import type { LockManager } from '../src/manager';
import type { MultiLock } from '../src/multi-lock';
import {
  isInvalidPermitsError,
  isLatchTimeoutError,
  isLockUpgradeError,
  isSemaphoreTimeoutError,
} from '../src/primitive-errors';
import type { ReadWriteLock } from '../src/rw-lock';
import type { Semaphore } from '../src/semaphore';

export interface ClientOptions {
  ttlMs?: number;
  autoExtend?: boolean;
  maxRetryDelayMs?: number;
  waitMs?: number;
}

export interface PrimitiveWorld {
  semaphore(name: string, permits: number, o?: ClientOptions): Semaphore;
  latch(name: string, o?: ClientOptions): CountDownLatch;
  multi(o?: ClientOptions): MultiLock;
  rw(o?: ClientOptions): ReadWriteLock;
  manager(): LockManager;
  /** Lets `ms` pass: the fake clock's advance, or real time on Redis. */
  pass(ms: number): Promise<void>;
  /** Keys of one test, unique per test (so tests never share state). */
  key(name: string): string;
  /** Two lock keys a multi-lock takes in one script on this world's backend (Cluster: same slot). */
  sameSlotKeys?(): [string, string];
  close(): Promise<void>;
}

/** Settles `p` as a boolean "has it settled yet" after the pending microtasks/IO of one macrotask. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  return done;
}

export function primitivesContract(label: string, make: () => Promise<PrimitiveWorld>) {
  const world = async <T>(fn: (w: PrimitiveWorld) => Promise<T>): Promise<T> => {
    const w = await make();
    try {
      return await fn(w);
    } finally {
      await w.close();
    }
  };

  describe(`Semaphore contract: ${label}`, () => {
    it('never lets more than `permits` holders in at once, and lets all of them through', () =>
      world(async (w) => {
        const name = w.key('s');
        const sems = [w.semaphore(name, 3), w.semaphore(name, 3)];
        let active = 0;
        let max = 0;
        const gates: (() => void)[] = [];
        const runs = Array.from({ length: 8 }, (_, i) =>
          sems[i % 2]!.using(async () => {
            active++;
            max = Math.max(max, active);
            await new Promise<void>((r) => gates.push(r));
            active--;
            return i;
          }),
        );
        // Open the gates as holders arrive: each release lets exactly one waiter in.
        for (let done = 0; done < 8; done++) {
          await expect.poll(() => gates.length, { timeout: 5_000 }).toBeGreaterThan(0);
          expect(active).toBeLessThanOrEqual(3);
          gates.shift()!();
        }
        expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        expect(max).toBe(3);
        expect(await sems[0]!.available()).toBe(3);
      }));

    it('acquire(n) takes n permits; tryAcquire refuses what does not fit; release gives them back', () =>
      world(async (w) => {
        const name = w.key('n');
        const a = w.semaphore(name, 5);
        const b = w.semaphore(name, 5);
        const three = await a.acquire(3);
        expect(three.permits).toBe(3);
        expect(await b.tryAcquire(3)).toBeUndefined();
        const two = await b.tryAcquire(2);
        expect(two).toBeDefined();
        expect(await a.available()).toBe(0);
        expect(await three.release()).toBe(true);
        expect(await three.release()).toBe(true); // idempotent
        expect(await b.available()).toBe(3);
        await two!.release();
        expect(await a.available()).toBe(5);
      }));

    it('rejects a permit count it could never grant with InvalidPermitsError', () =>
      world(async (w) => {
        const s = w.semaphore(w.key('bad'), 2);
        for (const n of [0, 3, 1.5, -1]) await expect(s.acquire(n)).rejects.toSatisfy(isInvalidPermitsError);
      }));

    it('a waiter is woken by the release, not by polling', () =>
      world(async (w) => {
        // The safety-net re-check is a minute away: only the release's wake-up can grant in time.
        const name = w.key('wake');
        const a = w.semaphore(name, 1, { maxRetryDelayMs: 60_000 });
        const b = w.semaphore(name, 1, { maxRetryDelayMs: 60_000 });
        const held = await a.acquire();
        const waiting = b.acquire(1, { waitMs: 30_000 });
        expect(await settled(waiting)).toBe(false);
        // Let the waiter park (subscribed, and its post-subscribe re-check done): from here only a wake-up can
        // grant it within the test's time, its safety-net re-check being a minute away.
        await w.pass(100);
        await held.release();
        const got = await waiting;
        expect(got.permits).toBe(1);
        await got.release();
      }));

    it('waitMs passes → SemaphoreTimeoutError naming the semaphore; a signal cancels the wait', () =>
      world(async (w) => {
        const name = w.key('to');
        const s = w.semaphore(name, 1, { maxRetryDelayMs: 20 });
        const held = await s.acquire();
        const late = s.acquire(1, { waitMs: 100 }).catch((e: unknown) => e);
        await w.pass(150);
        const e = await late;
        expect(isSemaphoreTimeoutError(e)).toBe(true);
        expect(e).toMatchObject({ semaphore: name, permits: 1 });
        const ac = new AbortController();
        const aborted = s.acquire(1, { signal: ac.signal }).catch((x: unknown) => x);
        ac.abort();
        expect(isAbortedError(await aborted)).toBe(true);
        await held.release();
      }));

    it('a holder that dies gives its permits back when its lease runs out', () =>
      world(async (w) => {
        const name = w.key('die');
        const dead = w.semaphore(name, 3, { autoExtend: false, ttlMs: 200 });
        const alive = w.semaphore(name, 3, { maxRetryDelayMs: 50 });
        const living = await alive.acquire(1); // a live holder keeps the semaphore's keys from expiring whole
        const gone = await dead.acquire(2); // no watchdog: as if its process had died
        const waiting = alive.acquire(2, { waitMs: 10_000 });
        for (let i = 0; i < 10 && !(await settled(waiting)); i++) await w.pass(50);
        const got = await waiting;
        expect(got.permits).toBe(2);
        expect(isLockLostError(gone.signal.reason)).toBe(true);
        expect(await gone.release()).toBe(false); // it had run out
        await got.release();
        await living.release();
      }));

    it('the watchdog keeps permits held well past their ttl', () =>
      world(async (w) => {
        const name = w.key('long');
        const s = w.semaphore(name, 1, { ttlMs: 300 }); // extended every 100 ms: a loaded machine keeps it
        const p = await s.acquire();
        for (let i = 0; i < 6; i++) await w.pass(100);
        expect(p.signal.aborted).toBe(false);
        expect(await w.semaphore(name, 1).tryAcquire()).toBeUndefined();
        expect(await p.release()).toBe(true);
      }));
  });

  describe(`CountDownLatch contract: ${label}`, () => {
    it('trySetCount arms it once; countDown to zero releases every waiter, in every process', () =>
      world(async (w) => {
        const name = w.key('l');
        const a = w.latch(name);
        const b = w.latch(name);
        expect(await a.trySetCount(2)).toBe(true);
        expect(await b.trySetCount(5)).toBe(false);
        expect(await b.getCount()).toBe(2);
        const waiters = [a.await(), b.await({ timeoutMs: 60_000 })];
        expect(await a.countDown()).toBe(1);
        expect(await settled(Promise.all(waiters))).toBe(false);
        expect(await b.countDown()).toBe(0);
        await Promise.all(waiters);
        expect(await a.getCount()).toBe(0);
        expect(await a.countDown()).toBe(0); // open stays open
        await a.await(); // an open latch resolves at once
      }));

    it('a waiter is woken by the count-down, not by polling', () =>
      world(async (w) => {
        const name = w.key('wake');
        const a = w.latch(name, { maxRetryDelayMs: 60_000 });
        const b = w.latch(name, { maxRetryDelayMs: 60_000 });
        await a.trySetCount(1);
        const waiting = b.await({ timeoutMs: 30_000 });
        expect(await settled(waiting)).toBe(false);
        // Let the waiter park (subscribed, and its post-subscribe re-check done): from here only a wake-up can
        // grant it within the test's time, its safety-net re-check being a minute away.
        await w.pass(100);
        await a.countDown();
        await waiting;
      }));

    it('a missed message cannot hang a waiter: it re-checks the count', () =>
      world(async (w) => {
        const name = w.key('missed');
        const l = w.latch(name, { maxRetryDelayMs: 50 });
        // The latch opens by expiring: nothing is published, only the re-check can see it.
        await l.trySetCount(1, { ttlMs: 100 });
        const waiting = l.await({ timeoutMs: 10_000 });
        for (let i = 0; i < 10 && !(await settled(waiting)); i++) await w.pass(50);
        await waiting;
      }));

    it('await: timeoutMs → LatchTimeoutError; signal → AbortedError; bad counts are InvalidOptionsError', () =>
      world(async (w) => {
        const name = w.key('to');
        const l = w.latch(name, { maxRetryDelayMs: 20 });
        await l.trySetCount(1);
        const late = l.await({ timeoutMs: 100 }).catch((e: unknown) => e);
        await w.pass(150);
        const e = await late;
        expect(isLatchTimeoutError(e)).toBe(true);
        expect(e).toMatchObject({ latch: name });
        const ac = new AbortController();
        const aborted = l.await({ signal: ac.signal }).catch((x: unknown) => x);
        ac.abort();
        expect(isAbortedError(await aborted)).toBe(true);
        await expect(l.trySetCount(0)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
        await l.countDown();
      }));
  });

  describe(`MultiLock contract: ${label}`, () => {
    it('all or nothing: one key held elsewhere → none taken; then all, excluding the lock manager', () =>
      world(async (w) => {
        const [a, b, c] = [w.key('a'), w.key('b'), w.key('c')];
        const m = w.manager();
        const multi = w.multi();
        const hb = await m.acquire(b);
        expect(await multi.tryAcquire([c, a, b])).toBeUndefined();
        // Nothing was left behind: a and c are free.
        const ha = await m.tryAcquire(a);
        const hc = await m.tryAcquire(c);
        expect(ha && hc).toBeTruthy();
        await ha!.release();
        await hc!.release();
        const waiting = multi.acquire([c, a, b, a], { waitMs: 10_000 });
        expect(await settled(waiting)).toBe(false);
        await hb.release();
        const lease = await waiting;
        expect(lease.keys).toEqual([a, b, c].sort());
        for (const k of [a, b, c]) expect(lease.fencingTokens[k]).toBeGreaterThan(0);
        expect(await m.tryAcquire(a)).toBeUndefined();
        expect(await m.tryAcquire(c)).toBeUndefined();
        await lease.release();
        for (const k of [a, b, c]) {
          const h = await m.tryAcquire(k);
          expect(h).toBeDefined();
          await h!.release();
        }
      }));

    it('two multi-locks over the same keys in opposite orders never deadlock and never overlap', () =>
      world(async (w) => {
        const [x, y, z] = [w.key('x'), w.key('y'), w.key('z')];
        const one = w.multi({ maxRetryDelayMs: 20 });
        const two = w.multi({ maxRetryDelayMs: 20 });
        let inside = 0;
        let overlap = false;
        const body = async () => {
          inside++;
          if (inside > 1) overlap = true;
          await new Promise((r) => setImmediate(r));
          inside--;
        };
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            i % 2 ? one.using([x, y, z], body, { waitMs: 20_000 }) : two.using([z, y, x], body, { waitMs: 20_000 }),
          ),
        );
        expect(overlap).toBe(false);
      }));

    it('waitMs passes → LockTimeoutError naming the held key; a lease without watchdog is lost at its ttl', () =>
      world(async (w) => {
        const [a, b] = [w.key('ta'), w.key('tb')];
        const m = w.manager();
        const hb = await m.acquire(b);
        const multi = w.multi({ maxRetryDelayMs: 20 });
        const late = multi.acquire([a, b], { waitMs: 100 }).catch((e: unknown) => e);
        await w.pass(150);
        const e = await late;
        expect(isLockTimeoutError(e)).toBe(true);
        expect(e).toMatchObject({ key: b });
        await hb.release();
        const short = await multi.acquire([a, b], { ttlMs: 200, autoExtend: false });
        for (let i = 0; i < 10 && !short.signal.aborted; i++) await w.pass(50);
        expect(isLockLostError(short.signal.reason)).toBe(true);
        const again = await multi.acquire([a, b], { waitMs: 5_000 });
        await again.release();
      }));

    it('keys of one slot are taken by one script (atomic)', async () => {
      const w = await make();
      try {
        const keys = w.sameSlotKeys?.();
        if (!keys) return; // memory: ordered, one process decides synchronously
        const multi = w.multi();
        expect(multi.atomic(keys)).toBe(true);
        const lease = await multi.acquire(keys);
        expect(Object.keys(lease.fencingTokens)).toHaveLength(2);
        expect(await w.manager().tryAcquire(keys[1])).toBeUndefined();
        await lease.release();
      } finally {
        await w.close();
      }
    });
  });

  describe(`Read/write upgrade and downgrade contract: ${label}`, () => {
    it('downgrade: write → read at once, other readers join, writers still wait', () =>
      world(async (w) => {
        const k = w.key('doc');
        const rw = w.rw({ maxRetryDelayMs: 60_000 });
        const other = w.rw({ maxRetryDelayMs: 60_000 });
        const lease = await rw.write(k);
        const reader = other.read(k, { waitMs: 30_000 });
        expect(await settled(reader)).toBe(false);
        // Let the waiter park (subscribed, and its post-subscribe re-check done): from here only a wake-up can
        // grant it within the test's time, its safety-net re-check being a minute away.
        await w.pass(100);
        await lease.downgrade();
        expect(lease.mode).toBe('shared');
        const r = await reader; // woken by the downgrade
        expect(await other.tryWrite(k)).toBeUndefined();
        await r.release();
        await lease.release();
        const writer = await other.tryWrite(k);
        expect(writer).toBeDefined();
        await writer!.release();
      }));

    it('downgrade keeps the key with a fair waiter queued (one step, not release + acquire); the waiter gets it after', () =>
      world(async (w) => {
        const k = w.key('dq');
        const lease = await w.rw().write(k);
        const waiting = w.manager().acquire(k, { waitMs: 30_000 }); // fair: queued for the key
        expect(await settled(waiting)).toBe(false);
        await w.pass(100); // let it queue (Redis: subscribe, then the queued attempt)
        await lease.downgrade();
        expect(lease.mode).toBe('shared');
        expect(lease.signal.aborted).toBe(false);
        expect(await settled(waiting)).toBe(false); // a reader holds the key: the writer still waits
        await lease.release();
        const next = await waiting;
        expect(next.fencingToken).toBeGreaterThan(lease.fencingToken);
        await next.release();
      }));

    it('upgrade: the sole reader becomes the writer with a higher fencing token', () =>
      world(async (w) => {
        const k = w.key('up');
        const rw = w.rw();
        const lease = await rw.read(k);
        const before = lease.fencingToken;
        await lease.upgrade();
        expect(lease.mode).toBe('exclusive');
        expect(lease.fencingToken).toBeGreaterThan(before);
        expect(await w.rw().tryRead(k)).toBeUndefined();
        expect(await w.manager().tryAcquire(k)).toBeUndefined();
        await lease.upgrade(); // already a writer: nothing to do
        await lease.release();
        const after = await w.manager().tryAcquire(k);
        expect(after).toBeDefined();
        await after!.release();
      }));

    it('upgrade with another reader → LockUpgradeError at once, the read lock kept; two upgraders cannot deadlock', () =>
      world(async (w) => {
        const k = w.key('two');
        const one = await w.rw().read(k);
        const two = await w.rw().read(k);
        const [e1, e2] = await Promise.all([
          one.upgrade().catch((e: unknown) => e),
          two.upgrade().catch((e: unknown) => e),
        ]);
        expect(isLockUpgradeError(e1) && isLockUpgradeError(e2)).toBe(true);
        expect(e1).toMatchObject({ key: k, readers: 1 });
        expect(one.mode).toBe('shared');
        expect(await w.rw().tryWrite(k)).toBeUndefined(); // both still read
        await two.release();
        await one.upgrade();
        expect(one.mode).toBe('exclusive');
        await one.release();
      }));

    it('the watchdog keeps a converted lease alive in its new mode', () =>
      world(async (w) => {
        const k = w.key('wd');
        const lease = await w.rw({ ttlMs: 150 }).read(k);
        await lease.upgrade();
        for (let i = 0; i < 6; i++) await w.pass(100);
        expect(lease.signal.aborted).toBe(false);
        expect(await w.rw().tryRead(k)).toBeUndefined();
        await lease.downgrade();
        for (let i = 0; i < 4; i++) await w.pass(100);
        expect(lease.signal.aborted).toBe(false);
        expect(await w.rw().tryWrite(k)).toBeUndefined();
        await lease.release();
      }));
  });
}
