// Redis stopped under each primitive: typed `BackendUnavailableError` (or the primitive's timeout with it as
// cause) within the caller's bound, never a hang; a holder whose connection died loses its lease at its validity.
import { isBackendUnavailableError } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { isLockLostError } from '../src/errors';
import { CountDownLatch } from '../src/latch';
import { MultiLock } from '../src/multi-lock';
import { isLatchTimeoutError } from '../src/primitive-errors';
import { ReadWriteLock } from '../src/rw-lock';
import { Semaphore } from '../src/semaphore';

// A private redis-server without persistence and a client with ioredis's defaults (20 retries per request,
// ~10 s before it gives up): the bounds asserted below are Ballast's, not the client's.
const fx = useRedisServer({ args: [] });

const since = (t: number) => Math.round(performance.now() - t);
/** `BackendUnavailableError`, or a primitive's timeout caused by one. */
const unavailable = (e: unknown) =>
  isBackendUnavailableError(e) || isBackendUnavailableError((e as { cause?: unknown } | undefined)?.cause);

describe('primitives with Redis down', () => {
  it('every operation fails typed within its bound, leases are declared lost, and all recover after a restart', async () => {
    const { server, redis } = fx;
    const logs = captureLogs();
    const o = { redis, prefix: 'outage', logger: logs.logger, commandTimeoutMs: 800 };
    const sem = new Semaphore({ ...o, name: 'jobs', permits: 1, ttlMs: 600 });
    const latch = new CountDownLatch({ ...o, name: 'boot' });
    const multi = new MultiLock(o);
    const rw = new ReadWriteLock(o);
    const permit = await sem.acquire();
    const reading = await rw.read('doc', { ttlMs: 20_000 });
    await latch.trySetCount(1);
    const latchWaiter = latch.await({ timeoutMs: 60_000 }).catch((e: unknown) => e); // opens the subscriber
    await server.kill();

    const timings: Record<string, number> = {};
    const bounded = async (what: string, call: () => Promise<unknown>, check: (e: unknown) => boolean, ms: number) => {
      const t = performance.now();
      const e = await call().then(
        () => 'resolved',
        (x: unknown) => x,
      );
      timings[what] = since(t);
      expect(check(e), `${what}: ${String(e)}`).toBe(true);
      expect(timings[what]).toBeLessThan(ms);
    };
    await bounded('rw.upgrade', () => reading.upgrade(), isBackendUnavailableError, 1_500);
    await bounded('semaphore.acquire waitMs 300', () => sem.acquire(1, { waitMs: 300 }), unavailable, 700);
    await bounded('semaphore.acquire (command timeout)', () => sem.tryAcquire(), isBackendUnavailableError, 1_500);
    await bounded('semaphore.available', () => sem.available(), isBackendUnavailableError, 1_500);
    await bounded('latch.await timeoutMs 300', () => latch.await({ timeoutMs: 300 }), unavailable, 700);
    await bounded('latch.countDown', () => latch.countDown(), isBackendUnavailableError, 1_500);
    await bounded('multiLock.acquire waitMs 300', () => multi.acquire(['a', 'b'], { waitMs: 300 }), unavailable, 700);
    // A waiter that started before the outage: bounded by the command timeout of its next re-check.
    const waited = await latchWaiter;
    expect(unavailable(waited) || isLatchTimeoutError(waited)).toBe(true);

    // Permits that cannot be extended are lost at their validity (ttl 600 ms), not held on for ever.
    const { signal } = permit;
    if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    expect(isLockLostError(signal.reason)).toBe(true);

    await server.restart();
    let again = await sem.acquire(1, { waitMs: 5_000 }).catch(() => undefined);
    while (!again) again = await sem.tryAcquire().catch(() => undefined);
    await again.release();
    const t = performance.now();
    await Promise.all([sem.close(), latch.close(), multi.close(), rw.close()]);
    timings.close = since(t);
    console.info(`[lock primitives outage] ${JSON.stringify(timings)}`);
  });
});
