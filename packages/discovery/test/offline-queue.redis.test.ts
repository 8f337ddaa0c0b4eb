/**
 * A backend on a client made with `enableOfflineQueue: false` (fail-fast clients): the wake-up subscriber of
 * blocking queries is a fresh duplicate, which would refuse its SUBSCRIBE until connected.
 */
import { createLogger } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { RedisBackend } from '../src/backends/redis';

const fx = useRedisFixture({ name: 'discovery-offline-queue' });
const open: { b: RedisBackend; c: Redis }[] = [];
afterEach(async () => {
  for (const { b, c } of open.splice(0)) {
    await b.close();
    c.disconnect();
  }
});

async function backend(lines: string[]) {
  const { port, db } = fx.current.redis.options;
  const c = new Redis({ host: '127.0.0.1', port: port ?? 6379, db: db ?? 0, enableOfflineQueue: false });
  await new Promise((r) => c.once('ready', r));
  const logger = createLogger({ level: 'warn', destination: { write: (l: string) => void lines.push(l) } });
  // A sweep far longer than the test: only the pub/sub wake-up can end the wait in time.
  const b = new RedisBackend({ redis: c, prefix: fx.current.prefix, logger, sweepIntervalMs: 60_000 });
  open.push({ b, c });
  return b;
}

it('a blocking query returns when an instance registers, with no error and nothing logged at warn', async () => {
  const lines: string[] = [];
  const [reader, writer] = [await backend(lines), await backend(lines)];
  await writer.register({ id: 'api-0', name: 'api', address: '10.0.0.1', port: 80, tags: [], meta: {} });
  const first = await reader.query('api');
  expect(first.instances.map((i) => i.id)).toEqual(['api-0']);
  const waiting = reader.query('api', { index: first.index, waitMs: 60_000 });
  waiting.catch(() => {}); // a failure is reported by the await below
  // The wait is in place once the reader's subscriber has subscribed to the change channel.
  await expect.poll(async () => fx.current.redis.pubsub('CHANNELS', `${fx.current.prefix}*`)).not.toEqual([]);
  const started = Date.now();
  await writer.register({ id: 'api-1', name: 'api', address: '10.0.0.2', port: 80, tags: [], meta: {} });
  const next = await waiting;
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(next.index).toBeGreaterThan(first.index);
  expect(next.instances.map((i) => i.id)).toEqual(['api-0', 'api-1']);
  expect(lines).toEqual([]);
});
