/**
 * The primitives' OTel metrics, read from an in-memory SDK meter: one counter by (primitive, operation, outcome)
 * and one wait histogram by primitive — never a semaphore, latch or key name as a label value.
 */
import { createLogger } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { expect, it } from 'vitest';
import {
  createCountDownLatch,
  createMultiLock,
  createReadWriteLock,
  createSemaphore,
  MemorySemaphoreBackend,
} from '../src/index';

const collect = useInMemoryMetrics();
type Point = { attributes: Record<string, unknown>; value: unknown };
const points = (m: unknown) => ((m as { dataPoints?: Point[] } | undefined)?.dataPoints ?? []) as Point[];
const count = (m: unknown, attrs: Record<string, string>) =>
  points(m)
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((a, p) => a + (typeof p.value === 'number' ? p.value : ((p.value as { count: number }).count ?? 0)), 0);

it('counts grants, refusals, timeouts and conversions per primitive, with bounded labels', async () => {
  const clock = new FakeClock();
  const logger = createLogger({ level: 'silent' });
  const backend = new MemorySemaphoreBackend({ clock });
  const sem = createSemaphore({ name: 'user:42', permits: 1, backend, clock, logger, maxRetryDelayMs: 50 });
  const p = await sem.acquire();
  expect(await sem.tryAcquire()).toBeUndefined();
  const late = sem.acquire(1, { waitMs: 100 }).catch(() => {});
  await clock.advance(200);
  await late;
  await p.release();

  const latch = createCountDownLatch({ name: 'user:42', clock, logger });
  await latch.trySetCount(1);
  await latch.countDown();
  await latch.await();

  const rw = createReadWriteLock({ clock, logger });
  const r = await rw.read('user:42');
  await r.upgrade();
  await r.downgrade();
  await r.release();
  const multi = createMultiLock({ clock, logger });
  await (await multi.acquire(['user:1', 'user:2'])).release();

  const read = await collect();
  const ops = read('ballast_lock_primitive_operations_total');
  expect(count(ops, { primitive: 'semaphore', operation: 'acquire', outcome: 'granted' })).toBe(1);
  expect(count(ops, { primitive: 'semaphore', operation: 'acquire', outcome: 'refused' })).toBe(1);
  expect(count(ops, { primitive: 'semaphore', operation: 'acquire', outcome: 'timeout' })).toBe(1);
  expect(count(ops, { primitive: 'semaphore', operation: 'release', outcome: 'released' })).toBe(1);
  expect(count(ops, { primitive: 'latch', operation: 'countDown', outcome: 'released' })).toBe(1);
  expect(count(ops, { primitive: 'latch', operation: 'await', outcome: 'granted' })).toBe(1);
  expect(count(ops, { primitive: 'rw_lock', operation: 'upgrade', outcome: 'granted' })).toBe(1);
  expect(count(ops, { primitive: 'rw_lock', operation: 'downgrade', outcome: 'granted' })).toBe(1);
  expect(count(ops, { primitive: 'multi_lock', operation: 'acquire', outcome: 'granted' })).toBe(1);
  expect(count(read('ballast_lock_primitive_wait_ms'), { primitive: 'semaphore' })).toBe(1);
  // Bounded label values: no name or key appears in any attribute.
  for (const m of [ops, read('ballast_lock_primitive_wait_ms')])
    for (const pt of points(m)) expect(Object.values(pt.attributes).join(' ')).not.toMatch(/user/);
  await Promise.all([sem.close(), latch.close(), rw.close(), multi.close()]);
});
