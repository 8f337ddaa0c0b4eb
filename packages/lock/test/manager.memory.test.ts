import { getEventListeners } from 'node:events';
import { createLogger } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { isLockTimeoutError } from '../src/errors';
import { createLockManager } from '../src/manager';

describe('LockManager waiting (memory backend, fake clock)', () => {
  it('a long wait sleeps many times but keeps at most one abort listener on the caller signal', async () => {
    const clock = new FakeClock();
    const m = createLockManager({ clock, logger: createLogger({ level: 'silent' }), maxRetryDelayMs: 100 });
    const holder = await m.acquire('busy', { ttlMs: 60_000, autoExtend: false });
    const controller = new AbortController();
    let settled: unknown;
    const waiting = m.acquire('busy', { signal: controller.signal, waitMs: 30_000 }).then(
      (v) => {
        settled = v;
      },
      (e: unknown) => {
        settled = e;
      },
    );
    // ~50 safety-net sleeps of ≤ 100 ms each, none woken by a release.
    for (let i = 0; i < 50; i++) {
      await clock.advance(100);
      expect(getEventListeners(controller.signal, 'abort').length).toBeLessThanOrEqual(1);
    }
    expect(settled).toBeUndefined();
    await clock.advance(30_000);
    await waiting;
    expect(isLockTimeoutError(settled)).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await holder.release();
    await m.close();
  });
});
