import { Writable } from 'node:stream';
import { createLogger, guardRedis, isBackendUnavailableError, Redis, watchConnection } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from './redis-server';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(() => server.stop());

function capture() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger({ destination: stream, level: 'debug' }) };
}

function event(client: Redis, name: string): Promise<void> {
  return new Promise((resolve) => client.once(name, () => resolve()));
}

describe('startRedisServer', () => {
  it('starts, stops and restarts a private server on the same port; pause() hangs it', async () => {
    const { lines, logger } = capture();
    const redis = new Redis(server.url, { retryStrategy: () => 20 });
    const unwatch = watchConnection(redis, { logger, backend: 'redis', connection: 'test' });
    expect(await redis.set('k', 'v')).toBe('OK');

    let errors = 0;
    redis.on('error', () => errors++);
    await server.kill();
    while (errors < 3) await event(redis, 'error');
    const warns = lines.filter((l) => l.level === 40);
    expect(warns).toHaveLength(1); // once per state change, not per retry
    expect(warns[0]).toMatchObject({ msg: 'redis connection lost', backend: 'redis', connection: 'test' });

    const ready = event(redis, 'ready');
    await server.restart();
    await ready;
    expect(lines.filter((l) => l.msg === 'redis connection restored')).toHaveLength(1);
    expect(await redis.get('k')).toBeNull(); // a fresh server: no persistence

    server.pause();
    const guarded = guardRedis(redis, { commandTimeoutMs: 200 });
    expect(isBackendUnavailableError(await guarded.ping().catch((e: unknown) => e))).toBe(true);
    server.resume();
    expect(await redis.ping()).toBe('PONG');
    unwatch();
    redis.disconnect();
  });
});
