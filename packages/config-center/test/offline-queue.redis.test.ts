/**
 * A store on a client made with `enableOfflineQueue: false` (fail-fast clients): its subscriber connection is a
 * fresh duplicate, which would refuse its SUBSCRIBE until connected: the watcher would never hear a commit.
 */
import { createLogger } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { RedisConfigStore } from '../src/backends/redis';
import type { StoreState } from '../src/store';

const fx = useRedisFixture({ name: 'config-center-offline-queue' });
const open: { s: RedisConfigStore; c: Redis }[] = [];
afterEach(async () => {
  for (const { s, c } of open.splice(0)) {
    await s.close();
    c.disconnect();
  }
});

async function store(lines: string[]) {
  const { port, db } = fx.current.redis.options;
  const c = new Redis({ host: '127.0.0.1', port: port ?? 6379, db: db ?? 0, enableOfflineQueue: false });
  await new Promise((r) => c.once('ready', r));
  const logger = createLogger({ level: 'warn', destination: { write: (l: string) => void lines.push(l) } });
  const s = new RedisConfigStore({ redis: c, prefix: fx.current.prefix, name: 'offline-queue', logger });
  open.push({ s, c });
  return s;
}

it('a watcher sees a commit made by another client, with no error and nothing logged at warn', async () => {
  const lines: string[] = [];
  const [watcher, writer] = [await store(lines), await store(lines)];
  const seen: StoreState[] = [];
  const errors: unknown[] = [];
  watcher.watch(
    (state) => void seen.push(state),
    (error) => void errors.push(error),
  );
  await watcher.subscribed();
  // The initial state (version 0) is delivered by the first read; the commit after it can only be heard through
  // the change channel.
  await expect.poll(() => seen.length).toBe(1);
  expect(seen[0]?.version).toBe(0);
  await writer.commit(0, { limit: 7 }, { at: Date.now() });
  await expect.poll(() => seen.at(-1)?.version).toBe(1);
  expect(seen.at(-1)?.entries).toEqual({ limit: 7 });
  expect(errors).toEqual([]);
  expect(lines).toEqual([]);
});
