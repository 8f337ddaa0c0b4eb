import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createEventBus, type EventBus, eventKeys, type Subscription } from '@ballast/event-bus';
import { z } from 'zod';
import { benchBusConcurrent, benchRedisUrl } from '../env';
import type { BenchCase, Suite } from '../harness';

/** The bus logs its lifecycle at info: not into the bench's table output. */
const quiet = createLogger({ level: 'silent' });

/** Sequential awaited publishes per measured `fn` of the `publish` case (one publish is one round trip). */
const PUBLISH_BATCH = 100;
/** Events per round of the `end-to-end` case: the batch of redis-baseline's `stream-batch-500`. */
const E2E_BATCH = 500;
/** A round that has not finished after this long fails the run instead of hanging it. */
const ROUND_TIMEOUT_MS = 60_000;
const TYPE = 'bench.tick';
const SOURCE = 'bench';
/** The bus's default `maxLenAll`: the raw impl caps `events:all` the same way and leaves the type stream uncapped. */
const MAX_LEN_ALL = 100_000;
const GROUP = 'group:bench.tick';
/** XREADGROUP COUNT of the concurrent cases' consumers (raw loop and the bus's `batchSize`). */
const CONCURRENT_READ = 500;
/** Measured rounds of the `*-concurrent` cases (one round is 50k publishes, seconds each; as many warm-up rounds). */
const CONCURRENT_ROUNDS = 5;

const events = { [TYPE]: z.object({ n: z.number() }) };
type Bus = EventBus<typeof events>;

/**
 * The fields of the envelope `bus.publish` writes (`@ballast/event-bus`'s `encodeEnvelope`), built per event as
 * a raw user would: a fresh id and timestamp, `data` as JSON. With no OTel SDK registered the bus's `metadata`
 * is `{}` too, so both impls write the same fields of the same size.
 */
function rawFields(n: number): string[] {
  return [
    'event_id',
    randomUUID(),
    'event_type',
    TYPE,
    'source_service',
    SOURCE,
    'timestamp',
    new Date().toISOString(),
    'data',
    JSON.stringify({ n }),
    'metadata',
    '{}',
  ];
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** XPENDING summary: entries of the group delivered and not yet acknowledged. */
async function pendingCount(redis: Redis, stream: string): Promise<number> {
  const summary = (await redis.xpending(stream, GROUP)) as [number | string, ...unknown[]];
  return Number(summary[0]);
}

/**
 * `@ballast/event-bus` beside the raw ioredis loop it is built on, same run, same local Redis, each impl and case
 * under its own key prefix (deleted in teardown).
 * - `publish`: one event per op, 100 sequential awaited publishes per call. ballast: `bus.publish` (validation,
 *   envelope, one EVALSHA writing `events:{type}` and `events:all`); raw-ioredis: the same two XADDs in one
 *   MULTI/EXEC — atomic and one round trip, like the bus's Lua script.
 * - `end-to-end`: 500 events per call, published → handled by a no-op handler → acknowledged; the call resolves
 *   once all 500 are acknowledged. ops/s counts events.
 * - `publish-concurrent`: 50k concurrent `bus.publish()` calls per op batch (one event per request, many requests),
 *   each awaited on its own; raw-ioredis: 50k XADDs to one stream on an `enableAutoPipelining` connection.
 * - `end-to-end-concurrent`: the same 50k publishes with a consumer running (bus: a subscription with a no-op
 *   handler, batchSize/concurrency 500; raw: a loop of XREADGROUP COUNT 500 BLOCK → JSON.parse → XACK); the call
 *   resolves once all 50k are handled and acknowledged.
 */
export const bus: Suite = {
  name: 'bus',
  description:
    'event bus publish and publish→handle→ack (500/round, and 50k concurrent publish() calls): @ballast/event-bus vs raw ioredis streams',
  async setup() {
    const run = randomUUID().slice(0, 8);
    /** Concurrent `publish()` calls per round of the `*-concurrent` cases: one event per request, many requests. */
    const CONCURRENT = benchBusConcurrent();
    const ballastRedis = createRedis(benchRedisUrl()) as Redis;
    const rawRedis = createRedis(benchRedisUrl()) as Redis;

    // One bus (and key prefix) per case: the end-to-end group must not start on the publish case's entries.
    // What a user writing it by hand would turn on for many concurrent commands on one connection.
    const rawAuto = createRedis({ url: benchRedisUrl(), redisOptions: { enableAutoPipelining: true } }) as Redis;
    const prefixes = {
      ballastPublish: `bench:bus:${run}:ballast:publish:`,
      ballastE2e: `bench:bus:${run}:ballast:e2e:`,
      rawPublish: `bench:bus:${run}:raw:publish:`,
      rawE2e: `bench:bus:${run}:raw:e2e:`,
      ballastPublishC: `bench:bus:${run}:ballast:publish-c:`,
      ballastE2eC: `bench:bus:${run}:ballast:e2e-c:`,
      rawPublishC: `bench:bus:${run}:raw:publish-c:`,
      rawE2eC: `bench:bus:${run}:raw:e2e-c:`,
    };
    // 50k publishes issued at once wait behind each other in Redis: on a loaded machine the last ones take longer
    // than the default 5 s command bound (the raw impl has none), so the bench's buses get a wide one.
    const makeBus = (prefix: string): Bus =>
      createEventBus({ redis: ballastRedis, prefix, source: SOURCE, events, logger: quiet, commandTimeoutMs: 60_000 });
    const publishBus = makeBus(prefixes.ballastPublish);
    const e2eBus = makeBus(prefixes.ballastE2e);
    const publishCBus = makeBus(prefixes.ballastPublishC);
    const e2eCBus = makeBus(prefixes.ballastE2eC);
    const ballastPublishCStream = eventKeys(prefixes.ballastPublishC).stream(TYPE);
    const ballastE2eCStream = eventKeys(prefixes.ballastE2eC).stream(TYPE);
    const rawPublishCStream = eventKeys(prefixes.rawPublishC).stream(TYPE);
    const rawE2eCStream = eventKeys(prefixes.rawE2eC).stream(TYPE);
    await rawRedis.xgroup('CREATE', rawE2eCStream, GROUP, '$', 'MKSTREAM');

    const rawPublishKeys = eventKeys(prefixes.rawPublish);
    const rawE2eKeys = eventKeys(prefixes.rawE2e);
    const ballastE2eStream = eventKeys(prefixes.ballastE2e).stream(TYPE);
    await rawRedis.xgroup('CREATE', rawE2eKeys.stream(TYPE), GROUP, '$', 'MKSTREAM');

    // ── ballast end-to-end: a long-lived subscription per measured phase, counting handled events per round ──
    let subscription: Subscription | undefined;
    let handled = 0;
    let target = 0;
    let roundDone: (() => void) | undefined;
    const handler = () => {
      handled++;
      if (handled === target) roundDone?.();
    };
    /** Resolves when `roundDone` is called, fails the run after ROUND_TIMEOUT_MS. */
    const round = async (name: string, count: number, work: () => Promise<unknown>, progress: () => number) => {
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve, reject) => {
        roundDone = resolve;
        timer = setTimeout(
          () => reject(new Error(`${name}: ${progress()}/${count} handled after ${ROUND_TIMEOUT_MS} ms`)),
          ROUND_TIMEOUT_MS,
        );
      });
      try {
        await work();
        await done;
      } finally {
        clearTimeout(timer);
        roundDone = undefined;
      }
    };
    /** Waits until the group has nothing pending on `stream` (the last acks are in flight on `redis`). */
    const drained = async (name: string, redis: Redis, stream: string) => {
      for (let polls = 0; ; polls++) {
        await nextTick();
        if ((await pendingCount(redis, stream)) === 0) return;
        if (polls > 10_000) throw new Error(`${name}: entries still pending after the round`);
      }
    };

    // ── raw end-to-end-concurrent: a consumer loop as a user writes it, running while the case runs ──
    let rawLoop: { stop: () => void; stopped: Promise<void> } | undefined;
    let rawAcked = 0;
    const startRawLoop = () => {
      const reader = rawRedis.duplicate();
      let running = true;
      const stopped = (async () => {
        while (running) {
          let res: [string, [string, string[]][]][] | null;
          try {
            res = (await reader.xreadgroup(
              'GROUP',
              GROUP,
              'c1',
              'COUNT',
              CONCURRENT_READ,
              'BLOCK',
              1_000,
              'STREAMS',
              rawE2eCStream,
              '>',
            )) as typeof res;
          } catch (error) {
            if (!running) return;
            throw error;
          }
          const ids = res?.[0]?.[1].map(([id]) => id) ?? [];
          if (ids.length === 0) continue;
          for (const [, fields] of res![0]![1]) JSON.parse(fields[fields.indexOf('data') + 1]!); // the handler's read
          await rawAuto.xack(rawE2eCStream, GROUP, ...ids);
          rawAcked += ids.length;
          if (rawAcked === target) roundDone?.();
        }
      })();
      return {
        stop: () => {
          running = false;
          reader.disconnect();
        },
        stopped: stopped.catch(() => {}),
      };
    };
    const concurrentData = Array.from({ length: CONCURRENT }, (_, i) => ({ n: i }));

    const cases: BenchCase[] = [
      {
        case: 'publish',
        impl: 'ballast',
        opsPerCall: PUBLISH_BATCH,
        fn: async () => {
          for (let i = 0; i < PUBLISH_BATCH; i++) await publishBus.publish(TYPE, { n: i });
        },
      },
      {
        case: 'publish',
        impl: 'raw-ioredis',
        opsPerCall: PUBLISH_BATCH,
        // Both streams, atomically, one round trip: MULTI XADD events:{type} XADD events:all (MAXLEN ~) EXEC.
        fn: async () => {
          const stream = rawPublishKeys.stream(TYPE);
          const all = rawPublishKeys.all();
          for (let i = 0; i < PUBLISH_BATCH; i++) {
            const fields = rawFields(i);
            const res = await rawRedis
              .multi()
              .xadd(stream, '*', ...fields)
              .xadd(all, 'MAXLEN', '~', MAX_LEN_ALL, '*', ...fields)
              .exec();
            if (!res || res.some(([err]) => err)) throw new Error('raw publish: MULTI failed');
          }
        },
      },
      {
        case: 'end-to-end',
        impl: 'ballast',
        opsPerCall: E2E_BATCH,
        beforeAll: async () => {
          await subscription?.close();
          subscription = await e2eBus.subscribe(TYPE, handler, {
            batchSize: E2E_BATCH,
            concurrency: E2E_BATCH,
            blockMs: 1_000,
          });
        },
        // A burst as a user publishes it: `publishMany` of 500 (one pipelined round trip, each event still
        // atomic across both streams) — the counterpart of the raw loop's pipelined XADDs.
        // The call resolves when the handler saw all 500 and the group has nothing pending: the acks are measured.
        fn: async () => {
          handled = 0;
          target = E2E_BATCH;
          const burst = Array.from({ length: E2E_BATCH }, (_, i) => ({ data: { n: i } }));
          let timer: NodeJS.Timeout | undefined;
          const done = new Promise<void>((resolve, reject) => {
            roundDone = resolve;
            timer = setTimeout(
              () =>
                reject(new Error(`end-to-end/ballast: ${handled}/${E2E_BATCH} handled after ${ROUND_TIMEOUT_MS} ms`)),
              ROUND_TIMEOUT_MS,
            );
          });
          try {
            await e2eBus.publishMany(TYPE, burst);
            await done;
          } finally {
            clearTimeout(timer);
            roundDone = undefined;
          }
          // The last handler's ack is queued in a microtask after it returns and goes out on `ballastRedis`;
          // XPENDING on that same connection is answered after it. Usually one round trip.
          for (let polls = 0; ; polls++) {
            await nextTick();
            if ((await pendingCount(ballastRedis, ballastE2eStream)) === 0) break;
            if (polls > 10_000) throw new Error('end-to-end/ballast: entries still pending after the round');
          }
        },
        afterAll: async () => {
          const s = subscription;
          subscription = undefined;
          await s?.close();
        },
      },
      {
        case: 'end-to-end',
        impl: 'raw-ioredis',
        opsPerCall: E2E_BATCH,
        // redis-baseline's `stream-batch-500` loop, writing `events:all` too (as the bus does): one pipeline of
        // 500 × (XADD events:{type}, XADD events:all MAXLEN ~) → XREADGROUP COUNT 500 (not blocking: the
        // entries are there) → one XACK of the 500 ids. Not atomic per event (the bus's script is): a pipeline
        // is what a raw loop would use for a burst.
        fn: async () => {
          const stream = rawE2eKeys.stream(TYPE);
          const all = rawE2eKeys.all();
          const p = rawRedis.pipeline();
          for (let i = 0; i < E2E_BATCH; i++) {
            const fields = rawFields(i);
            p.xadd(stream, '*', ...fields);
            p.xadd(all, 'MAXLEN', '~', MAX_LEN_ALL, '*', ...fields);
          }
          await p.exec();
          const res = (await rawRedis.xreadgroup('GROUP', GROUP, 'c1', 'COUNT', E2E_BATCH, 'STREAMS', stream, '>')) as
            | [string, [string, string[]][]][]
            | null;
          const ids = res?.[0]?.[1].map(([id]) => id) ?? [];
          if (ids.length !== E2E_BATCH)
            throw new Error(`end-to-end/raw-ioredis: read ${ids.length}, expected ${E2E_BATCH}`);
          await rawRedis.xack(stream, GROUP, ...ids);
        },
      },
      // ── one event per request, many requests: CONCURRENT publish() calls at once, each awaited on its own ──
      {
        case: 'publish-concurrent',
        maxIterations: CONCURRENT_ROUNDS,
        impl: 'ballast',
        opsPerCall: CONCURRENT,
        // Both streams per event, atomically (the bus's guarantee); each call resolves with its own id.
        fn: async () => {
          await ballastRedis.xtrim(ballastPublishCStream, 'MAXLEN', 0);
          await Promise.all(concurrentData.map((data) => publishCBus.publish(TYPE, data)));
        },
      },
      {
        case: 'publish-concurrent',
        maxIterations: CONCURRENT_ROUNDS,
        impl: 'raw-ioredis',
        opsPerCall: CONCURRENT,
        // As a user writes it: an XADD per event to its one stream on an `enableAutoPipelining` connection.
        fn: async () => {
          await rawAuto.xtrim(rawPublishCStream, 'MAXLEN', 0);
          await Promise.all(concurrentData.map((data) => rawAuto.xadd(rawPublishCStream, '*', ...rawFields(data.n))));
        },
      },
      {
        case: 'end-to-end-concurrent',
        maxIterations: CONCURRENT_ROUNDS,
        impl: 'ballast',
        opsPerCall: CONCURRENT,
        beforeAll: async () => {
          await subscription?.close();
          subscription = await e2eCBus.subscribe(TYPE, handler, {
            batchSize: CONCURRENT_READ,
            concurrency: CONCURRENT_READ,
            blockMs: 1_000,
          });
        },
        // CONCURRENT publish() calls; resolves when all were handled and nothing is pending (acks measured).
        fn: async () => {
          await ballastRedis.xtrim(ballastE2eCStream, 'MAXLEN', 0);
          handled = 0;
          target = CONCURRENT;
          await round(
            'end-to-end-concurrent/ballast',
            CONCURRENT,
            () => Promise.all(concurrentData.map((data) => e2eCBus.publish(TYPE, data))),
            () => handled,
          );
          await drained('end-to-end-concurrent/ballast', ballastRedis, ballastE2eCStream);
        },
        afterAll: async () => {
          const s = subscription;
          subscription = undefined;
          await s?.close();
        },
      },
      {
        case: 'end-to-end-concurrent',
        maxIterations: CONCURRENT_ROUNDS,
        impl: 'raw-ioredis',
        opsPerCall: CONCURRENT,
        // Auto-pipelined XADDs to one stream; a loop of XREADGROUP COUNT 500 BLOCK (own connection) → parse → XACK.
        beforeAll: () => {
          rawLoop = startRawLoop();
        },
        fn: async () => {
          await rawAuto.xtrim(rawE2eCStream, 'MAXLEN', 0);
          rawAcked = 0;
          target = CONCURRENT;
          await round(
            'end-to-end-concurrent/raw-ioredis',
            CONCURRENT,
            () => Promise.all(concurrentData.map((data) => rawAuto.xadd(rawE2eCStream, '*', ...rawFields(data.n)))),
            () => rawAcked,
          );
        },
        afterAll: async () => {
          const loop = rawLoop;
          rawLoop = undefined;
          loop?.stop();
          await loop?.stopped;
        },
      },
    ];

    return {
      cases,
      teardown: async () => {
        try {
          await subscription?.close();
          rawLoop?.stop();
          await Promise.all([publishBus.close(), e2eBus.close(), publishCBus.close(), e2eCBus.close()]);
          const keys = Object.values(prefixes).flatMap((prefix) => {
            const k = eventKeys(prefix);
            return [k.stream(TYPE), k.all(), k.dlq(TYPE)];
          });
          await ballastRedis.del(...keys);
        } finally {
          ballastRedis.disconnect();
          rawRedis.disconnect();
          rawAuto.disconnect();
        }
      },
    };
  },
};
