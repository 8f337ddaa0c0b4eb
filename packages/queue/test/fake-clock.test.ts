/**
 * Timing on the memory backend driven by a FakeClock: delayed promotion and the per-job timeout happen at
 * exactly their time, not a millisecond earlier, with no real waiting.
 */
import { FakeClock, track } from '@ballast/testkit';
import { expect, it } from 'vitest';
import { createQueue, createWorker, isJobTimeoutError } from '../src/index';

/** Lets the worker's loop run to its next wait (it also yields with setImmediate). */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

it('a delayed job runs when the clock reaches its due time, woken by a timer timed to it', async () => {
  const clock = new FakeClock();
  const q = createQueue('fc-delay', { clock });
  const ranAt: number[] = [];
  createWorker(q, () => void ranAt.push(clock.now()), { blockMs: 600_000, stalledIntervalMs: 3_600_000 });
  await settle();
  const t0 = clock.now();
  const { id } = await q.add('t', 1, { delayMs: 10_000 });
  await settle();
  await clock.advance(9_999);
  await settle();
  expect(ranAt).toEqual([]);
  expect((await q.getJob(id))?.state).toBe('delayed');
  await clock.advance(1);
  await expect.poll(() => ranAt).toEqual([t0 + 10_000]);
  await q.close();
});

it('an attempt fails with JobTimeoutError exactly at timeoutMs', async () => {
  const clock = new FakeClock();
  const q = createQueue('fc-timeout', { clock });
  const dead = track(new Promise<unknown>((r) => q.onDead((e) => r(e.error))));
  let started = 0;
  createWorker(
    q,
    () => {
      started = clock.now();
      return new Promise(() => {});
    },
    { stalledIntervalMs: 3_600_000 },
  );
  await q.add('t', 1, { timeoutMs: 5_000, attempts: 1 });
  await expect.poll(() => started).toBeGreaterThan(0);
  await clock.advance(4_999);
  await settle();
  expect(dead.done).toBe(false);
  await clock.advance(1);
  await expect.poll(() => dead.done).toBe(true);
  expect(isJobTimeoutError(dead.value)).toBe(true);
  await q.close().catch(() => {});
});
