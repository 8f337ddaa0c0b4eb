/**
 * A Redis worker keeps two fetches out at once, the second on a connection of its own
 * (`backend.createFetcher()`): Redis answers one while the process runs the jobs of the other. Fetched one at
 * a time, the two took turns — the process idle while Redis ran the fetch, Redis idle while the process ran
 * the jobs. The second connection ends with the worker.
 */
import type { Redis } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import type { Fetcher } from '../src/backend';
import { createQueue, createWorker } from '../src/index';

const fx = useRedisFixture({ name: 'queue-lanes' });

const clients = async (redis: Redis) =>
  String(await redis.client('LIST'))
    .trim()
    .split('\n').length;

it('two fetches out at once, one on the fetcher’s own connection; every job runs once; close() ends that connection', async () => {
  const redis = fx.current.redis;
  const q = createQueue('lanes', { backend: 'redis', redis, prefix: fx.current.prefix });
  const backend = q.backend;
  let out = 0;
  let most = 0;
  let onFetcher = 0;
  let bothPaths = false;
  let mainOut = 0;
  let fetcherOut = 0;
  const track = async <T>(side: 'main' | 'fetcher', run: () => Promise<T>): Promise<T> => {
    out++;
    most = Math.max(most, out);
    if (side === 'main') mainOut++;
    else fetcherOut++;
    if (mainOut > 0 && fetcherOut > 0) bothPaths = true;
    try {
      return await run();
    } finally {
      out--;
      if (side === 'main') mainOut--;
      else fetcherOut--;
    }
  };
  const fetch = backend.fetch.bind(backend);
  backend.fetch = (...args) => track('main', () => fetch(...args));
  const createFetcher = backend.createFetcher!.bind(backend);
  backend.createFetcher = (): Fetcher => {
    const f = createFetcher();
    return {
      fetch: (...args) => {
        onFetcher++;
        return track('fetcher', () => f.fetch(...args));
      },
      close: () => f.close(),
    };
  };
  const n = 3_000;
  const seen = new Map<string, number>();
  await q.pause();
  await q.addBulk(Array.from({ length: n }, (_, i) => ({ name: 't', data: { i } })));
  const before = await clients(redis);
  const worker = createWorker(
    q,
    (job) => {
      seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
    },
    { concurrency: 50 },
  );
  let done = 0;
  q.onCompleted(() => done++);
  try {
    await q.resume();
    await expect.poll(() => done, { timeout: 20_000 }).toBe(n);
    expect(seen.size).toBe(n);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    expect(most).toBe(2);
    expect(bothPaths).toBe(true);
    expect(onFetcher).toBeGreaterThan(0);
  } finally {
    await worker.close();
  }
  // The worker's connections (the fetcher's and the blocking waiter's) are gone.
  await expect.poll(() => clients(redis), { timeout: 5_000 }).toBeLessThanOrEqual(before);
  await q.close();
}, 60_000);

it('a worker that holds fewer than 8 jobs keeps one fetch out (no second connection)', async () => {
  const q = createQueue('lanes-small', { backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
  let created = 0;
  const createFetcher = q.backend.createFetcher!.bind(q.backend);
  q.backend.createFetcher = () => {
    created++;
    return createFetcher();
  };
  await q.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 't', data: { i } })));
  let done = 0;
  q.onCompleted(() => done++);
  const worker = createWorker(q, () => undefined, { concurrency: 2, prefetch: 2 });
  try {
    await expect.poll(() => done, { timeout: 10_000 }).toBe(20);
    expect(created).toBe(0);
  } finally {
    await worker.close();
    await q.close();
  }
});
