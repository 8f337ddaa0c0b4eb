/**
 * Rate-limited queues (§4): one limiter for all workers of a queue (memory on a FakeClock, Redis across two
 * queue objects standing for two processes), `RateLimitedError` pushing the job back without spending an
 * attempt and pausing every worker for Retry-After, and `Retry-After` parsing.
 */
import { isInvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CreateQueueOptions,
  createQueue,
  createWorker,
  MemoryBackend,
  type Queue,
  RateLimitedError,
  retryAfterToMs,
} from '../src/index';

const fx = useRedisFixture({ name: 'queue-limiter' });
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) await q.close().catch(() => {});
});
let n = 0;
const redisQueue = (name: string, options: CreateQueueOptions = {}) => {
  const q = createQueue(name, { ...options, backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
  open.push(q);
  return q;
};

async function until(cond: () => boolean, what: () => string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; !cond(); i++) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => (i < 50 ? setImmediate(r) : setTimeout(r, 5)));
  }
}

describe('limiter across workers', () => {
  it('memory, FakeClock: three workers start at most max + t·max/duration jobs by any time t', async () => {
    const clock = new FakeClock();
    const q = createQueue('lim-mem', { clock, limiter: { max: 5, durationMs: 1_000 } });
    open.push(q);
    const t0 = clock.now();
    const started: number[] = [];
    for (let w = 0; w < 3; w++) {
      createWorker(q, () => void started.push(clock.now() - t0), { concurrency: 4, stalledIntervalMs: 3_600_000 });
    }
    await q.addBulk(Array.from({ length: 30 }, (_, i) => ({ name: 'j', data: i })));
    await until(
      () => started.length >= 5,
      () => `${started.length} started`,
    );
    for (let t = 0; t <= 6_000; t += 100) {
      // Token bucket: 5 at once, then one per 200 ms.
      expect(started.filter((s) => s <= t).length, `by ${t} ms`).toBeLessThanOrEqual(5 + Math.floor(t / 200));
      await clock.advance(100);
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    }
    await until(
      () => started.length === 30,
      () => `${started.length} started`,
    );
    // The limit is the rate, not a stall: all 30 ran within the bucket's time (+ the 100 ms steps).
    expect(Math.max(...started)).toBeLessThanOrEqual(5_000 + 100);
  });

  it('redis: two processes share one limiter (16 jobs at 4 per 400 ms: each start no earlier than the bucket allows)', async () => {
    const name = `lim${n++}`;
    const limiter = { max: 4, durationMs: 400 };
    const a = redisQueue(name, { limiter });
    const b = redisQueue(name, { limiter });
    const started: number[] = [];
    for (const q of [a, b]) createWorker(q, () => void started.push(Date.now()), { concurrency: 8 });
    // Whatever the workers took before, the bucket holds at most 4 tokens now and refills one per 100 ms.
    const t0 = Date.now();
    await a.addBulk(Array.from({ length: 16 }, (_, i) => ({ name: 'j', data: i })));
    await until(
      () => started.length === 16,
      () => `${started.length} started`,
    );
    started.sort((x, y) => x - y);
    // Job i (0-based) can start no earlier than t0 + (i - 3) · 100 ms (load only delays starts); 5 ms for
    // clock granularity.
    for (let i = 4; i < 16; i++) expect(started[i]! - t0, `job ${i}`).toBeGreaterThanOrEqual((i - 3) * 100 - 5);
  });

  it('a backend without a limiter refuses `limiter` with a typed error naming it', () => {
    class NoLimiter extends MemoryBackend {
      override limiter(): never {
        return undefined as never;
      }
    }
    const q = createQueue('lim-none', { backend: new NoLimiter(), limiter: { max: 1, durationMs: 1 } });
    open.push(q);
    let error: unknown;
    try {
      createWorker(q, () => {});
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionsError(error)).toBe(true);
    expect(String(error)).toMatch(/limiter/);
  });
});

describe('RateLimitedError and worker.rateLimit', () => {
  it('memory, FakeClock: the job goes back for Retry-After with no attempt spent, and the worker waits as long', async () => {
    const clock = new FakeClock();
    const q = createQueue('rl-mem', { clock });
    open.push(q);
    const t0 = clock.now();
    const runs: [string, number, number][] = [];
    let first = true;
    createWorker(
      q,
      (job) => {
        runs.push([job.name, job.attempt, clock.now() - t0]);
        if (job.name === 'a' && first) {
          first = false;
          throw RateLimitedError.fromRetryAfter('2');
        }
      },
      { concurrency: 1, prefetch: 0, stalledIntervalMs: 3_600_000 },
    );
    const { id } = await q.add('a', 1, { attempts: 1 });
    await until(
      () => runs.length === 1,
      () => 'first run',
    );
    await q.add('b', 2);
    await expect.poll(async () => (await q.getJob(id))?.state).toBe('delayed');
    expect((await q.getJob(id))?.attemptsMade).toBe(0);
    await clock.advance(1_999);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(runs).toHaveLength(1); // b waits too: the worker is rate limited
    await clock.advance(1);
    await until(
      () => runs.length === 3,
      () => JSON.stringify(runs),
    );
    expect(runs.slice(1).sort()).toEqual([
      ['a', 1, 2_000],
      ['b', 1, 2_000],
    ]);
    await expect.poll(async () => (await q.getJob(id))?.state).toBe('completed');
  });

  it('redis: a 429 in one process pauses the other process too (the block lives beside the limiter)', async () => {
    const name = `rl${n++}`;
    const limiter = { max: 1_000, durationMs: 1_000 };
    const a = redisQueue(name, { limiter });
    const b = redisQueue(name, { limiter });
    let limitedAt = 0;
    const otherAt: number[] = [];
    const handler = (job: { name: string; attempt: number }) => {
      if (job.name === 'other') otherAt.push(Date.now());
      else if (limitedAt === 0) {
        limitedAt = Date.now();
        throw new RateLimitedError(600);
      }
    };
    createWorker(a, handler);
    const { id } = await a.add('upstream', 1);
    // Released (back to delayed) after the block was set.
    await expect.poll(async () => (await a.getJob(id))?.state).toBe('delayed');
    createWorker(b, handler);
    await b.add('other', 2);
    await until(
      () => otherAt.length >= 1,
      () => 'other to run',
    );
    expect(otherAt[0]! - limitedAt).toBeGreaterThanOrEqual(600 - 5);
    await expect.poll(async () => (await a.getJob(id))?.state).toBe('completed');
    expect((await a.getJob(id))?.attemptsMade).toBe(0);
  });

  it('worker.rateLimit(ms) holds fetching for that long (memory, FakeClock)', async () => {
    const clock = new FakeClock();
    const q = createQueue('rl-manual', { clock });
    open.push(q);
    const ran: number[] = [];
    const t0 = clock.now();
    const worker = createWorker(q, () => void ran.push(clock.now() - t0), { stalledIntervalMs: 3_600_000 });
    await worker.rateLimit(1_000);
    await q.add('j', 1);
    await clock.advance(999);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(ran).toEqual([]);
    await clock.advance(1);
    await until(
      () => ran.length === 1,
      () => 'the job',
    );
    expect(ran).toEqual([1_000]);
  });

  it('Retry-After: seconds, an HTTP date, or the fallback', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(retryAfterToMs('3', 1_000, now)).toBe(3_000);
    expect(retryAfterToMs(1.5, 1_000, now)).toBe(1_500);
    expect(retryAfterToMs(new Date(now + 7_000).toUTCString(), 1_000, now)).toBe(7_000);
    expect(retryAfterToMs('soon', 1_000, now)).toBe(1_000);
    expect(retryAfterToMs(null, 250, now)).toBe(250);
    expect(RateLimitedError.fromRetryAfter('2').retryAfterMs).toBe(2_000);
  });
});
