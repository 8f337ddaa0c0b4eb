// Redis stopped and restarted under discovery's Redis registry: register fails typed within commandTimeoutMs,
// the subscriber connection discovery creates logs the outage once (no unhandled 'error' event), close() is
// bounded, registration works again after the restart. Timings are printed.
import { isBackendUnavailableError, isBallastError } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it, vi } from 'vitest';
import { createDiscovery } from '../src/index';

// A private redis-server (AOF: its data survives restart) and a client with ioredis's defaults (~10 s before
// it gives up on a command): the bounds asserted below are Ballast's, not the client's.
const fx = useRedisServer();

const since = (t: number) => Math.round(performance.now() - t);

describe('discovery (Redis registry) with Redis down', () => {
  it('fails typed and bounded, logs once, closes bounded, recovers', async () => {
    const { server, redis } = fx;
    const consoleError = vi.spyOn(console, 'error');
    const logs = captureLogs();
    const discovery = createDiscovery({ redis, prefix: 'outage', logger: logs.logger, commandTimeoutMs: 500 });
    await discovery.register({ name: 'users', address: '10.0.0.1', port: 80, check: false });
    expect(await discovery.discover('users')).toHaveLength(1); // starts a watch: the subscriber connection

    await server.kill();
    let t = performance.now();
    const error = await discovery
      .register({ name: 'orders', address: '10.0.0.2', port: 80, check: false })
      .catch((e: unknown) => e);
    const registerTook = since(t);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect(registerTook).toBeLessThan(1_500);
    await logs.waitFor((l) => l.msg === 'redis connection lost');
    // A lookup answers (from the cache) or fails typed; it does not hang.
    const looked = await discovery.discover('users').catch((e: unknown) => e);
    expect(Array.isArray(looked) || isBallastError(looked)).toBe(true);

    t = performance.now();
    await server.restart();
    while (
      !(await discovery.register({ name: 'orders', address: '10.0.0.2', port: 80, check: false }).then(
        () => true,
        () => false,
      ))
    );
    const recoverTook = since(t);

    await server.kill();
    t = performance.now();
    await discovery.close();
    const closeTook = since(t);
    expect(closeTook).toBeLessThan(1_500);
    await server.restart();

    expect(logs.atLeast(40).filter((l) => l.msg === 'redis connection lost')).toHaveLength(2); // two outages
    const unhandled = consoleError.mock.calls.filter((c) => String(c[0]).includes('Unhandled error event'));
    expect(unhandled).toEqual([]);
    consoleError.mockRestore();
    console.info(
      `[discovery outage] register → typed error in ${registerTook} ms (commandTimeoutMs 500); ` +
        `close() after outage ${closeTook} ms; registering again ${recoverTook} ms after restart`,
    );
  });
});
