/**
 * A bus on a client made with `enableOfflineQueue: false` (fail-fast clients): each consumer's blocking
 * connection is a fresh duplicate, which refuses commands until it is connected.
 */
import { createLogger } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';

const fx = useRedisFixture({ name: 'event-bus-offline-queue' });
const events = { 'user.registered': z.object({ id: z.string() }) };

it('a subscriber on an enableOfflineQueue: false client receives events, with no warning logged', async () => {
  const url = `redis://127.0.0.1:${fx.current.redis.options.port ?? 6379}/${fx.current.redis.options.db ?? 0}`;
  const client = new Redis(url, { enableOfflineQueue: false });
  await new Promise((r) => client.once('ready', r));
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (l: string) => void lines.push(l) } });
  const bus = createEventBus({ redis: client, prefix: fx.current.prefix, source: 's', events, logger });
  try {
    const got = new Promise<string>((resolve) => {
      void bus.subscribe('user.registered', async (e) => resolve(e.data.id));
    });
    await bus.publish('user.registered', { id: '42' });
    expect(await got).toBe('42');
    expect(lines).toEqual([]);
  } finally {
    await bus.close();
    client.disconnect();
  }
});
