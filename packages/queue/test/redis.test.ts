import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, type Queue } from '../src/index';
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

describe('Redis backend specifics', () => {
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
