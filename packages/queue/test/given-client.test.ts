/**
 * A queue on a Redis client the user created (issue 19 §4): while Redis is down, the queue's 'error' listener
 * logs the outage once, so ioredis prints no `Unhandled error event` stack; the listener leaves with the queue.
 */
import { createRedis, type Redis } from '@ballast/core';
import { captureLogs, type RedisServer, startRedisServer } from '@ballast/testkit';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createQueue } from '../src/index';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});

it('a user-supplied client gets an error listener: a Redis outage is one warning, no ioredis stack on stderr', async () => {
  // The user's client, as they would create it: no 'error' listener of their own.
  const client = createRedis(server.url) as Redis;
  client.removeAllListeners('error');
  const printed: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    printed.push(args.map(String).join(' '));
  });
  const logs = captureLogs();
  try {
    const queue = createQueue('given-client', {
      backend: 'redis',
      redis: client,
      prefix: 'given',
      logger: logs.logger,
    });
    await queue.add('t', {});
    expect(client.listenerCount('error')).toBeGreaterThan(0);
    await server.kill();
    // ioredis reports each failed reconnect as an 'error' event: printed as a stack when nobody listens.
    await expect
      .poll(() => printed.length + logs.lines.filter((l) => l.msg === 'redis connection lost').length, {
        timeout: 10_000,
      })
      .toBeGreaterThan(0);
    expect(printed.filter((p) => p.includes('[ioredis] Unhandled error event'))).toEqual([]);
    expect(logs.lines.filter((l) => l.msg === 'redis connection lost')).toHaveLength(1);
    await server.restart();
    await expect.poll(() => client.status, { timeout: 10_000 }).toBe('ready');
    await queue.close();
    // The client stays the user's: open, and without the queue's listener.
    expect(client.status).toBe('ready');
    expect(client.listenerCount('error')).toBe(0);
  } finally {
    spy.mockRestore();
    client.disconnect();
  }
});
