// Redis stopped and restarted under the Redis config store: a read fails typed within commandTimeoutMs
// (core's BackendUnavailableError, as in every package), the subscriber logs the outage once and
// its return once, and a watcher sees commits again after the restart.
import { isBackendUnavailableError } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it, vi } from 'vitest';
import { RedisConfigStore } from '../src/backends/redis';

// A private redis-server (AOF: its data survives restart) and a client with ioredis's defaults (~10 s before
// it gives up on a command): the bounds asserted below are Ballast's, not the client's.
const fx = useRedisServer();

describe('RedisConfigStore with Redis down', () => {
  it('fails typed and bounded, logs once per state change, recovers', async () => {
    const { server, redis } = fx;
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
