/**
 * Grouped queues (§4): groups served round-robin so a tenant with many jobs cannot starve one with few, a
 * per-group rate limit, retries going back to their group's line — memory, Redis, Redis Cluster.
 */
import { type Cluster, isInvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisClusterFixture, useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { type CreateQueueOptions, createQueue, createWorker, type Queue } from '../src/index';

const redisFx = useRedisFixture({ name: 'queue-groups' });
const clusterFx = useRedisClusterFixture({ name: 'queue-groups-cluster' });
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) await q.close().catch(() => {});
});
let n = 0;

const kinds: [string, (o: CreateQueueOptions) => Queue][] = [
  ['memory', (o) => createQueue(`g${n++}`, o)],
  [
    'redis',
    (o) =>
      createQueue(`g${n++}`, { ...o, backend: 'redis', redis: redisFx.current.redis, prefix: redisFx.current.prefix }),
  ],
  [
    'redis-cluster',
    (o) =>
      createQueue(`g${n++}`, { ...o, backend: 'redis', redis: clusterFx.cluster as Cluster, prefix: clusterFx.prefix }),
  ],
];

describe.each(kinds)('groups on %s', (_kind, make) => {
  const queue = (o: CreateQueueOptions) => {
    const q = make(o);
    open.push(q);
    return q;
  };

  it('groups take turns: 3 jobs of a small tenant run among the first 6, behind none of the 60 of a big one', async () => {
    const q = queue({ groups: true });
    await q.addBulk(Array.from({ length: 60 }, (_, i) => ({ name: 'j', data: `big${i}`, options: { group: 'big' } })));
    await q.addBulk(
      Array.from({ length: 3 }, (_, i) => ({ name: 'j', data: `small${i}`, options: { group: 'small' } })),
    );
    // Waiting in group lines, counted as waiting.
    expect(await q.counts()).toMatchObject({ waiting: 63, byPriority: { medium: 63 } });
    const order: string[] = [];
    createWorker(q, (job) => void order.push(job.data as string), { concurrency: 1, prefetch: 0 });
    await expect.poll(() => order.length, { timeout: 15_000 }).toBe(63);
    expect(order.slice(0, 6)).toEqual(['big0', 'small0', 'big1', 'small1', 'big2', 'small2']);
    expect(order.slice(6)).toEqual(Array.from({ length: 57 }, (_, i) => `big${i + 3}`));
    await expect.poll(async () => (await q.counts()).waiting).toBe(0);
  });

  it('a failed grouped job retries through its group line (attempt 2), and a group needs a grouped queue', async () => {
    const q = queue({ groups: true });
    const attempts: number[] = [];
    createWorker(q, (job) => {
      attempts.push(job.attempt);
      if (job.attempt === 1) throw new Error('once');
    });
    const { id } = await q.add('j', 1, { group: 't1', attempts: 2, backoff: 0 });
    await expect.poll(async () => (await q.getJob(id))?.state, { timeout: 15_000 }).toBe('completed');
    expect(attempts).toEqual([1, 2]);
    const plain = queue({});
    const error = await plain.add('j', 1, { group: 't1' }).catch((e: unknown) => e);
    expect(isInvalidOptionsError(error)).toBe(true);
    expect(String(error)).toMatch(/group/);
  });
});

it('memory, FakeClock: each group is limited on its own (2 per second), the other groups unaffected', async () => {
  const clock = new FakeClock();
  const q = createQueue('g-limit', { clock, groups: { limiter: { max: 2, durationMs: 1_000 } } });
  open.push(q);
  const t0 = clock.now();
  const started: [string, number][] = [];
  createWorker(q, (job) => void started.push([job.data as string, clock.now() - t0]), {
    concurrency: 8,
    stalledIntervalMs: 3_600_000,
  });
  await q.addBulk([
    ...Array.from({ length: 6 }, (_, i) => ({ name: 'j', data: `a${i}`, options: { group: 'a' } })),
    ...Array.from({ length: 2 }, (_, i) => ({ name: 'j', data: `b${i}`, options: { group: 'b' } })),
  ]);
  const settle = async () => {
    for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
  };
  await expect.poll(() => started.length).toBe(4);
  expect(started.map(([d]) => d).sort()).toEqual(['a0', 'a1', 'b0', 'b1']);
  for (let t = 100; t <= 2_000; t += 100) {
    await clock.advance(100);
    await settle();
  }
  // a: 2 at once, then one per 500 ms.
  expect(started.filter(([d]) => d.startsWith('a'))).toEqual([
    ['a0', 0],
    ['a1', 0],
    ['a2', 500],
    ['a3', 1_000],
    ['a4', 1_500],
    ['a5', 2_000],
  ]);
});

it('redis: each group is limited on its own, on the server clock (2 per 400 ms), the other group unaffected', async () => {
  const q = createQueue(`g${n++}`, {
    backend: 'redis',
    redis: redisFx.current.redis,
    prefix: redisFx.current.prefix,
    groups: { limiter: { max: 2, durationMs: 400 } },
  });
  open.push(q);
  const started = new Map<string, number>();
  createWorker(q, (job) => void started.set(job.data as string, Date.now()), { concurrency: 8 });
  const t0 = Date.now();
  await q.addBulk([
    ...Array.from({ length: 4 }, (_, i) => ({ name: 'j', data: `a${i}`, options: { group: 'a' } })),
    ...Array.from({ length: 2 }, (_, i) => ({ name: 'j', data: `b${i}`, options: { group: 'b' } })),
  ]);
  await expect.poll(() => started.size, { timeout: 15_000 }).toBe(6);
  // a: 2 at once, then one per 200 ms (load only delays starts); b never waits for a.
  expect(started.get('a2')! - t0).toBeGreaterThanOrEqual(200 - 5);
  expect(started.get('a3')! - t0).toBeGreaterThanOrEqual(400 - 5);
  expect(Math.max(started.get('b0')!, started.get('b1')!)).toBeLessThan(started.get('a2')!);
});
