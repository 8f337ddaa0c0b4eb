import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createEventBus, type EventBus, eventKeys, type Subscription } from '@ballast/event-bus';
import { z } from 'zod';
import { benchRedisUrl } from '../env';
import type { BenchCase, Suite } from '../harness';

/** The bus logs its lifecycle at info: not into the bench's table output. */
const quiet = createLogger({ level: 'silent' });

/** Sequential awaited publishes per measured `fn` of the `publish` case (one publish is one round trip). */
const PUBLISH_BATCH = 100;
/** Events per round of the `end-to-end` case: the batch of redis-baseline's `stream-batch-500`. */
const E2E_BATCH = 500;
/** A round that has not finished after this long fails the run instead of hanging it. */
const ROUND_TIMEOUT_MS = 10_000;
const TYPE = 'bench.tick';
const SOURCE = 'bench';
/** The bus's default `maxLenAll`: the raw impl caps `events:all` the same way and leaves the type stream uncapped. */
const MAX_LEN_ALL = 100_000;
const GROUP = 'group:bench.tick';

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
 */
export const bus: Suite = {
  name: 'bus',
  description: 'event bus publish and publish→handle→ack (500/round): @ballast/event-bus vs raw ioredis streams',
  async setup() {
    const run = randomUUID().slice(0, 8);
    const ballastRedis = createRedis(benchRedisUrl()) as Redis;
    const rawRedis = createRedis(benchRedisUrl()) as Redis;

    // One bus (and key prefix) per case: the end-to-end group must not start on the publish case's entries.
    const prefixes = {
      ballastPublish: `bench:bus:${run}:ballast:publish:`,
      ballastE2e: `bench:bus:${run}:ballast:e2e:`,
      rawPublish: `bench:bus:${run}:raw:publish:`,
      rawE2e: `bench:bus:${run}:raw:e2e:`,
    };
    const makeBus = (prefix: string): Bus =>
      createEventBus({ redis: ballastRedis, prefix, source: SOURCE, events, logger: quiet });
    const publishBus = makeBus(prefixes.ballastPublish);
    const e2eBus = makeBus(prefixes.ballastE2e);

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
    ];

    return {
      cases,
      teardown: async () => {
        try {
          await subscription?.close();
          await Promise.all([publishBus.close(), e2eBus.close()]);
          const keys = Object.values(prefixes).flatMap((prefix) => {
            const k = eventKeys(prefix);
            return [k.stream(TYPE), k.all(), k.dlq(TYPE)];
          });
          await ballastRedis.del(...keys);
        } finally {
          ballastRedis.disconnect();
          rawRedis.disconnect();
        }
      },
    };
  },
};
