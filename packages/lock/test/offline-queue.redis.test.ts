/**
 * Managers on clients made with `enableOfflineQueue: false` (fail-fast clients): the manager's own subscriber
 * connection (release and hand-off wake-ups) is a fresh duplicate, which would refuse its SUBSCRIBE until it is
 * connected.
 */
import { createLogger } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { LockManager } from '../src/manager';

const fx = useRedisFixture({ name: 'lock-offline-queue' });
const open: { m: LockManager; c: Redis }[] = [];
afterEach(async () => {
  for (const { m, c } of open.splice(0)) {
    await m.close();
    c.disconnect();
  }
});

async function manager(lines: string[]) {
  const { port, db } = fx.current.redis.options;
  const c = new Redis({ host: '127.0.0.1', port: port ?? 6379, db: db ?? 0, enableOfflineQueue: false });
  await new Promise((r) => c.once('ready', r));
  const logger = createLogger({ level: 'warn', destination: { write: (l: string) => void lines.push(l) } });
  const m = new LockManager({ redis: c, prefix: fx.current.prefix, logger });
  open.push({ m, c });
  return m;
}

it('a waiter is handed the lock on release, with no subscribe failure logged', async () => {
  const lines: string[] = [];
  const [a, b] = [await manager(lines), await manager(lines)];
  const held = await a.acquire('k', { ttlMs: 30_000 });
  const waiting = b.acquire('k', { ttlMs: 30_000, waitMs: 10_000 });
  await expect.poll(async () => fx.current.redis.pubsub('NUMSUB', ...(await channels()))).not.toEqual([]);
  await held.release();
  const next = await waiting;
  expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
  await next.release();
  expect(lines).toEqual([]);
});

async function channels(): Promise<string[]> {
  return (await fx.current.redis.pubsub('CHANNELS', `${fx.current.prefix}*`)) as string[];
}
