import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isInvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { aggregate, createHealthChecker, type HealthStatus, httpCheck, redisCheck } from '../src/health';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
async function serve(handler: Parameters<typeof createServer>[1]) {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const fx = useRedisFixture({ name: 'discovery-health' });

describe('createHealthChecker', () => {
  it('aggregates: critical failure → unhealthy, non-critical failure or degraded → degraded', () => {
    const r = (status: HealthStatus) => ({ status, durationMs: 1 });
    expect(aggregate({ a: r('healthy'), b: r('healthy') }, {})).toBe('healthy');
    expect(aggregate({ a: r('healthy'), b: r('degraded') }, {})).toBe('degraded');
    expect(aggregate({ a: r('unhealthy') }, { a: false })).toBe('degraded');
    expect(aggregate({ a: r('unhealthy'), b: r('degraded') }, {})).toBe('unhealthy');
  });

  it('runs Redis, HTTP and custom checks (a DB check is a custom function); throws and timeouts are unhealthy', async () => {
    let httpStatus = 200;
    const url = await serve((_req, res) => {
      res.statusCode = httpStatus;
      res.end();
    });
    const clock = new FakeClock();
    const h = createHealthChecker({
      clock,
      timeoutMs: 1_000,
      checks: {
        redis: redisCheck(fx.current.redis),
        upstream: httpCheck(url, { timeoutMs: 2_000 }),
        db: async () => ({ status: 'healthy' as const, details: { pool: 3 } }),
        cache: { run: () => false, critical: false },
      },
    });
    const first = await h.check();
    expect(first.checks.redis?.status).toBe('healthy');
    expect(first.checks.upstream?.status).toBe('healthy');
    expect(first.checks.db).toMatchObject({ status: 'healthy', details: { pool: 3 } });
    expect(first.checks.cache?.status).toBe('unhealthy');
    expect(first.status).toBe('degraded'); // only the non-critical check fails
    httpStatus = 503;
    const second = await h.check();
    expect(second.status).toBe('unhealthy');
    expect(second.checks.upstream?.error).toMatch(/answered 503, expected 200/);

    const slow = createHealthChecker({ clock, timeoutMs: 1_000, checks: { hang: () => new Promise(() => {}) } });
    const pending = slow.check();
    await clock.advance(1_000);
    expect((await pending).checks.hang).toMatchObject({ status: 'unhealthy', error: 'timed out after 1000 ms' });
  });

  it('onChange fires on aggregate changes only and returns an unsubscribe', async () => {
    const clock = new FakeClock();
    let state: HealthStatus = 'healthy';
    const h = createHealthChecker({ clock, intervalMs: 30_000, checks: { app: () => state } });
    const seen: string[] = [];
    const off = h.onChange((next, prev) => seen.push(`${prev}->${next}`));
    h.start();
    await clock.advance(0);
    expect(h.status).toBe('healthy');
    await clock.advance(30_000); // unchanged: no callback
    state = 'unhealthy';
    await clock.advance(30_000);
    off();
    state = 'healthy';
    await clock.advance(30_000);
    expect(h.status).toBe('healthy');
    expect(seen).toEqual(['unhealthy->healthy', 'healthy->unhealthy']);
    h.stop();
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('serves a JSON /health: 200 when healthy or degraded, 500 when unhealthy (seed 004)', async () => {
    let state: HealthStatus = 'degraded';
    const h = createHealthChecker({ checks: { app: () => state } });
    const url = await serve(h.handler);
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json');
    expect(await ok.json()).toMatchObject({ status: 'degraded', checks: { app: { status: 'degraded' } } });
    state = 'unhealthy';
    const bad = await fetch(url);
    expect(bad.status).toBe(500);
    expect((await bad.json()).status).toBe('unhealthy');
  });

  it('rejects bad options naming the field', () => {
    expect(() => createHealthChecker({ checks: {}, intervalMs: -1 })).toThrow(/intervalMs/);
    let err: unknown;
    try {
      createHealthChecker({ checks: { x: 42 as never } });
    } catch (e) {
      err = e;
    }
    expect(isInvalidOptionsError(err)).toBe(true);
    expect(String(err)).toMatch(/checks\.x/);
  });
});
