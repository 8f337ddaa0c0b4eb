/**
 * A queue on a Redis client the user created (issue 19 §4): while Redis is down, the queue's 'error' listener
 * logs the outage once, so ioredis prints no `Unhandled error event` stack; the listener leaves with the queue.
 */
import { createRedis, type Redis } from '@ballast/core';
import { captureLogs, type RedisServer, startRedisServer } from '@ballast/testkit';
import { Redis as IORedis } from 'ioredis';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createQueue, createQueueEvents, createWorker } from '../src/index';

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

it("a client with enableOfflineQueue: false: the worker's waiter connection waits to be ready, no spurious error", async () => {
  const client = new IORedis(server.url, { enableOfflineQueue: false, lazyConnect: false });
  await new Promise((r) => client.once('ready', r));
  const errors: unknown[] = [];
  const queue = createQueue('given-offline', { backend: 'redis', redis: client, prefix: 'given' });
  try {
    const done = new Promise<void>((r) => queue.onCompleted(() => r()));
    const worker = createWorker(queue, () => 'ok', { onError: (e) => errors.push(e), blockMs: 200 });
    // The worker found nothing and blocks on its own (duplicated) connection, then a job comes.
    await expect
      .poll(async () => String(await client.call('CLIENT', 'LIST')).includes('cmd=blpop'), { timeout: 5_000 })
      .toBe(true);
    await queue.add('t', {});
    await done;
    await worker.close();
    expect(errors).toEqual([]);
  } finally {
    await queue.close();
    client.disconnect();
  }
});

it('a client with enableOfflineQueue: false: a QueueEvents reader waits for its connection, no spurious error', async () => {
  const client = new IORedis(server.url, { enableOfflineQueue: false });
  await new Promise((r) => client.once('ready', r));
  const queue = createQueue('given-offline-events', { backend: 'redis', redis: client, prefix: 'given', events: true });
  const events = createQueueEvents(queue);
  const errors: unknown[] = [];
  events.onError((e) => errors.push(e));
  try {
    await events.ready;
    const seen = new Promise<string>((r) => events.onWaiting((e) => r(e.jobId)));
    const { id } = await queue.add('t', {});
    expect(await seen).toBe(id);
    expect(errors).toEqual([]);
  } finally {
    events.close();
    await queue.close();
    client.disconnect();
  }
});
