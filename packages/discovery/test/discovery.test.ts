import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { ServiceInstance } from '../src/backend';
import { MemoryBackend } from '../src/backends/memory';
import { RedisBackend } from '../src/backends/redis';
import { createDiscovery, type Discovery, defaultEnvVar } from '../src/discovery';
import { isServiceUnavailableError } from '../src/errors';
import { Picker, routable } from '../src/pickers';
import { until } from './fixtures/consul-target';

const open: Discovery[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});
function make(options: Parameters<typeof createDiscovery>[0] = {}) {
  const d = createDiscovery({ env: {}, ...options });
  open.push(d);
  return d;
}
const inst = (id: string, status: ServiceInstance['status'] = 'passing'): ServiceInstance => ({
  id,
  name: 's',
  address: '10.0.0.1',
  port: 80,
  tags: [],
  meta: {},
  status,
  url: `http://${id}`,
});

describe('pickers', () => {
  it('round-robin cycles, random uses the injected random, least-outstanding prefers idle instances', () => {
    const p = new Picker(() => 0.99);
    const xs = [inst('a'), inst('b'), inst('c')];
    expect([1, 2, 3, 4].map(() => p.pick(xs, 'round-robin')?.id)).toEqual(['a', 'b', 'c', 'a']);
    expect(p.pick(xs, 'random')?.id).toBe('c');
    const endA = p.begin('a');
    p.begin('b');
    expect(p.pick(xs, 'least-outstanding')?.id).toBe('c');
    p.begin('c');
    endA();
    expect(p.pick(xs, 'least-outstanding')?.id).toBe('a');
    expect(p.pick([], 'round-robin')).toBeUndefined();
  });

  it('panic threshold: below X % passing, route over all instances; none passing → none', () => {
    const xs = [inst('a'), inst('b', 'critical'), inst('c', 'critical'), inst('d', 'critical')];
    expect(routable(xs, 50).map((i) => i.id)).toEqual(['a', 'b', 'c', 'd']); // 25 % < 50 %: panic
    expect(routable(xs, 20).map((i) => i.id)).toEqual(['a']);
    expect(routable(xs, 0).map((i) => i.id)).toEqual(['a']);
    expect(routable([inst('x', 'critical')], 50)).toEqual([]);
  });
});

describe('Discovery (memory backend)', () => {
  it('registers, discovers passing instances and picks round-robin by default (seed 000)', async () => {
    const d = make();
    await d.register({
      name: 'users',
      id: 'u1',
      address: '10.0.0.1',
      port: 30001,
      check: { ttlMs: 30_000 },
      shutdown: false,
    });
    await d.register({
      name: 'users',
      id: 'u2',
      address: '10.0.0.2',
      port: 30001,
      check: { ttlMs: 30_000 },
      shutdown: false,
    });
    expect((await d.discover('users')).map((i) => i.id).sort()).toEqual(['u1', 'u2']);
    const picks = [await d.pick('users'), await d.pick('users'), await d.pick('users')].map((i) => i.id);
    expect(new Set(picks.slice(0, 2)).size).toBe(2);
    expect(picks[2]).toBe(picks[0]);
  });

  it('resolve has the shape @ballast/circuit-breaker takes as its HTTP client resolver', async () => {
    const d = make();
    await d.register({ name: 'billing', address: '10.0.0.5', port: 30005, check: false, shutdown: false });
    expectTypeOf(d.resolve).toMatchTypeOf<(service: string) => string | PromiseLike<string>>();
    const { resolve } = d; // detached, as a resolver is passed
    expect(await resolve('billing')).toBe('http://10.0.0.5:30005');
  });

  it('withInstance counts outstanding work so least-outstanding spreads load', async () => {
    const d = make();
    await d.register({ name: 'media', id: 'm1', address: '10.0.0.1', port: 1, check: false, shutdown: false });
    await d.register({ name: 'media', id: 'm2', address: '10.0.0.2', port: 1, check: false, shutdown: false });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = d.withInstance('media', async (i) => {
      await gate;
      return i.id;
    });
    await until(async () => true);
    const busy = await Promise.race([first, new Promise<string>((r) => setTimeout(() => r('pending'), 20))]);
    expect(busy).toBe('pending');
    const second = await d.withInstance('media', (i) => i.id);
    release();
    expect(second).not.toBe(await first);
  });

  it('panic mode in pick keeps traffic flowing to all instances when most fail', async () => {
    const backend = new MemoryBackend();
    const d = make({ backend, panicThresholdPercent: 60 });
    await backend.register({ id: 'ok', name: 'p', address: 'a', port: 1, tags: [], meta: {}, status: 'passing' });
    await backend.register({ id: 'bad', name: 'p', address: 'b', port: 1, tags: [], meta: {}, status: 'critical' });
    expect((await d.discover('p')).map((i) => i.id)).toEqual(['ok']); // discover: passing only
    const picked = new Set([await d.pick('p'), await d.pick('p'), await d.pick('p')].map((i) => i.id));
    expect(picked).toEqual(new Set(['ok', 'bad'])); // 50 % < 60 %: both
  });

  it('panic mode is off unless configured: by default pick never routes to a critical instance', async () => {
    const backend = new MemoryBackend();
    const d = make({ backend });
    await backend.register({ id: 'ok', name: 'q', address: 'a', port: 1, tags: [], meta: {}, status: 'passing' });
    for (const id of ['bad1', 'bad2']) {
      await backend.register({ id, name: 'q', address: 'b', port: 1, tags: [], meta: {}, status: 'critical' });
    }
    const picked = new Set<string>();
    for (let i = 0; i < 6; i++) picked.add((await d.pick('q')).id);
    expect(picked).toEqual(new Set(['ok'])); // 33 % passing: still only the passing one
  });

  it('a change reaches subscribers and the cache through the shared watch; unsubscribe + idle stops it', async () => {
    const clock = new FakeClock({ now: Date.now() });
    const backend = new MemoryBackend({ clock });
    const d = make({ backend, clock, watchIdleMs: 10_000 });
    await backend.register({ id: 'w1', name: 'w', address: 'a', port: 1, tags: [], meta: {}, status: 'passing' });
    const seen: string[][] = [];
    const off = d.subscribe('w', (xs) => seen.push(xs.map((i) => i.id)));
    await clock.advance(0);
    await backend.heartbeat('w1', 'critical');
    await clock.advance(0);
    expect(await d.discover('w').catch((e: unknown) => e)).toSatisfy(isServiceUnavailableError);
    await backend.heartbeat('w1', 'passing');
    await clock.advance(0);
    expect(seen).toEqual([['w1'], [], ['w1']]);
    expect(d.watchedServices()).toEqual(['w']);
    off();
    await clock.advance(9_999);
    expect(d.watchedServices()).toEqual(['w']); // unused for less than watchIdleMs: kept
    await clock.advance(1);
    expect(d.watchedServices()).toEqual([]); // unused for watchIdleMs, no subscriber: stopped
    expect((await d.lookup('w')).cached).toBe(true); // the cached answer stays fresh for its 60 s TTL…
    expect(d.watchedServices()).toEqual([]);
    await clock.advance(50_000);
    expect((await d.lookup('w')).cached).toBe(false); // …then the next lookup starts the watch again
    expect(d.watchedServices()).toEqual(['w']);
  });

  it('clearCache(name) forgets one service and restarts its watch; clearCache() all', async () => {
    const d = make({ static: { s1: 'http://s1:1' } });
    await d.register({ name: 'r1', address: 'a', port: 1, check: false, shutdown: false });
    await d.discover('r1');
    expect((await d.lookup('s1')).source).toBe('static');
    expect((await d.lookup('s1')).cached).toBe(true);
    d.clearCache('s1');
    expect((await d.lookup('s1')).cached).toBe(false);
    expect(d.watchedServices().sort()).toEqual(['r1', 's1']);
    d.clearCache();
    expect(d.watchedServices()).toEqual([]);
    expect((await d.lookup('r1')).cached).toBe(false);
  });

  it('env fallback uses USER_SERVICE_URL-style names (seed 003)', async () => {
    expect(defaultEnvVar('user')).toBe('USER_SERVICE_URL');
    expect(defaultEnvVar('push-gateway')).toBe('PUSH_GATEWAY_SERVICE_URL');
    const d = make({ env: { USER_SERVICE_URL: 'http://localhost:30001' } });
    const r = await d.lookup('user');
    expect([r.source, await d.resolve('user')]).toEqual(['env', 'http://localhost:30001']);
  });

  it('TTL heartbeats report the health checker: degraded → warning at once, not at the next heartbeat', async () => {
    const clock = new FakeClock({ now: Date.now() });
    const backend = new MemoryBackend({ clock });
    const d = make({ backend, clock });
    let state: 'healthy' | 'degraded' | 'unhealthy' = 'healthy';
    const { createHealthChecker } = await import('../src/health');
    const health = createHealthChecker({ clock, checks: { app: () => state } });
    await health.check();
    await d.register({
      name: 'hc',
      id: 'hc1',
      address: 'a',
      port: 1,
      check: { ttlMs: 30_000 },
      health,
      shutdown: false,
    });
    const status = async () => (await backend.query('hc')).instances[0]?.status;
    expect(await status()).toBe('passing');
    state = 'degraded';
    await health.check(); // onChange → immediate heartbeat
    await clock.advance(0);
    expect(await status()).toBe('warning');
    state = 'unhealthy';
    await health.check();
    await clock.advance(0);
    expect(await status()).toBe('critical');
    expect(await d.discover('hc').catch((e: unknown) => e)).toSatisfy(isServiceUnavailableError);
    state = 'healthy';
    await health.check();
    await clock.advance(10_000); // and the periodic heartbeat (ttl/3) keeps it alive
    await clock.advance(30_000);
    expect(await status()).toBe('passing');
  });

  it('rejects bad options with a typed error naming the field', () => {
    expect(() => createDiscovery({ cacheTtlMs: 0 })).toThrow(/cacheTtlMs/);
    expect(() => createDiscovery({ static: { a: 'not a url' } })).toThrow(/static\.a/);
    expect(() => createDiscovery({ backend: new MemoryBackend(), consul: {} })).toThrow(/at most one/);
  });

  it('register validates its options', async () => {
    const d = make();
    await expect(d.register({ name: 'bad name!', address: 'a', port: 1 })).rejects.toThrow(/name/);
    await expect(d.register({ name: 'x', address: 'a', port: 70_000 })).rejects.toThrow(/port/);
    await expect(d.register({ name: 'x', address: 'a', port: 1, check: { intervalMs: 10 } })).rejects.toThrow(/check/);
  });
});

describe('Discovery (Redis backend)', () => {
  const fx = useRedisFixture({ name: 'discovery' });

  it('registers with an HTTP check it polls itself, heartbeats, and another process discovers it', async () => {
    const { createServer } = await import('node:http');
    let healthy = true;
    const server = createServer((_req, res) => {
      res.statusCode = healthy ? 200 : 503;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const a = make({
        backend: new RedisBackend({ redis: fx.current.redis, prefix: fx.current.prefix, sweepIntervalMs: 100 }),
      });
      const b = make({
        backend: new RedisBackend({ redis: fx.current.redis, prefix: fx.current.prefix, sweepIntervalMs: 100 }),
      });
      const reg = await a.register({
        name: 'api',
        address: '127.0.0.1',
        port,
        check: { intervalMs: 1_000 },
        shutdown: false,
      });
      await until(async () => (await b.discover('api').catch(() => [])).length === 1, 5_000, 'passing via self-poll');
      const seen: number[] = [];
      const off = b.subscribe('api', (xs) => seen.push(xs.length));
      healthy = false;
      await until(() => seen.at(-1) === 0, 5_000, 'critical seen by the other process');
      healthy = true;
      await until(() => seen.at(-1) === 1, 5_000, 'passing again');
      off();
      await reg.close();
      await until(async () => (await b.discover('api').catch(() => [])).length === 0, 5_000, 'deregistered');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
