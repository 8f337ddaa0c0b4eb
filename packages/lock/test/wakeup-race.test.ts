import { createLogger } from '@ballast/core';
import { expect, it } from 'vitest';
import { MemoryLockBackend } from '../src/backends/memory';
import type { Lease } from '../src/lease';
import { LockManager } from '../src/manager';

it('a release that lands while the waiter is mid-attempt still wakes it (no fall back to the safety-net timer)', async () => {
  const backend = new MemoryLockBackend();
  // The non-fair wait (retries on wake-ups); the fair one is woken by the hand-off itself (fair.redis.test.ts).
  const m = new LockManager({
    backend,
    fair: false,
    maxRetryDelayMs: 10_000,
    logger: createLogger({ level: 'silent' }),
  });
  let holder: Lease | undefined;
  let calls = 0;
  const original = backend.tryAcquire.bind(backend);
  backend.tryAcquire = async (...args) => {
    calls++;
    const result = await original(...args);
    if (calls === 3) {
      // The waiter's retry (after subscribing) was just refused; the holder releases before that answer
      // reaches the waiter — the notification arrives while no sleep is set up yet.
      await holder!.release();
      await new Promise((r) => setTimeout(r, 0));
    }
    return result;
  };
  holder = await m.acquire('k', { ttlMs: 30_000 });
  const t0 = Date.now();
  const lease = await m.acquire('k', { waitMs: 20_000 });
  expect(Date.now() - t0).toBeLessThan(1_000); // not the 5–10 s safety-net sleep
  expect(calls).toBe(4);
  await lease.release();
  await m.close();
});
