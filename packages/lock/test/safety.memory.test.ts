// Issue 18 §1 on the memory backend and a fake clock: validity of a lease nobody extends, a plain acquire of a
// key its own context holds, writer preference for the whole wait, bounded stats.
import { createLogger, isBackendUnavailableError } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { describe, expect, it } from 'vitest';
import { MemoryLockBackend } from '../src/backends/memory';
import { isLockAlreadyHeldError, isLockLostError, isLockTimeoutError } from '../src/errors';
import { createLockManager } from '../src/manager';

const quiet = createLogger({ level: 'silent' });
const collect = useInMemoryMetrics();

describe('validity (fake clock)', () => {
  it('the signal of a lease nobody extends aborts exactly at validUntil', async () => {
    const clock = new FakeClock();
    const m = createLockManager({ clock, logger: quiet });
    const lease = await m.acquire('v', { ttlMs: 1_000, autoExtend: false });
    expect(lease.validUntil).toBe(1_000 - (10 + 2)); // ttl − (ttl × driftFactor + 2 ms)
    await clock.advance(lease.validUntil - 1);
    expect(lease.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(lease.signal.aborted).toBe(true);
    expect(isLockLostError(lease.signal.reason)).toBe(true);
    await m.close();
  });

  it('an extension that never answers does not keep the lease valid', async () => {
    const clock = new FakeClock();
    const backend = new MemoryLockBackend({ clock });
    backend.extend = () => new Promise<boolean>(() => {}); // a frozen link
    const m = createLockManager({ clock, backend, logger: quiet });
    const lease = await m.acquire('hang', { ttlMs: 900 });
    await clock.advance(lease.validUntil);
    expect(lease.signal.aborted).toBe(true);
    await m.close();
  });

  it('extensions and releases are bounded by commandTimeoutMs, whatever the backend', async () => {
    const backend = new MemoryLockBackend();
    const m = createLockManager({ backend, logger: quiet, commandTimeoutMs: 100 });
    const lease = await m.acquire('slow', { autoExtend: false });
    backend.extend = () => new Promise<boolean>(() => {});
    backend.release = () => new Promise<number>(() => {});
    const t0 = performance.now();
    expect(await lease.extend()).toBe(false); // no answer: not extended (the validity timer decides the rest)
    const error = await lease.release().catch((e: unknown) => e);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect(error).toMatchObject({ operation: 'lock.release' });
    expect(performance.now() - t0).toBeLessThan(1_000);
    await m.close();
  });
});

describe('a plain acquire of a key its own context holds', () => {
  it('fails at once with LockAlreadyHeldError instead of waiting forever', async () => {
    const clock = new FakeClock();
    const m = createLockManager({ clock, logger: quiet });
    const first = await m.acquire('self');
    const second = track(m.acquire('self')); // default waitMs: Infinity, no signal
    await clock.advance(1);
    expect(second.done).toBe(true);
    expect(isLockAlreadyHeldError(second.error)).toBe(true);
    await expect(m.acquire('self', { waitMs: 0 })).rejects.toSatisfy(isLockTimeoutError); // bounded: as before
    // A bounded wait, another context, or the same one inside using(), behave as before.
    const bounded = track(m.acquire('self', { waitMs: 5_000 }));
    await first.release();
    await clock.advance(1);
    expect(bounded.done && bounded.error === undefined).toBe(true);
    await m.close();
  });

  it('inside using() the same context re-enters (counted), as before', async () => {
    const m = createLockManager({ logger: quiet });
    const depth = await m.using('ctx', async () => (await m.acquire('ctx')).count);
    expect(depth).toBe(2);
    await m.close();
  });
});

describe('writer preference', () => {
  it('a writer waiting longer than its registration (max(ttl, 1 s)) still holds back new readers', async () => {
    const clock = new FakeClock();
    const m = createLockManager({ clock, logger: quiet, maxRetryDelayMs: 100 });
    const reader = await m.acquire('doc', { mode: 'shared', ttlMs: 300 });
    const writer = track(m.acquire('doc', { ttlMs: 300, waitMs: 10_000 }));
    for (let t = 0; t < 5_000; t += 250) {
      await clock.advance(250);
      const late = await m.tryAcquire('doc', { mode: 'shared', ttlMs: 300 });
      expect(late).toBeUndefined();
    }
    await reader.release();
    await clock.advance(1);
    expect(writer.done && writer.error === undefined).toBe(true);
    await m.close();
  });
});

describe('stats and metric labels stay bounded', () => {
  it('10,000 distinct keys make a bounded number of stats entries (prefix-level, capped)', async () => {
    const m = createLockManager({ logger: quiet });
    for (let i = 0; i < 10_000; i++) {
      await (await m.acquire(`user:${i}`)).release();
      await (await m.acquire(`job-${i}`)).release(); // no ':' separator: must not make one entry per key
    }
    const stats = m.stats();
    expect(Object.keys(stats).length).toBeLessThanOrEqual(101);
    expect(stats.user?.acquisitions).toBe(10_000);
    const total = Object.values(stats).reduce((n, s) => n + s.acquisitions, 0);
    expect(total).toBe(20_000);
    // The metric label values are the same bounded set.
    const read = await collect();
    const points = (read('ballast_lock_acquisitions_total') as { dataPoints: Array<{ attributes: object }> })
      .dataPoints;
    const labels = new Set(points.map((p) => (p.attributes as { prefix: string }).prefix));
    expect(labels.size).toBeLessThanOrEqual(101);
    expect(labels).toContain('(other)');
    await m.close();
  });
});
