import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import type { RedisBackend } from '../src/backends/redis';
import { createQueue, createWorker, type Queue } from '../src/index';
import { flowsContract } from './flows.contract';
import { queueContract } from './queue.contract';

const fx = useRedisFixture({ name: 'queue' });
let n = 0;
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) await q.close();
});
const newQueue: (o?: Parameters<typeof createQueue>[1]) => Queue = (options = {}) => {
  const q = createQueue(`q${n++}`, {
    ...options,
    backend: 'redis',
    redis: fx.current.redis,
    prefix: fx.current.prefix,
  });
  open.push(q);
  return q;
};

// The same contract the memory backend passes, on the real server.
queueContract('redis', { create: () => ({ newQueue }) });
flowsContract('redis', { create: () => ({ newQueue }) });

describe('Redis backend specifics', () => {
  it('a failing blocking wait is reported and backed off on the clock, not retried in a tight loop', async () => {
    const clock = new FakeClock();
    const q = newQueue({ clock });
    // The wake-up list holds a string: every BLPOP on it fails at once with WRONGTYPE.
    const wake = (q.backend as RedisBackend).keys.wake;
    await fx.current.redis.set(wake, 'not-a-list');
    const errors: unknown[] = [];
    let reported: () => void = () => {};
    const worker = createWorker(q, () => {}, {
      blockMs: 60_000,
      stalledIntervalMs: 3_600_000,
      onError: (e) => {
        errors.push(e);
        reported();
      },
    });
    const next = () => new Promise<void>((r) => (reported = r));
    let more = next();
    await more;
    expect(String(errors[0])).toMatch(/WRONGTYPE/);
    // Until the fake clock moves, the worker sleeps: no second attempt however long real time runs.
    more = next();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
    // 200 ms later (the first backoff step) it tries again, fails again, and waits longer: 400 ms.
    await clock.advance(200);
    await more;
    expect(errors).toHaveLength(2);
    more = next();
    await clock.advance(399);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(2);
    await clock.advance(1);
    await more;
    expect(errors).toHaveLength(3);
    // Once the list is usable again the worker goes back to blocking and takes new work.
    await fx.current.redis.del(wake);
    await clock.advance(5_000);
    const { id } = await q.add('t', 1);
    await expect.poll(async () => (await q.getJob(id))?.state).toBe('completed');
    await worker.close();
  });

  it('keeps every key of a queue in one hash tag (one Cluster slot)', async () => {
    const q = newQueue();
    await q.add('t', 1);
    const keys = await fx.current.redis.keys(`${fx.current.prefix}:queue:{${q.name}}:*`);
    expect(keys.length).toBeGreaterThan(0);
    const all = await fx.current.redis.keys(`${fx.current.prefix}:*`);
    expect(all.filter((k) => k.includes(q.name)).every((k) => k.includes(`{${q.name}}`))).toBe(true);
  });

  it('an idle worker blocks (no polling) and wakes on add; two workers share a burst', async () => {
    const q = newQueue();
    const seen = new Map<string, number>();
    let done: () => void = () => {};
    const all = new Promise<void>((r) => {
      done = r;
    });
    let count = 0;
    const handler = (who: string) => async () => {
      seen.set(who, (seen.get(who) ?? 0) + 1);
      await new Promise((r) => setImmediate(r));
      if (++count === 40) done();
    };
    createWorker(q, handler('a'), { concurrency: 5, blockMs: 60_000 });
    createWorker(q, handler('b'), { concurrency: 5, blockMs: 60_000 });
    // Both workers are blocked on the wake-up list now (blockMs is a minute: only a wake-up can end it).
    await new Promise((r) => setTimeout(r, 50));
    await q.addBulk(Array.from({ length: 40 }, (_, i) => ({ name: 't', data: i })));
    await all;
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBe(40);
    expect(seen.size).toBe(2);
  });

  it('a delayed job wakes a blocked worker at its due time', async () => {
    const q = newQueue();
    const done = new Promise<number>((r) => {
      createWorker(q, () => r(Date.now()), { blockMs: 60_000 });
    });
    await new Promise((r) => setTimeout(r, 30));
    const { id } = await q.add('t', 1, { delayMs: 100 });
    await done;
    const info = await q.getJob(id);
    expect(info!.processedAt! - info!.createdAt).toBeGreaterThanOrEqual(100);
  });
});
