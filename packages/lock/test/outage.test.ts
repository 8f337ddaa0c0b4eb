// Redis stopped and restarted under a lock manager: typed errors within the caller's deadline, a bounded
// close(), one log line per connection state change, recovery after the restart. Timings are printed.
import { isAbortedError, isBackendUnavailableError } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { LockManager } from '../src/manager';

// A private redis-server without persistence and a client with ioredis's defaults (20 retries per request,
// ~10 s before it gives up): the bounds asserted below are Ballast's, not the client's.
const fx = useRedisServer({ args: [] });

const since = (t: number) => Math.round(performance.now() - t);

describe('lock with Redis down', () => {
  it('acquire honours waitMs and signal, close() is bounded, and it recovers after a restart', async () => {
    const { server, redis } = fx;
    const logs = captureLogs();
    const m = new LockManager({ redis, prefix: 'outage', logger: logs.logger, commandTimeoutMs: 800 });
    const held = await m.acquire('held');
    const contender = m.acquire('held', { waitMs: 60_000 }).catch((e: unknown) => e); // opens the subscriber
    await server.kill();

    let t = performance.now();
    const waited = await m.acquire('a', { waitMs: 300 }).catch((e: unknown) => e);
    const waitMsTook = since(t);
    expect(isBackendUnavailableError(waited)).toBe(true);
    expect(waited).toMatchObject({ backend: 'redis', operation: 'lock.acquire' });
    expect(waitMsTook).toBeLessThan(700);

    // The case, on default options (commandTimeoutMs 5 s): ~1 s, not ~10.5 s.
    const d = new LockManager({ redis, prefix: 'outage', logger: logs.logger });
    t = performance.now();
    const oneSecond = await d.acquire('a', { waitMs: 1_000 }).catch((e: unknown) => e);
    const oneSecondTook = since(t);
    expect(isBackendUnavailableError(oneSecond)).toBe(true);
    expect(oneSecondTook).toBeLessThan(1_500);

    t = performance.now();
    const bare = await m.acquire('b').catch((e: unknown) => e);
    const commandTimeoutTook = since(t);
    expect(isBackendUnavailableError(bare)).toBe(true);
    expect(commandTimeoutTook).toBeLessThan(1_500); // commandTimeoutMs 800, not ioredis's ~10 s

    const ac = new AbortController();
    const aborted = m.acquire('c', { signal: ac.signal }).catch((e: unknown) => e);
    ac.abort();
    expect(isAbortedError(await aborted)).toBe(true);

    const contended = await contender;
    expect(isBackendUnavailableError(contended)).toBe(true);

    t = performance.now();
    await expect(held.release()).rejects.toSatisfy(isBackendUnavailableError);
    const releaseTook = since(t);
    expect(releaseTook).toBeLessThan(1_500);

    t = performance.now();
    await server.restart();
    let lease = await m.acquire('d', { waitMs: 10_000 }).catch(() => undefined);
    while (!lease) lease = await m.tryAcquire('d').catch(() => undefined);
    const recoverTook = since(t);
    await lease.release();

    const m2 = new LockManager({ redis, prefix: 'outage', logger: logs.logger, commandTimeoutMs: 800 });
    await m2.acquire('e');
    await server.kill();
    t = performance.now();
    await m2.close();
    const closeTook = since(t);
    expect(closeTook).toBeLessThan(1_500);
    await server.restart();
    await m.close();
    await d.close();

    // The subscriber connection the manager created reported its outage once, through the logger.
    const lost = logs.lines.filter((l) => l.msg === 'redis connection lost');
    expect(lost.length).toBeGreaterThanOrEqual(1);
    expect(lost.every((l) => l.connection === 'lock subscriber')).toBe(true);
    expect(lost.length).toBeLessThanOrEqual(2); // one per outage, not one per retry
    console.info(
      `[lock outage] waitMs 300 → typed error in ${waitMsTook} ms; waitMs 1000 (defaults) → ${oneSecondTook} ms; commandTimeoutMs 800 → ${commandTimeoutTook} ms; ` +
        `release ${releaseTook} ms; close() after outage ${closeTook} ms; recovered ${recoverTook} ms after restart`,
    );
  });
});
