import { getEventListeners } from 'node:events';
import { createLogger, isInvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { MemoryLockBackend } from '../src/backends/memory';
import { isLockTimeoutError } from '../src/errors';
import { createLockManager } from '../src/manager';
import { acquireOptionsSchema } from '../src/options';

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

describe('LockManager watchdog (memory backend, fake clock)', () => {
  /** The memory backend with its `extend` calls recorded (time, key). */
  function recording(clock: FakeClock) {
    const backend = new MemoryLockBackend({ clock });
    const extensions: Array<[number, string]> = [];
    const extend = backend.extend.bind(backend);
    backend.extend = (resource, token, mode, ttlMs) => {
      extensions.push([clock.monotonic(), resource]);
      return extend(resource, token, mode, ttlMs);
    };
    return { backend, extensions };
  }

  it('extends every held lease at its own ttl/3 cadence from one timer, and stops at release', async () => {
    const clock = new FakeClock();
    const { backend, extensions } = recording(clock);
    const m = createLockManager({ clock, backend, logger: createLogger({ level: 'silent' }) });
    const t0 = clock.monotonic();
    const a = await m.acquire('a', { ttlMs: 3_000 });
    await clock.advance(500);
    const b = await m.acquire('b', { ttlMs: 3_000 });
    const c = await m.acquire('c', { ttlMs: 300 });
    // One timer per extension interval (1 s for a and b, 100 ms for c), not one per lease; and one validity
    // timer for every lease held.
    expect(clock.pendingCount).toBe(3);
    await clock.advance(2_600); // now t0 + 3.1 s: past a's and b's ttl, alive only through the watchdog
    const at = (key: string) => extensions.filter(([, k]) => k === key).map(([t]) => t - t0);
    expect(at('a')).toEqual([1_000, 2_000, 3_000]);
    expect(at('b')).toEqual([1_500, 2_500]);
    expect(at('c')).toHaveLength(26); // every 100 ms from 0.6 s to 3.1 s
    expect(await backend.holders('a')).toMatchObject({ mode: 'exclusive' });
    expect(await backend.holders('b')).toMatchObject({ mode: 'exclusive' });
    await a.release();
    await c.release();
    await clock.advance(2_000);
    expect(at('a')).toEqual([1_000, 2_000, 3_000]);
    expect(at('b')).toEqual([1_500, 2_500, 3_500, 4_500]);
    expect(at('c')).toHaveLength(26);
    await b.release();
    await clock.advance(2_000);
    expect(at('b')).toHaveLength(4);
    expect(clock.pendingCount).toBe(0); // nothing held: no timer left behind
    await m.close();
  });

  it('a manual extend with a new ttl moves the lease to that ttl/3 cadence', async () => {
    const clock = new FakeClock();
    const { backend, extensions } = recording(clock);
    const m = createLockManager({ clock, backend, logger: createLogger({ level: 'silent' }) });
    const t0 = clock.monotonic();
    const lease = await m.acquire('k', { ttlMs: 30_000 });
    expect(await lease.extend(600)).toBe(true); // at t0; from now on every 200 ms
    await clock.advance(1_000);
    expect(extensions.map(([t]) => t - t0)).toEqual([0, 200, 400, 600, 800, 1_000]);
    expect(await backend.holders('k')).toMatchObject({ mode: 'exclusive' });
    await lease.release();
    await m.close();
  });
});

describe('acquire options (memory backend)', () => {
  it('the hand check on the hot path agrees with acquireOptionsSchema, and bad input names its field', async () => {
    const m = createLockManager({ logger: createLogger({ level: 'silent' }) });
    const cases: Array<[unknown, string | undefined]> = [
      [{}, undefined],
      [{ waitMs: 0 }, undefined],
      [{ waitMs: Number.POSITIVE_INFINITY }, undefined],
      [
        { ttlMs: 5_000, mode: 'shared', owner: 'o1', autoExtend: false, signal: new AbortController().signal },
        undefined,
      ],
      [{ mode: undefined, waitMs: undefined }, undefined],
      [{ ttlMs: 0 }, 'ttlMs'],
      [{ ttlMs: 1.5 }, 'ttlMs'],
      [{ ttlMs: '100' }, 'ttlMs'],
      [{ ttlMs: 2 ** 60 }, 'ttlMs'], // an integer, but not a safe one: the schema refuses it, so must the fast path
      [{ waitMs: -1 }, 'waitMs'],
      [{ waitMs: Number.NaN }, 'waitMs'],
      [{ waitMs: Number.NEGATIVE_INFINITY }, 'waitMs'],
      [{ mode: 'write' }, 'mode'],
      [{ signal: {} }, 'signal'],
      [{ owner: '' }, 'owner'],
      [{ autoExtend: 'yes' }, 'autoExtend'],
      [{ ttl: 100 }, 'ttl'],
      [null, undefined], // the whole options value is wrong: the error names no field, but it is typed
    ];
    let i = 0;
    for (const [options, field] of cases) {
      const key = `opt${i++}`;
      const valid = acquireOptionsSchema.safeParse(options).success;
      const outcome = await m.acquire(key, options as never).then(
        async (lease) => {
          await lease.release();
          return 'ok' as const;
        },
        (error: unknown) => error,
      );
      if (valid) {
        expect(outcome, JSON.stringify(options)).toBe('ok');
      } else {
        expect(isInvalidOptionsError(outcome), String(outcome)).toBe(true);
        if (field) expect(String((outcome as Error).message)).toContain(field);
      }
    }
    await m.close();
  });
});

describe('LockManager lease after release', () => {
  it('extend() on a released lease resolves false and reports no loss', async () => {
    const m = createLockManager({ logger: createLogger({ level: 'silent' }) });
    const lost: unknown[] = [];
    m.onLost((e) => lost.push(e));
    const lease = await m.acquire('done', { autoExtend: false });
    await lease.release();
    expect(await lease.extend()).toBe(false);
    expect(lost).toEqual([]);
    expect(m.stats().done?.lost).toBe(0);
    await m.close();
  });
});
