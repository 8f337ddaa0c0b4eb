/**
 * The fetch and ack scripts gather a batch's writes into one command each (ZADD into `active`, ZREM from it,
 * ZADD into `completed`, DEL of trimmed jobs). Lua's `unpack` has a C-stack limit of about 8,000 values, so
 * they go in slices: 5,000 jobs fetched and acked in one script call each (concurrency 5,000, no-op handler)
 * put 10,000 values in a ZADD and, kept to the last 100, 14,700 keys in the trim's DEL.
 */
import { useRedisFixture } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import { createQueue, createWorker } from '../src/index';

const fx = useRedisFixture({ name: 'queue-slices' });

it('5,000 jobs fetched and acked in one script call each: all completed, the last 100 kept, the rest deleted', async () => {
  const { redis, prefix } = fx.current;
  const q = createQueue('slices', {
    backend: 'redis',
    redis,
    prefix,
    defaultJobOptions: { removeOnComplete: { count: 100 } },
  });
  const n = 5_000;
  let completed = 0;
  let lastCompleted: string[] = [];
  q.onCompleted(({ job }) => {
    completed++;
    lastCompleted.push(job.id);
    if (lastCompleted.length > 100) lastCompleted = lastCompleted.slice(-100);
  });
  await q.pause();
  await q.addBulk(Array.from({ length: n }, (_, i) => ({ name: 't', data: { i } })));
  const worker = createWorker(q, () => undefined, { concurrency: n, prefetch: 0 });
  try {
    await q.resume();
    await expect.poll(() => completed, { timeout: 20_000 }).toBe(n);
    const counts = await q.counts();
    expect(counts.completed).toBe(100);
    expect(counts.active).toBe(0);
    expect(counts.waiting).toBe(0);
    // Only the 100 kept jobs (and the queue's own keys) are left: every trimmed job's hash is gone.
    const jobKeys = (await redis.keys(`${prefix}:*`)).filter((k) => /:job:|:j:/.test(k));
    expect(jobKeys.length).toBeLessThanOrEqual(100);
    const kept = (await q.getJobs('completed', { start: 0, end: -1 })).map((j) => j.id).sort();
    expect(kept).toEqual([...lastCompleted].sort());
  } finally {
    await worker.close();
    await q.close();
  }
}, 60_000);
