import { randomUUID } from 'node:crypto';
import { createRedis, type Redis } from '@ballast/core';
import { benchRedisUrl } from '../env';
import type { BenchCase, Suite } from '../harness';

const BATCH = 500;

/**
 * The anchors for every Redis-backed suite: what the raw client does per round trip on this machine.
 * - `ping`: one round trip.
 * - `set-get`: SET then GET, two round trips.
 * - `stream-batch-500`: XADD ×500 (pipelined) → XREADGROUP COUNT 500 → XACK of all 500 — the loop the
 *   event bus and queue improve on. ops/s counts stream entries; latency is per 500-entry round.
 */
export const redisBaseline: Suite = {
  name: 'redis-baseline',
  description: 'raw ioredis round trips: PING, SET+GET, XADD→XREADGROUP(500)→XACK',
  async setup() {
    const redis = createRedis(benchRedisUrl()) as Redis;
    const run = randomUUID().slice(0, 8);
    const key = `bench:baseline:${run}`;
    const stream = `bench:baseline:{${run}}:stream`;
    const payload = 'x'.repeat(100);
    const fields = ['type', 'order.created', 'data', JSON.stringify({ id: run, payload })];

    await redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');

    const cases: BenchCase[] = [
      { case: 'ping', impl: 'ioredis', fn: () => redis.ping() },
      {
        case: 'set-get',
        impl: 'ioredis',
        fn: async () => {
          await redis.set(key, payload);
          await redis.get(key);
        },
      },
      {
        case: `stream-batch-${BATCH}`,
        impl: 'ioredis',
        opsPerCall: BATCH,
        fn: async () => {
          const p = redis.pipeline();
          for (let i = 0; i < BATCH; i++) p.xadd(stream, 'MAXLEN', '~', 10_000, '*', ...fields);
          await p.exec();
          const res = (await redis.xreadgroup('GROUP', 'g', 'c1', 'COUNT', BATCH, 'STREAMS', stream, '>')) as
            | [string, [string, string[]][]][]
            | null;
          const ids = res?.[0]?.[1].map(([id]) => id) ?? [];
          if (ids.length !== BATCH) throw new Error(`read ${ids.length} entries, expected ${BATCH}`);
          await redis.xack(stream, 'g', ...ids);
        },
      },
    ];
    return {
      cases,
      teardown: async () => {
        await redis.del(key, stream);
        redis.disconnect();
      },
    };
  },
};
