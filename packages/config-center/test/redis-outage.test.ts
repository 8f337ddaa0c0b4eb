// Redis stopped and restarted under the Redis config store: a read fails typed within commandTimeoutMs
// (core's BackendUnavailableError, as in every package), the subscriber logs the outage once and
// its return once, and a watcher sees commits again after the restart.
import { createRedis, isBackendUnavailableError, type Redis } from '@ballast/core';
import { captureLogs, type RedisServer, startRedisServer } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisConfigStore } from '../src/backends/redis';
import { isRemoteUnavailableError } from '../src/errors';

let server: RedisServer;
let redis: Redis;
beforeAll(async () => {
  server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  redis = createRedis(server.url) as Redis;
  redis.on('error', () => {});
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe('RedisConfigStore with Redis down', () => {
  it('fails typed and bounded, logs once per state change, recovers', async () => {
    const consoleError = vi.spyOn(console, 'error');
    const logs = captureLogs();
    const store = new RedisConfigStore({ redis, name: 'svc', logger: logs.logger, commandTimeoutMs: 500 });
    await store.read();
    const stop = store.watch(
      () => {},
      () => {},
    );
    await server.kill();
    const t = performance.now();
    const error = await store.read().catch((e: unknown) => e);
    const took = Math.round(performance.now() - t);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect(error).toMatchObject({ backend: 'redis' });
    expect(took).toBeLessThan(1_500);
    await logs.waitFor((l) => l.msg === 'redis connection lost');
    await logs.waitFor((l) => l.msg === 'redis connection still down');

    await server.restart();
    await logs.waitFor((l) => l.msg === 'redis connection restored');
    await store.read();
    expect(logs.atLeast(40).filter((l) => l.msg === 'redis connection lost')).toHaveLength(1);
    stop();
    await store.close();
    expect(consoleError.mock.calls.filter((c) => String(c[0]).includes('Unhandled error event'))).toEqual([]);
    consoleError.mockRestore();
    console.info(`[config-center outage] read → typed error in ${took} ms (commandTimeoutMs 500)`);
  });
});
