import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createRedis, parseRedisUrl, type Redis } from '@ballast/core';
import {
  type Queue as BallastQueue,
  createQueue,
  createQueueEvents,
  createWorker,
  MemoryStatusStore,
  type Priority,
  type RabbitBackend,
  type Worker,
} from '@ballast/queue';
import { FakeClock } from '@ballast/testkit';
import { connect as amqpConnect } from 'amqplib';
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { benchRedisUrl } from '../env';
import type { BenchCase, Suite } from '../harness';
import { masterWithReplica } from '../replicated';

export interface QueueSuiteOptions {
  /** Jobs per measured call. Default 500. */
  jobs?: number;
  /** Worker concurrency (one worker per impl). Default 50. */
  concurrency?: number;
  /** Schedulers of the `cron-tick` case. Default 1,000. */
  schedulers?: number;
}

const LEVELS: Priority[] = ['high', 'medium', 'low'];
/** BullMQ: 1 is its highest priority; 0 means "no priority" (a different, FIFO list), so 1..3. */
const BULL_PRIORITY = { high: 1, medium: 2, low: 3 } as const;
/** Both impls keep the last 1,000 completed jobs (ballast's default; set explicitly on BullMQ). */
const KEEP = 1_000;

interface Impl {
  name: string;
  /** Broker impls: publishes `n` jobs and waits for the broker's confirms (nothing consumes them). */
  publish?(n: number): Promise<unknown>;
  /** Broker impls: with the consumer running, adds `n` jobs and resolves (ms) when all completed. */
  addAndProcess?(n: number): Promise<number>;
  /** Broker impls: drops what `publish` left on the broker. */
  purge?(): Promise<void>;
  addBulk(n: number): Promise<unknown>;
  /** Pauses processing (queue-wide), adds `n` jobs, resumes and resolves when all `n` completed; returns ms from resume. */
  process(n: number): Promise<number>;
  /** Pauses the queue (no worker takes jobs): `add-bulk` measures adding alone. */
  pause(): Promise<void>;
  close(): Promise<void>;
}

/** Resolves after `n` completion callbacks. */
class Counter {
  #target = 0;
  #count = 0;
  #done: (() => void) | undefined;
  expect(n: number): Promise<void> {
    this.#count = 0;
    this.#target = n;
    return new Promise((r) => {
      this.#done = r;
    });
  }
  hit(): void {
    if (++this.#count === this.#target) this.#done?.();
  }
}

/** n no-op jobs spread over the three priorities, as @ballast/queue's addBulk takes them. */
const ballastJobs = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { i }, options: { priority: LEVELS[i % 3]! } }));

/**
 * The `process` measurement every impl shares: fill the paused queue with `n` jobs, then time from resume to
 * the n-th completion (so adding is not in the figure).
 */
async function timedProcess(
  queue: { pause(): Promise<unknown>; resume(): Promise<unknown> },
  add: () => Promise<unknown>,
  counter: Counter,
  n: number,
): Promise<number> {
  await queue.pause();
  await add();
  const done = counter.expect(n);
  const t0 = performance.now();
  await queue.resume();
  await done;
  return performance.now() - t0;
}

/** `events`: the queue publishes its job events and a `QueueEvents` of the same process reads them all along. */
async function ballastImpl(url: string, base: string, concurrency: number, events = false): Promise<Impl> {
  const redis = createRedis(url) as Redis;
  const name = `bench-${randomUUID().slice(0, 6)}`;
  const queue: BallastQueue = createQueue(name, { backend: 'redis', redis, prefix: `${base}:ballast`, events });
  const counter = new Counter();
  queue.onCompleted(() => counter.hit());
  const subscriber = events ? createQueueEvents(queue) : undefined;
  let seen = 0;
  subscriber?.onEvent(() => seen++);
  await subscriber?.ready;
  const worker: Worker = createWorker(queue, () => undefined, { concurrency });
  return {
    name: 'ballast-redis',
    addBulk: (n) => queue.addBulk(ballastJobs(n)),
    process: (n) => timedProcess(queue, () => queue.addBulk(ballastJobs(n)), counter, n),
    pause: () => queue.pause(),
    async close() {
      await worker.close();
      subscriber?.close();
      if (subscriber && seen === 0) throw new Error('process-with-events: the subscriber saw no event');
      await queue.close();
      redis.disconnect();
    },
  };
}

/**
 * `cron-tick`: `schedulers` job schedulers (`every: 1000`) on one queue, one worker claiming their ticks on a
 * FakeClock. One call: the clock moves one second (every scheduler due), timed until all their jobs completed.
 */
async function cronTickImpl(url: string, base: string, concurrency: number, schedulers: number) {
  const redis = createRedis(url) as Redis;
  const clock = new FakeClock({ now: Math.ceil(Date.now() / 1_000) * 1_000 });
  const queue: BallastQueue = createQueue(`cron-${randomUUID().slice(0, 6)}`, {
    backend: 'redis',
    redis,
    prefix: `${base}:cron`,
    clock,
  });
  const counter = new Counter();
  queue.onCompleted(() => counter.hit());
  for (let i = 0; i < schedulers; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, schedulers - i) }, (_, k) =>
        queue.upsertScheduler(`s${i + k}`, { every: 1_000 }, { name: 'tick', options: { removeOnComplete: true } }),
      ),
    );
  }
  const first = counter.expect(schedulers); // each scheduler's first tick is due at once
  const worker = createWorker(queue, () => undefined, {
    concurrency,
    blockMs: 60_000,
    stalledIntervalMs: 3_600_000,
  });
  await first;
  return {
    async tick(): Promise<number> {
      const done = counter.expect(schedulers);
      const t0 = performance.now();
      await clock.advance(1_000);
      await done;
      return performance.now() - t0;
    },
    async close() {
      await worker.close();
      await queue.close();
      redis.disconnect();
    },
  };
}

async function bullmqImpl(url: string, base: string, concurrency: number): Promise<Impl> {
  const e = parseRedisUrl(url);
  const connection = { host: e.host, port: e.port, db: e.db, maxRetriesPerRequest: null };
  const prefix = `${base}:bullmq`;
  const name = `bench-${randomUUID().slice(0, 6)}`;
  const queue = new BullQueue(name, { connection, prefix });
  const counter = new Counter();
  const worker = new BullWorker(name, async () => undefined, { connection, prefix, concurrency });
  worker.on('completed', () => counter.hit());
  worker.on('error', () => {});
  await worker.waitUntilReady();
  const jobs = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      name: 'noop',
      data: { i },
      opts: { priority: BULL_PRIORITY[LEVELS[i % 3] as 'high'], removeOnComplete: KEEP },
    }));
  return {
    name: 'bullmq',
    addBulk: (n) => queue.addBulk(jobs(n)),
    process: (n) => timedProcess(queue, () => queue.addBulk(jobs(n)), counter, n),
    pause: () => queue.pause(),
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}

function benchAmqpUrl(): string {
  return process.env.BALLAST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
}

async function ballastRabbitImpl(url: string, run: string, concurrency: number): Promise<Impl> {
  // Status in this process's memory (the bench's choice, said explicitly: no warning).
  const queue: BallastQueue = createQueue(`bench.queue.${run}.ballast`, {
    backend: 'rabbitmq',
    url,
    statusStore: new MemoryStatusStore(),
  });
  const counter = new Counter();
  queue.onCompleted(() => counter.hit());
  const worker: Worker = createWorker(queue, () => undefined, { concurrency });
  // A queue nobody consumes, for `publish`.
  const sink: BallastQueue = createQueue(`bench.queue.${run}.ballast-sink`, {
    backend: 'rabbitmq',
    url,
    statusStore: new MemoryStatusStore(),
  });
  return {
    name: 'ballast-rabbitmq',
    addBulk: (n) => queue.addBulk(ballastJobs(n)),
    publish: (n) => sink.addBulk(ballastJobs(n)),
    async purge() {
      const conn = await amqpConnect(url);
      await (await conn.createChannel()).purgeQueue(sink.name).catch(() => {});
      await conn.close();
    },
    process: (n) => timedProcess(queue, () => queue.addBulk(ballastJobs(n)), counter, n),
    async addAndProcess(n) {
      const done = counter.expect(n);
      const t0 = performance.now();
      await queue.addBulk(ballastJobs(n));
      await done;
      return performance.now() - t0;
    },
    pause: () => queue.pause(),
    async close() {
      await worker.close();
      await (queue.backend as RabbitBackend).deleteQueues().catch(() => {});
      await queue.close();
      await (sink.backend as RabbitBackend).deleteQueues().catch(() => {});
      await sink.close().catch(() => {});
    },
  };
}

/**
 * Plain amqplib, as one would write it by hand: a priority queue (`x-max-priority` 10), publishes on a confirm
 * channel awaited together, a consumer with prefetch = concurrency acking each message.
 */
async function rawAmqpImpl(url: string, run: string, concurrency: number): Promise<Impl> {
  const conn = await amqpConnect(url);
  const pub = await conn.createConfirmChannel();
  const sub = await conn.createChannel();
  const name = `bench.queue.${run}.raw`;
  await pub.assertQueue(name, { durable: true, arguments: { 'x-max-priority': 10 } });
  await sub.prefetch(concurrency);
  const prio = { high: 10, medium: 5, low: 1 } as const;
  const publishTo = async (queue: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const body = Buffer.from(JSON.stringify({ name: 'noop', data: { i } }));
      pub.sendToQueue(queue, body, { persistent: true, priority: prio[LEVELS[i % 3] as 'high'] });
    }
    await pub.waitForConfirms();
  };
  const publish = (n: number) => publishTo(name, n);
  const sink = `${name}-sink`;
  await pub.assertQueue(sink, { durable: true, arguments: { 'x-max-priority': 10 } });
  // `add-process`: a consumer that runs all along (prefetch = concurrency), acking each message.
  const live = `${name}-live`;
  await pub.assertQueue(live, { durable: true, arguments: { 'x-max-priority': 10 } });
  const liveSub = await conn.createChannel();
  await liveSub.prefetch(concurrency);
  const counter = new Counter();
  await liveSub.consume(live, (msg) => {
    if (!msg) return;
    JSON.parse(msg.content.toString());
    liveSub.ack(msg);
    counter.hit();
  });
  return {
    name: 'raw-amqplib',
    addBulk: publish,
    publish: (n) => publishTo(sink, n),
    async purge() {
      await pub.purgeQueue(sink).catch(() => {});
    },
    async addAndProcess(n) {
      const done = counter.expect(n);
      const t0 = performance.now();
      await publishTo(live, n);
      await done;
      return performance.now() - t0;
    },
    async process(n) {
      await publish(n);
      let count = 0;
      let finished: () => void = () => {};
      const done = new Promise<void>((r) => {
        finished = r;
      });
      const t0 = performance.now();
      const { consumerTag } = await sub.consume(name, (msg) => {
        if (!msg) return;
        JSON.parse(msg.content.toString());
        sub.ack(msg);
        if (++count === n) finished();
      });
      await done;
      const elapsed = performance.now() - t0;
      // The next call's messages must not reach this consumer.
      await sub.cancel(consumerTag);
      return elapsed;
    },
    pause: async () => {},
    async close() {
      await pub.deleteQueue(name).catch(() => {});
      await pub.deleteQueue(sink).catch(() => {});
      await pub.deleteQueue(live).catch(() => {});
      await conn.close();
    },
  };
}

async function scanDel(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * Job queues: `@ballast/queue` (Redis backend) beside BullMQ 6, same run, same local Redis, each on its own
 * connections and key prefix (`bench:queue:<run>:<impl>`, deleted in teardown). Jobs cycle through three
 * priorities (high/medium/low; BullMQ 1/2/3), both keep the last 1,000 completed jobs.
 * - `add-bulk`: one call = `addBulk` of `jobs` jobs. ops/s = jobs added/s.
 * - `cron-tick` (ballast only): 1,000 job schedulers, one FakeClock second per call; ops/s = jobs they produced
 *   and the worker completed per second (claim: one Lua compare-and-set per tick, sent together).
 * - `process`: one worker, concurrency 50, no-op handler. One call: pause the queue, add `jobs` jobs, then
 *   resume and time until every job completed (the call's duration is that time alone, via tinybench's
 *   `overriddenDuration`). ops/s = jobs processed/s.
 * - `process-with-events`: `process` on a queue created with `events: true` (every job's waiting, active and
 *   completed events go to the queue's Redis stream) while a `QueueEvents` in the same process reads them.
 * - `add` / `add-bulk` on a private master + 1 replica (`ballast-redis-replicated`), plain and with
 *   `durability: { replicas: 1 }` (`ballast-redis-replicated+wait1`: WAIT after each add / addBulk call): what
 *   WAIT-based durability costs. `add` = one job per call; the queues are paused (adding alone is measured).
 */
export function createQueueSuite(options: QueueSuiteOptions = {}): Suite {
  const n = options.jobs ?? 500;
  const concurrency = options.concurrency ?? 50;
  return {
    name: 'queue',
    description: `job queue, ${n} jobs/call over 3 priorities, concurrency ${concurrency}: @ballast/queue (Redis) vs BullMQ`,
    async setup() {
      const base = `bench:queue:${randomUUID().slice(0, 8)}`;
      const url = benchRedisUrl();
      const admin = createRedis(url) as Redis;
      const impls = [await ballastImpl(url, base, concurrency), await bullmqImpl(url, base, concurrency)];
      const withEvents = await ballastImpl(url, base, concurrency, true);
      const run = base.split(':').pop()!;
      const rabbit = [
        await ballastRabbitImpl(benchAmqpUrl(), run, concurrency),
        await rawAmqpImpl(benchAmqpUrl(), run, concurrency),
      ];
      // The cost of WAIT-based durability: the same queue on a private master + replica, plain and WAIT 1.
      // (Started after the broker connections: a setup stuck on RabbitMQ leaves no private servers behind.)
      const pair = await masterWithReplica('queue');
      const replicated: Record<string, BallastQueue> = {
        'ballast-redis-replicated': createQueue(`bench-r-${randomUUID().slice(0, 6)}`, {
          backend: 'redis',
          redis: pair.redis,
          prefix: base,
        }),
        // Every add / addBulk followed by WAIT 1 on the master: one more round trip plus replication lag.
        'ballast-redis-replicated+wait1': createQueue(`bench-w-${randomUUID().slice(0, 6)}`, {
          backend: 'redis',
          redis: pair.redis,
          prefix: base,
          durability: { replicas: 1, timeoutMs: 1_000 },
        }),
      };
      const cases: BenchCase[] = [];
      // Jobs/s produced by many schedulers at one tick (claim + add + process), ballast only.
      const cron = await cronTickImpl(url, base, concurrency, options.schedulers ?? 1_000);
      cases.push({
        case: 'cron-tick',
        impl: 'ballast-redis',
        opsPerCall: options.schedulers ?? 1_000,
        fn: async () => ({ overriddenDuration: await cron.tick() }),
      });
      for (const impl of impls) {
        cases.push({
          case: 'add-bulk',
          impl: impl.name,
          opsPerCall: n,
          beforeAll: () => impl.pause(),
          fn: () => impl.addBulk(n),
          // Drop what was added (the queue stays paused: nothing is processing it).
          afterAll: () => scanDel(admin, `${base}:${impl.name === 'bullmq' ? 'bullmq' : 'ballast'}:*`),
        });
      }
      for (const [impl, q] of Object.entries(replicated)) {
        let i = 0;
        cases.push({
          case: 'add',
          impl,
          beforeAll: () => q.pause(),
          fn: () => q.add('noop', { i: i++ }, { priority: LEVELS[i % 3]! }),
        });
      }
      for (const [impl, q] of Object.entries(replicated)) {
        cases.push({
          case: 'add-bulk',
          impl,
          opsPerCall: n,
          beforeAll: () => q.pause(),
          fn: () => q.addBulk(ballastJobs(n)),
        });
      }
      for (const impl of impls) {
        cases.push({
          case: 'process',
          impl: impl.name,
          opsPerCall: n,
          fn: async () => ({ overriddenDuration: await impl.process(n) }),
        });
      }
      cases.push({
        case: 'process-with-events',
        impl: withEvents.name,
        opsPerCall: n,
        fn: async () => ({ overriddenDuration: await withEvents.process(n) }),
      });
      for (const impl of rabbit) {
        cases.push({
          case: 'process',
          impl: impl.name,
          opsPerCall: n,
          fn: async () => ({ overriddenDuration: await impl.process(n) }),
        });
      }
      // What a user writes: addBulk beside a worker that runs all along (concurrency 50; raw: a prefetch-50
      // consumer), timed from the add until all completed.
      for (const impl of rabbit) {
        cases.push({
          case: 'add-process',
          impl: impl.name,
          opsPerCall: n,
          fn: async () => ({ overriddenDuration: await impl.addAndProcess!(n) }),
        });
      }
      // Publishing alone: `addBulk` (status records in memory, confirmed publishes) against a raw confirm
      // channel's publishes and `waitForConfirms`, into a queue nobody consumes.
      for (const impl of rabbit) {
        cases.push({
          case: 'publish',
          impl: impl.name,
          opsPerCall: n,
          fn: () => impl.publish!(n),
          afterAll: () => impl.purge!(),
        });
      }
      return {
        cases,
        teardown: async () => {
          for (const impl of [...impls, withEvents, ...rabbit]) {
            await impl.close().catch(() => {});
          }
          await cron.close().catch(() => {});
          for (const q of Object.values(replicated)) await q.close().catch(() => {});
          pair.redis.disconnect();
          await Promise.all([pair.replica.stop(), pair.master.stop()]);
          try {
            await scanDel(admin, `${base}:*`);
          } finally {
            admin.disconnect();
          }
        },
      };
    },
  };
}

export const queue: Suite = createQueueSuite();
