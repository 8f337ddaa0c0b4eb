/**
 * The lock's OTel metrics, read from an in-memory SDK meter: each counter moves with the `stats()` field it
 * mirrors, per key prefix (memory backend, fake clock: no real waiting).
 */
import { createLogger } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { expect, it } from 'vitest';
import { createLockManager, isLockTimeoutError } from '../src/index';

const collect = useInMemoryMetrics();

type Point = { attributes: Record<string, unknown>; value: unknown };
/** Sum of a counter's points, or count of a histogram's, for `prefix`. */
const total = (m: unknown, prefix: string) =>
  (((m as { dataPoints?: Point[] } | undefined)?.dataPoints ?? []) as Point[])
    .filter((p) => p.attributes.prefix === prefix)
    .reduce((a, p) => a + (typeof p.value === 'number' ? p.value : ((p.value as { count: number }).count ?? 0)), 0);

it('counts acquisitions, contention, timeouts and losses per prefix, and records wait and hold times', async () => {
  const clock = new FakeClock();
  const m = createLockManager({ clock, logger: createLogger({ level: 'silent' }), maxRetryDelayMs: 100 });
  m.onLost(() => {});

  // Contended, then granted on release.
  const first = await m.acquire('order:1', { ttlMs: 60_000, autoExtend: false });
  const second = m.acquire('order:1', { ttlMs: 60_000, autoExtend: false, waitMs: 10_000 });
  await clock.advance(50);
  await first.release();
  await (await second).release();

  // Timed out behind a holder.
  const holder = await m.acquire('order:2', { ttlMs: 60_000, autoExtend: false });
  const late = m.acquire('order:2', { waitMs: 300 }).catch((e: unknown) => e);
  for (let i = 0; i < 5; i++) await clock.advance(100);
  expect(isLockTimeoutError(await late)).toBe(true);
  await holder.release();

  // Lost: expired before its release.
  const expiring = await m.acquire('user:1', { ttlMs: 1_000, autoExtend: false });
  await clock.advance(2_000);
  await expiring.release();

  const read = await collect();
  const stats = m.stats();
  // Contended: both attempts that had to wait, the granted one and the timed-out one.
  expect(stats.order).toMatchObject({ acquisitions: 3, contended: 2, timeouts: 1, lost: 0 });
  expect(total(read('ballast_lock_acquisitions_total'), 'order')).toBe(3);
  expect(total(read('ballast_lock_contended_total'), 'order')).toBe(2);
  expect(total(read('ballast_lock_timeouts_total'), 'order')).toBe(1);
  expect(total(read('ballast_lock_wait_ms'), 'order')).toBe(3);
  expect(total(read('ballast_lock_hold_ms'), 'order')).toBe(3);
  expect(stats.user).toMatchObject({ acquisitions: 1, lost: 1 });
  expect(total(read('ballast_lock_lost_total'), 'user')).toBe(1);
  expect(total(read('ballast_lock_lost_total'), 'order')).toBe(0);
  await m.close();
});
