/**
 * A worker whose clock runs ahead (issue 19 §3) on the Redis backend: leases, due times of delayed jobs and
 * retries are kept on the Redis server's clock, so a worker 20 s ahead neither declares a healthy job stalled
 * (and runs it a second time) nor starts a delayed job or a retry early, and a host 20 s behind neither
 * shortens a lease nor schedules a job early. Skewed hosts run on FakeClocks started 20 s off the real time.
 */

import type { Clock } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, expect, it } from 'vitest';
import { createQueue, createWorker, type Queue, type Worker } from '../src/index';

const fx = useRedisFixture({ name: 'queue-skew' });
const SKEW_MS = 20_000;
let n = 0;
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0).reverse()) await q.close();
});

/**
 * Three handles on one Redis queue, as three hosts: one on the real clock, one on a clock `SKEW_MS` ahead,
 * one `SKEW_MS` behind (FakeClocks: their timers — lease renewal, stalled checks — fire when advanced).
 */
function hosts() {
  const name = `skew${n++}`;
  const aheadClock = new FakeClock({ now: Date.now() + SKEW_MS });
  const behindClock = new FakeClock({ now: Date.now() - SKEW_MS });
  const make = (clock?: Clock) => {
    const q = createQueue(name, {
      backend: 'redis',
      redis: fx.current.redis,
      prefix: fx.current.prefix,
      ...(clock ? { clock } : {}),
    });
    open.push(q);
    return q;
  };
  return { right: make(), ahead: make(aheadClock), behind: make(behindClock), aheadClock, behindClock };
}

/** Counts finished calls of a backend method (the real one runs). */
function countCalls<K extends 'recoverStalled' | 'fetch' | 'renew'>(q: Queue, method: K): { readonly n: number } {
  const counter = { n: 0 };
  const backend = q.backend as unknown as Record<K, (...a: unknown[]) => Promise<unknown>>;
  const real = backend[method].bind(backend);
  backend[method] = async (...a: unknown[]) => {
    try {
      return await real(...a);
    } finally {
      counter.n++;
    }
  };
  return counter;
}

/** Handlers a test left running (a failing run): released before the queues close. */
const running: (() => void)[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r();
});

it('a healthy job leased and renewed by a worker 20 s behind is not declared stalled by one 20 s ahead', async () => {
  const { behind, ahead, behindClock, aheadClock } = hosts();
  const runs: string[] = [];
  const renewed = countCalls(behind, 'renew');
  createWorker(
    behind,
    () => {
      runs.push('behind');
      return new Promise<void>((r) => running.push(r));
    },
    { lockMs: 10_000 },
  );
  const completed = track(new Promise((r) => behind.onCompleted(r)));
  const { id } = await behind.add('work', {});
  await expect.poll(() => runs.length).toBe(1);

  const checks = countCalls(ahead, 'recoverStalled');
  const stalled: string[] = [];
  ahead.onStalled((e) => stalled.push(e.jobId));
  createWorker(ahead, () => void runs.push('ahead'), { stalledIntervalMs: 1_000, lockMs: 10_000 });
  // Its first stalled check (at start) sees the lease the fetch set: 10 s from now on the server's clock.
  await expect.poll(() => checks.n).toBeGreaterThan(0);
  // The holder's lease renewal (every lockMs / 2): again 10 s from now on the server's clock.
  await behindClock.advance(5_000);
  await expect.poll(() => renewed.n).toBeGreaterThan(0);
  // Its clock says the lease lapsed long ago: 20 s, 21 s, … 25 s past the start, 45 s past the holder's.
  for (let i = 0; i < 5; i++) {
    const before = checks.n;
    await aheadClock.advance(1_000);
    await expect.poll(() => checks.n).toBeGreaterThan(before);
  }
  expect(stalled).toEqual([]);
  expect((await ahead.getJob(id))?.state).toBe('active');
  running.shift()?.();
  await expect.poll(() => completed.done).toBe(true);
  expect(runs).toEqual(['behind']);
});

it('a delayed job added by a host 20 s behind starts on a worker 20 s ahead when due, not early, and that worker sleeps until then', async () => {
  const { behind, ahead } = hosts();
  const fetches = countCalls(ahead, 'fetch');
  const started = track(new Promise<number>((r) => createWorker(ahead, () => r(Date.now()))));
  const addedAt = Date.now();
  await behind.add('later', {}, { delayMs: 1_500 });
  await expect.poll(() => started.done, { timeout: 5_000 }).toBe(true);
  // Redis and this test share the host's clock: the job was due 1.5 s after the server took the add.
  expect(started.value).toBeGreaterThanOrEqual(addedAt + 1_500);
  // Woken by its blocking wait timed to the due time (server time turned into its own clock), not polling.
  expect(fetches.n).toBeLessThan(10);
});

it('a retry scheduled by a worker 20 s behind does not start early on a worker 20 s ahead', async () => {
  const { behind, ahead } = hosts();
  let failedAt = 0;
  const first: Worker = createWorker(behind, () => {
    failedAt = Date.now();
    throw new Error('first attempt fails');
  });
  const retrying = track(new Promise((r) => behind.onRetrying(r)));
  await behind.add('flaky', {}, { attempts: 2, backoff: 1_000 });
  await expect.poll(() => retrying.done).toBe(true);
  await first.close();
  const second = track(new Promise<number>((r) => createWorker(ahead, () => r(Date.now()))));
  await expect.poll(() => second.done, { timeout: 5_000 }).toBe(true);
  expect(second.value).toBeGreaterThanOrEqual(failedAt + 1_000);
});
