import { createLogger, isAbortedError, isInvalidOptionsError } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import type { RedisLockBackend } from '../src/backends/redis';
import { renderLockKey } from '../src/decorators';
import {
  isDeadlockError,
  isInvalidLockKeyError,
  isLockLostError,
  isLockTimeoutError,
  isStaleFencingTokenError,
} from '../src/errors';
import { fencedSet } from '../src/fencing';
import { lockKeys } from '../src/keys';
import { LockManager } from '../src/manager';
import type { LockManagerOptions } from '../src/options';

const fx = useRedisFixture({ name: 'lock' });
const quiet = createLogger({ level: 'silent' });
const managers: LockManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
});

function manager(options: LockManagerOptions = {}) {
  const m = new LockManager({ redis: fx.current.redis, prefix: fx.current.prefix, logger: quiet, ...options });
  managers.push(m);
  return m;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LockManager on real Redis', () => {
  it('mutual exclusion: 20 concurrent workers increment a shared counter without losing an update', async () => {
    const m = manager();
    const counter = fx.current.key('counter');
    await Promise.all(
      Array.from({ length: 20 }, () =>
        m.using('counter', async () => {
          const v = Number((await fx.current.redis.get(counter)) ?? 0);
          await sleep(1); // the read-modify-write window a lock must protect
          await fx.current.redis.set(counter, String(v + 1));
        }),
      ),
    );
    expect(await fx.current.redis.get(counter)).toBe('20');
  });

  it('a lease expires without the watchdog, and the next acquirer gets a higher fencing token', async () => {
    const m = manager({ autoExtend: false });
    const first = await m.acquire('exp', { ttlMs: 100 });
    expect(await m.tryAcquire('exp')).toBeUndefined();
    const second = await m.acquire('exp', { waitMs: 2_000 });
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await second.release();
  });

  it('the watchdog keeps a long holder alive well past its ttl', async () => {
    const m = manager();
    const lease = await m.acquire('long', { ttlMs: 150 });
    await sleep(600);
    expect(lease.signal.aborted).toBe(false);
    expect(await m.tryAcquire('long')).toBeUndefined();
    await lease.release();
    const next = await m.tryAcquire('long');
    expect(next).toBeDefined();
    await next?.release();
  });

  it("deleting the lock from outside aborts the lease's signal with LockLostError", async () => {
    const m = manager();
    const lost: string[] = [];
    m.onLost((e) => lost.push(e.key));
    const lease = await m.acquire('gone', { ttlMs: 150 });
    const k = lockKeys(fx.current.prefix, 'gone');
    await fx.current.redis.del(k.owners, k.expiry);
    const reason = await new Promise((resolve) =>
      lease.signal.addEventListener('abort', () => resolve(lease.signal.reason)),
    );
    expect(isLockLostError(reason)).toBe(true);
    expect(lost).toEqual(['gone']);
    expect(m.stats().gone?.lost).toBe(1);
  });

  it('a stale fencing token is rejected by the verifier', async () => {
    const m = manager({ autoExtend: false });
    const data = fx.current.key('{acct}:balance');
    const a = await m.acquire('acct', { ttlMs: 80 });
    // A pauses past its lease; B acquires and writes.
    const b = await m.acquire('acct', { waitMs: 2_000 });
    await fencedSet(fx.current.redis, data, '100', b.fencingToken);
    // A wakes up and writes with its old token: rejected.
    await expect(fencedSet(fx.current.redis, data, '999', a.fencingToken)).rejects.toSatisfy(isStaleFencingTokenError);
    expect(await fx.current.redis.get(data)).toBe('100');
    await b.release();
  });

  it('read/write: many readers together, a writer alone; a waiting writer holds back new readers', async () => {
    const m = manager();
    const r1 = await m.acquire('doc', { mode: 'shared' });
    const r2 = await m.acquire('doc', { mode: 'shared' });
    expect(await m.tryAcquire('doc')).toBeUndefined();
    const writer = m.acquire('doc', { waitMs: 5_000 });
    await sleep(50); // the writer is now registered as waiting
    expect(await m.tryAcquire('doc', { mode: 'shared' })).toBeUndefined(); // writer preference
    await r1.release();
    await r2.release();
    const w = await writer;
    expect(await m.tryAcquire('doc', { mode: 'shared' })).toBeUndefined();
    await w.release();
    const r3 = await m.tryAcquire('doc', { mode: 'shared' });
    expect(r3).toBeDefined();
    await r3?.release();
  });

  it('reentrancy: the same owner re-enters and is counted; the last release frees it', async () => {
    const m = manager();
    const other = manager();
    await m.using('re', async (_s, outer) => {
      expect(outer.count).toBe(1);
      await m.using('re', async (_s2, inner) => {
        expect(inner.count).toBe(2);
        expect(inner.token).toBe(outer.token);
      });
      expect(await other.tryAcquire('re')).toBeUndefined(); // still held after the inner release
    });
    const after = await other.tryAcquire('re');
    expect(after).toBeDefined();
    await after?.release();
  });

  it('detects a deadlock cycle among waiters and fails the one closing it', async () => {
    const m = manager();
    let aHasX: () => void = () => {};
    const aReady = new Promise<void>((r) => {
      aHasX = r;
    });
    let bHasY: () => void = () => {};
    const bReady = new Promise<void>((r) => {
      bHasY = r;
    });
    const a = m.using('x', async () => {
      aHasX();
      await bReady;
      return m.using('y', async () => 'a done', { waitMs: 5_000 });
    });
    const b = m.using('y', async () => {
      bHasY();
      await aReady;
      await sleep(30); // A is waiting for y by now
      return m.using('x', async () => 'b done', { waitMs: 5_000 });
    });
    const [ra, rb] = await Promise.allSettled([a, b]);
    expect(rb.status).toBe('rejected');
    expect(isDeadlockError((rb as PromiseRejectedResult).reason)).toBe(true);
    expect(ra).toEqual({ status: 'fulfilled', value: 'a done' });
  });

  it('a wait is cancelled by its signal; waitMs gives LockTimeoutError', async () => {
    const m = manager();
    const held = await m.acquire('busy');
    const c = new AbortController();
    const waiting = m.acquire('busy', { signal: c.signal });
    setTimeout(() => c.abort(new Error('client left')), 20);
    await expect(waiting).rejects.toSatisfy(isAbortedError);
    await expect(m.acquire('busy', { waitMs: 50 })).rejects.toSatisfy(isLockTimeoutError);
    await held.release();
  });

  it('a waiter is woken by the release, not by polling (counts its acquire scripts; non-fair)', async () => {
    const m = manager({ maxRetryDelayMs: 10_000, fair: false });
    const holder = await m.acquire('wake', { ttlMs: 30_000 });
    const backend = m.backend as RedisLockBackend;
    let attempts = 0;
    const original = backend.tryAcquire.bind(backend);
    backend.tryAcquire = (...args) => {
      attempts++;
      return original(...args);
    };
    const waiter = m.acquire('wake', { waitMs: 10_000 });
    await sleep(400);
    const beforeRelease = attempts;
    const t0 = Date.now();
    await holder.release();
    const lease = await waiter;
    expect(Date.now() - t0).toBeLessThan(300); // woken at once, not at the 10 s safety-net timer
    expect(beforeRelease).toBe(2); // the first try and the one right after subscribing: no polling while held
    expect(attempts).toBe(3);
    await lease.release();
  });

  it('bad input gets typed errors naming the problem', async () => {
    const m = manager();
    await expect(m.acquire('')).rejects.toSatisfy(isInvalidLockKeyError);
    await expect(m.acquire('k', { ttlMs: 0 })).rejects.toSatisfy(isInvalidOptionsError);
    await expect(m.acquire('k', { ttlMs: -5 })).rejects.toThrow(/ttlMs: expected number > 0/);
    expect(() => renderLockKey('user:{userId}', [{ id: 1 }])).toThrow(/no argument provides "\{userId\}"/);
    expect(renderLockKey('user:{userId}:{1}', [{ userId: 'u7' }, 3])).toBe('user:u7:3');
    expect(renderLockKey('order:{order.id}', [{ order: { id: 9 } }])).toBe('order:9');
  });
});
