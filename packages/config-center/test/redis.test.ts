import { createLogger } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisConfigStore } from '../src/backends/redis';
import type { RemoteSource } from '../src/sources';
import { redisHash } from '../src/sources';
import { remoteContract } from './store.contract';

const fx = useRedisFixture({ name: 'config-center' });
let n = 0;
const opened: RemoteSource[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.store.close();
});

// The contract the memory store passes, on the real server, each client with its own subscriber connection.
remoteContract('redis', {
  create: () => {
    const name = `svc${n++}`;
    return {
      maxVersions: 5,
      open: () => {
        const source = redisHash({ redis: fx.current.redis, prefix: fx.current.prefix, name, maxVersions: 5 });
        opened.push(source);
        return source;
      },
    };
  },
});

describe('Redis commit script', () => {
  it('a config of 5,000 keys commits whole, and the next commit replaces it (unpack takes ~8,000 values at once)', async () => {
    const source = redisHash({ redis: fx.current.redis, prefix: fx.current.prefix, name: `big${n++}`, maxVersions: 5 });
    opened.push(source);
    const entries = (v: number) =>
      Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k/${i}`, v * 10_000 + i]));
    await source.store.commit(0, entries(1), { at: Date.now() });
    expect(await source.store.read()).toEqual({ version: 1, entries: entries(1) });
    await source.store.commit(1, entries(2), { at: Date.now() });
    expect(await source.store.read()).toEqual({ version: 2, entries: entries(2) });
  });
});

describe('Redis notifications', () => {
  it('warns about subscriber connection errors while open, not about the teardown after close()', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
    const subscriber = fx.current.duplicate();
    const store = new RedisConfigStore({
      redis: fx.current.redis,
      subscriber,
      prefix: fx.current.prefix,
      name: `close-quiet${n++}`,
      logger,
    });
    const unwatch = store.watch(
      () => {},
      () => {},
    );
    subscriber.emit('error', new Error('broken while open'));
    subscriber.emit('error', new Error('still broken')); // the same outage: no second warning
    expect(lines.filter((l) => l.includes('redis connection lost'))).toHaveLength(1);
    unwatch();
    await store.close();
    // What a TLS connection torn down mid-handshake reports (seen in the TLS runs): not a fault to warn about.
    subscriber.emit('error', new Error('tlsv1 alert decode error'));
    expect(lines).toHaveLength(1);
    subscriber.disconnect();
  });

  it('a commit made while the subscriber connection is down is picked up when it reconnects', async () => {
    const { createConfig, defaults } = await import('../src');
    const { z } = await import('zod');
    const subscriber = fx.current.duplicate();
    const id = Number(await subscriber.client('ID'));
    const name = `reconnect${n++}`;
    const source = redisHash({ redis: fx.current.redis, subscriber, prefix: fx.current.prefix, name });
    const config = await createConfig({
      schema: z.object({ limit: z.number() }),
      logger: createLogger({ level: 'silent' }),
      sources: [defaults({ limit: 1 }), source],
    });
    await (source.store as RedisConfigStore).subscribed();
    const writer = new RedisConfigStore({ redis: fx.current.redis, prefix: fx.current.prefix, name });
    try {
      const seen = new Promise<number>((resolve) => config.watch('limit', resolve));
      const reconnected = new Promise<void>((resolve) => subscriber.once('ready', () => resolve()));
      await fx.current.redis.client('KILL', 'ID', String(id));
      await writer.commit(0, { limit: 5 }, { at: Date.now() });
      await reconnected;
      expect(await seen).toBe(5);
    } finally {
      await config.close();
      await writer.close();
    }
  });
});
