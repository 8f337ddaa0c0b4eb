/**
 * A Redis worker keeps two fetches out at once, on two lanes (`backend.createFetchLanes()`): lane 0 on the
 * queue's connection, lane 1 on a connection of its own. Redis answers one while the process runs the jobs of
 * the other. Fetched one at a time, the two took turns — the process idle while Redis ran the fetch, Redis
 * idle while the process ran the jobs. Redis may run the later-sent fetch first: batches are taken in the
 * order Redis ran them, so jobs still start in priority order. Lane 1 ends with the worker.
 */
import type { Redis } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import type { FetchLanes } from '../src/backend';
import { createQueue, createWorker, type Priority, type Queue } from '../src/index';

const fx = useRedisFixture({ name: 'queue-lanes' });

const clients = async (redis: Redis) =>
  String(await redis.client('LIST'))
    .trim()
    .split('\n').length;

/** Wraps the queue's lanes for a test: `around` sees every fetch. */
function spyLanes(
  q: Queue,
  around: (
    lanes: FetchLanes,
    lane: 0 | 1,
    run: () => ReturnType<FetchLanes['fetch']>,
  ) => ReturnType<FetchLanes['fetch']>,
): { inner: () => FetchLanes | undefined } {
  const create = q.backend.createFetchLanes!.bind(q.backend);
  let inner: FetchLanes | undefined;
  q.backend.createFetchLanes = (workerId) => {
    const lanes = create(workerId);
    inner = lanes;
    return {
      get ready() {
        return lanes.ready;
      },
      fetch: (lane, ...args) => around(lanes, lane, () => lanes.fetch(lane, ...args)),
      close: () => lanes.close(),
    };
  };
  return { inner: () => inner };
}

it('two fetches out at once, one on each lane; every job runs once; close() ends lane 1’s connection', async () => {
  const redis = fx.current.redis;
  const q = createQueue('lanes', { backend: 'redis', redis, prefix: fx.current.prefix });
  let out = 0;
  let most = 0;
  const on = [0, 0];
  let both = false;
  spyLanes(q, async (_lanes, lane, run) => {
    out++;
    most = Math.max(most, out);
    on[lane]!++;
    if (on[0]! > 0 && on[1]! > 0) both = true;
    try {
      return await run();
    } finally {
      out--;
      on[lane]!--;
    }
  });
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
    expect(both).toBe(true);
  } finally {
    await worker.close();
  }
  // The worker's connections (lane 1's and the blocking waiter's) are gone.
  await expect.poll(() => clients(redis), { timeout: 5_000 }).toBeLessThanOrEqual(before);
  await q.close();
}, 60_000);

it('Redis runs the later-sent fetch first and answers it last: the worker still starts jobs in priority order', async () => {
  const q = createQueue('lanes-order', { backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
  let armed = false;
  let fetches = 0;
  let held0 = false;
  let held1 = false;
  let lane1Ran!: () => void;
  const lane1RanP = new Promise<void>((r) => {
    lane1Ran = r;
  });
  let lane0Back!: () => void;
  const lane0BackP = new Promise<void>((r) => {
    lane0Back = r;
  });
  const { inner } = spyLanes(q, async (_lanes, lane, run) => {
    if (!armed) {
      try {
        return await run();
      } finally {
        fetches++;
      }
    }
    if (lane === 0 && !held0) {
      // Sent first, run second: held until lane 1's fetch has run in Redis.
      held0 = true;
      await lane1RanP;
      const res = await run();
      lane0Back();
      return res;
    }
    if (lane === 1 && !held1) {
      // Sent second, run first (it takes the highest priorities), answered last.
      held1 = true;
      const res = await run();
      lane1Ran();
      await lane0BackP;
      // (The worker has had lane 0's answer: anything it starts on it, it starts in these ticks.)
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
      return res;
    }
    return run();
  });
  await q.pause();
  const started: number[] = [];
  const worker = createWorker(
    q,
    (job) => {
      started.push(job.priority);
    },
    { concurrency: 4, prefetch: 4 },
  );
  let done = 0;
  q.onCompleted(() => done++);
  try {
    // Lane 1's connection up, and the worker's first (empty, paused) fetch done: it now waits for work.
    await expect.poll(() => inner()?.ready === true && fetches >= 1, { timeout: 5_000 }).toBe(true);
    const add = (priority: Priority, k: number) =>
      Array.from({ length: k }, (_, i) => ({ name: 't', data: { i }, options: { priority } }));
    await q.addBulk([...add(1, 8), ...add(5, 4), ...add(9, 4)]);
    armed = true;
    await q.resume();
    await expect.poll(() => done, { timeout: 10_000 }).toBe(16);
    expect(held0 && held1).toBe(true);
    expect(started).toEqual([...Array(4).fill(9), ...Array(4).fill(5), ...Array(8).fill(1)]);
  } finally {
    await worker.close();
    await q.close();
  }
}, 30_000);

it('lane 1 failing: the worker reports it, goes on fetching on lane 0 alone, lane 1 comes back, no job is lost', async () => {
  const q = createQueue('lanes-fail', { backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
  let lane1Calls = 0;
  let lane1Failures = 0;
  let lane0Calls = 0;
  spyLanes(q, async (_lanes, lane, run) => {
    if (lane === 1) {
      lane1Calls++;
      if (lane1Failures < 2) {
        lane1Failures++;
        throw new Error('lane 1 connection lost');
      }
    } else lane0Calls++;
    return run();
  });
  const errors: unknown[] = [];
  const seen = new Set<string>();
  const worker = createWorker(
    q,
    (job) => {
      seen.add(job.id);
    },
    { concurrency: 50, onError: (e) => errors.push(e) },
  );
  let done = 0;
  q.onCompleted(() => done++);
  let added = 0;
  try {
    // Rounds of no-op jobs (two fetches out at once is common then) until lane 1 has worked again after its two
    // failures and their backoff.
    for (let round = 0; round < 200 && lane1Calls <= lane1Failures; round++) {
      await q.addBulk(Array.from({ length: 500 }, (_, i) => ({ name: 't', data: { i } })));
      added += 500;
      await expect.poll(() => done, { timeout: 20_000 }).toBe(added);
    }
    expect(seen.size).toBe(added);
    expect(lane1Failures).toBe(2);
    expect(errors.filter((e) => String(e).includes('lane 1 connection lost'))).toHaveLength(2);
    // Lane 1 came back after its backoff; lane 0 went on meanwhile.
    expect(lane1Calls).toBeGreaterThan(lane1Failures);
    expect(lane0Calls).toBeGreaterThan(0);
  } finally {
    await worker.close();
    await q.close();
  }
}, 60_000);

it('the worker’s fetch counter lost mid-run (a restarted Redis, an expired key): jobs still start at once, no spinning', async () => {
  const redis = fx.current.redis;
  const q = createQueue('lanes-reset', { backend: 'redis', redis, prefix: fx.current.prefix });
  let fetches = 0;
  spyLanes(q, (_lanes, _lane, run) => {
    fetches++;
    return run();
  });
  const worker = createWorker(q, () => undefined, { concurrency: 50, blockMs: 2_000 });
  let done = 0;
  q.onCompleted(() => done++);
  try {
    await q.addBulk(Array.from({ length: 2_000 }, (_, i) => ({ name: 't', data: { i } })));
    await expect.poll(() => done, { timeout: 20_000 }).toBe(2_000);
    const [counter] = await redis.keys(`${fx.current.prefix}:*fetch-order*`);
    expect(counter).toBeDefined();
    // Order restarts at 1 while the worker last took a large one.
    await redis.del(counter!);
    const before = fetches;
    for (let i = 0; i < 10; i++) {
      const { id } = await q.add('t', { late: i });
      await expect.poll(async () => (await q.getJob(id))?.state, { timeout: 2_000 }).toBe('completed');
    }
    // (A worker stuck on a parked batch fetched thousands of times a second.)
    expect(fetches - before).toBeLessThan(100);
  } finally {
    await worker.close();
    await q.close();
  }
  // close() takes the worker's counter with it.
  expect(await redis.keys(`${fx.current.prefix}:*fetch-order*`)).toEqual([]);
}, 60_000);

it('a worker that holds fewer than 8 jobs keeps one fetch out (no second lane)', async () => {
  const q = createQueue('lanes-small', { backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
  let created = 0;
  const create = q.backend.createFetchLanes!.bind(q.backend);
  q.backend.createFetchLanes = (id) => {
    created++;
    return create(id);
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
