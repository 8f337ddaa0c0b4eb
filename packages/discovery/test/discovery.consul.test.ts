import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ShutdownRegistry } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ConsulBackend } from '../src/backends/consul';
import { createConsulClient } from '../src/consul-client';
import { createDiscovery, type Discovery } from '../src/discovery';
import {
  type DiscoveryBackendError,
  isDiscoveryBackendError,
  isServiceUnavailableError,
  type ServiceUnavailableError,
} from '../src/errors';
import { createHealthChecker, type HealthStatus } from '../src/health';
import { runningWatches } from '../src/shared';
import { type ConsulTarget, countingClient, describeConsul, until } from './fixtures/consul-target';

const open: Discovery[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function discovery(t: ConsulTarget, extra: Parameters<typeof createDiscovery>[0] = {}) {
  const { client, counts } = countingClient(createConsulClient({ url: t.url, token: t.token, timeoutMs: 2_000 }));
  const d = createDiscovery({ consul: { url: t.url, token: t.token, client }, env: {}, watchWaitMs: 10_000, ...extra });
  open.push(d);
  return { d, counts };
}

/** A local service whose /health is a real health checker with one switchable custom check. */
async function service() {
  let state: HealthStatus = 'healthy';
  const health = createHealthChecker({ checks: { app: async () => state }, intervalMs: 100 });
  health.start();
  const server = createServer((req, res) => (req.url === '/health' ? health.handler(req, res) : res.end('ok')));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  server.on('close', () => health.stop());
  return {
    port,
    health,
    set: async (s: HealthStatus) => {
      state = s;
      await health.check();
    },
  };
}

const ids = (xs: readonly { id: string }[]) => xs.map((x) => x.id).sort();

describeConsul('discovery', (target) => {
  it('registers with an HTTP check against a /health handler and discovers the passing instance', async () => {
    const t = target();
    const svc = t.name('users');
    const app = await service();
    const { d } = discovery(t);
    const reg = await d.register({
      name: svc,
      address: '127.0.0.1',
      port: app.port,
      tags: ['v1'],
      check: { intervalMs: 1_000 },
      shutdown: false,
    });
    expect(reg.id).toBe(`${svc}-127.0.0.1-${app.port}`);
    await until(
      async () => (await d.lookup(svc).catch(() => undefined))?.source === 'registry',
      10_000,
      'instance passing',
    );
    const found = await d.discover(svc);
    expect(found.map((i) => i.url)).toEqual([`http://127.0.0.1:${app.port}`]);
    expect(await d.discover(svc, { tag: 'v1' })).toHaveLength(1);
    expect(await d.resolve(svc)).toBe(`http://127.0.0.1:${app.port}`);
    await reg.close();
  });

  it('a failing HTTP check removes the instance from discovery within one watch round', async () => {
    const t = target();
    const svc = t.name('orders');
    const a = await service();
    const b = await service();
    const { d, counts } = discovery(t);
    await d.register({
      name: svc,
      id: `${svc}-a`,
      address: '127.0.0.1',
      port: a.port,
      check: { intervalMs: 1_000 },
      shutdown: false,
    });
    await d.register({
      name: svc,
      id: `${svc}-b`,
      address: '127.0.0.1',
      port: b.port,
      check: { intervalMs: 1_000 },
      shutdown: false,
    });
    let seen: readonly { id: string }[] = [];
    const off = d.subscribe(svc, (xs) => {
      seen = xs;
    });
    await until(() => seen.length === 2, 10_000, 'both passing');
    await until(() => counts.blocking > 0, 5_000, 'a blocking round in flight');
    const before = counts.healthService;
    await b.set('unhealthy');
    await until(() => seen.length === 1, 10_000, 'b removed');
    expect(ids(seen)).toEqual([`${svc}-a`]);
    expect(ids(await d.discover(svc))).toEqual([`${svc}-a`]);
    // The change arrived on the blocking request already waiting (plus at most one follow-up round).
    expect(counts.healthService - before).toBeLessThanOrEqual(2);
    off();
  });

  it('TTL checks: heartbeats keep the instance passing; without them it expires', async () => {
    const t = target();
    const svc = t.name('ttl');
    const { d } = discovery(t);
    const reg = await d.register({
      name: svc,
      address: '127.0.0.1',
      port: 7001,
      check: { ttlMs: 1_000 },
      shutdown: false,
    });
    expect(ids(await d.discover(svc))).toEqual([reg.id]);
    const started = Date.now();
    await until(() => Date.now() - started > 2_500, 5_000); // 2.5 TTLs pass…
    expect(ids(await d.discover(svc))).toEqual([reg.id]); // …still passing: heartbeats every ttl/3
    // A registration nobody heartbeats (a frozen process): registered passing, then expires.
    const backend = d.backend as ConsulBackend;
    await backend.register({
      id: `${svc}-frozen`,
      name: svc,
      address: '127.0.0.1',
      port: 7002,
      tags: [],
      meta: {},
      check: { ttlMs: 1_000 },
      status: 'passing',
    });
    await until(async () => (await d.discover(svc)).length === 2, 5_000, 'frozen visible');
    await until(async () => (await d.discover(svc)).length === 1, 8_000, 'frozen expired');
    await backend.deregister(`${svc}-frozen`);
    await reg.close();
  });

  it('re-registers after the agent forgets it: TTL via the 404 heartbeat, HTTP via anti-entropy', async () => {
    const t = target();
    const svc = t.name('phoenix');
    const app = await service();
    const { d, counts } = discovery(t);
    const ttl = await d.register({
      name: svc,
      id: `${svc}-ttl`,
      address: '127.0.0.1',
      port: 7003,
      check: { ttlMs: 1_500 },
      antiEntropyIntervalMs: 60_000,
      shutdown: false,
    });
    const http = await d.register({
      name: svc,
      id: `${svc}-http`,
      address: '127.0.0.1',
      port: app.port,
      check: { intervalMs: 1_000 },
      antiEntropyIntervalMs: 300,
      shutdown: false,
    });
    await until(async () => (await d.discover(svc).catch(() => [])).length === 2, 10_000, 'both registered');
    await t.forget();
    await until(() => ttl.reregistrations >= 1 && http.reregistrations >= 1, 10_000, 're-registrations');
    expect(counts.registerService).toBeGreaterThanOrEqual(4);
    await until(async () => ids(await d.discover(svc).catch(() => [])).length === 2, 10_000, 'both back');
    expect(ids(await d.discover(svc))).toEqual([`${svc}-http`, `${svc}-ttl`]);
  });

  it('N concurrent cold discover calls share one request, then one watch', async () => {
    const t = target();
    const svc = t.name('hot');
    const { d, counts } = discovery(t);
    const { d: registrar } = discovery(t);
    await registrar.register({
      name: svc,
      address: '127.0.0.1',
      port: 7004,
      check: { ttlMs: 30_000 },
      shutdown: false,
    });
    t.emulator?.resetRequests();
    const results = await Promise.all(Array.from({ length: 50 }, () => d.discover(svc)));
    expect(results.every((r) => r.length === 1)).toBe(true);
    expect(counts.healthService - counts.blocking).toBe(1); // the single cold request
    for (let i = 0; i < 1_000; i++) await d.discover(svc);
    expect(counts.healthService).toBeLessThanOrEqual(2); // + the one blocking request now waiting
    expect(d.watchedServices()).toEqual([svc]);
    if (t.emulator) {
      const health = t.emulator.requests().filter((r) => r.path === `/v1/health/service/${svc}`);
      expect(health.length).toBeLessThanOrEqual(2);
      expect(health.filter((r) => !r.query.index || r.query.index === '0')).toHaveLength(1);
    }
  });

  it('Discovery instances of one process on the same agent share the backend and one watch per service', async () => {
    const t = target();
    const svc = t.name('shared');
    const { d: registrar } = discovery(t);
    await registrar.register({
      name: svc,
      address: '127.0.0.1',
      port: 7008,
      check: { ttlMs: 30_000 },
      shutdown: false,
    });
    const a = createDiscovery({ consul: { url: t.url, token: t.token }, env: {} });
    const b = createDiscovery({ consul: { url: t.url, token: t.token }, env: {} });
    open.push(a, b);
    expect(a.backend).toBe(b.backend);
    t.emulator?.resetRequests();
    await Promise.all([a.discover(svc), b.discover(svc), a.discover(svc), b.discover(svc)]);
    expect(runningWatches(a.backend)).toBe(1);
    if (t.emulator) {
      const cold = t.emulator
        .requests()
        .filter((r) => r.path === `/v1/health/service/${svc}` && !Number(r.query.index));
      expect(cold).toHaveLength(1);
    }
    await a.close(); // b still uses the watch
    expect(runningWatches(b.backend)).toBe(1);
    expect(await b.discover(svc)).toHaveLength(1);
    await b.close();
    expect(runningWatches(b.backend)).toBe(0);
  });

  it('deregisters on graceful shutdown through the ShutdownRegistry', async () => {
    const t = target();
    const svc = t.name('bye');
    const shutdown = new ShutdownRegistry();
    const { d } = discovery(t);
    const reg = await d.register({ name: svc, address: '127.0.0.1', port: 7006, check: { ttlMs: 30_000 }, shutdown });
    expect(ids(await d.discover(svc))).toEqual([reg.id]);
    const report = await shutdown.shutdown();
    expect(report.steps.map((s) => [s.name, s.status])).toEqual([[`discovery:${reg.id}`, 'closed']]);
    const res = await fetch(`${t.url}/v1/health/service/${svc}`, {
      headers: t.token ? { 'X-Consul-Token': t.token } : {},
    });
    expect(await res.json()).toEqual([]);
  });

  it('fallback chain with Consul down: fresh cache → stale-if-error (age exposed) → static → env → error', async () => {
    const t = target();
    const svc = t.name('chain');
    const clock = new FakeClock({ now: Date.now() });
    const { d: registrar } = discovery(t);
    await registrar.register({
      name: svc,
      address: '127.0.0.1',
      port: 7007,
      check: { ttlMs: 600_000 },
      shutdown: false,
    });
    const { d } = discovery(t, {
      clock,
      static: { 'static-only': 'http://10.0.0.9:8080' },
      env: { ENV_ONLY_SERVICE_URL: 'http://10.0.0.8:8081,http://10.0.0.7:8081' },
      watchBackoff: { initialMs: 1_000, maxMs: 1_000, jitter: 'none' },
    });
    expect((await d.lookup(svc)).source).toBe('registry');
    expect((await d.lookup(svc)).cached).toBe(true);
    await t.down();
    try {
      await until(async () => {
        await clock.advance(1);
        return !(await d.lookup(svc)).stale && d.watchedServices().length === 1;
      }, 2_000);
      // Within the 60 s TTL the cached answer is still fresh.
      const fresh = await d.lookup(svc);
      expect([fresh.source, fresh.cached, fresh.stale]).toEqual(['registry', true, false]);
      await clock.advance(61_000);
      const stale = await d.lookup(svc);
      expect([stale.source, stale.stale]).toEqual(['registry', true]);
      expect(stale.ageMs).toBeGreaterThanOrEqual(61_000);
      expect(ids(stale.instances)).toHaveLength(1);
      // Cold services with the registry down: static, then env, then a typed error naming every source.
      const st = await d.lookup('static-only');
      expect([st.source, st.instances[0]?.url]).toEqual(['static', 'http://10.0.0.9:8080']);
      expect((await d.lookup('static-only')).cached).toBe(true); // cached 30 s
      const env = await d.lookup('env-only');
      expect([env.source, env.instances.map((i) => i.url)]).toEqual([
        'env',
        ['http://10.0.0.8:8081', 'http://10.0.0.7:8081'],
      ]);
      const err = (await d.lookup('nowhere').catch((e: unknown) => e)) as ServiceUnavailableError;
      expect(isServiceUnavailableError(err)).toBe(true);
      expect(err.tried.join(' | ')).toMatch(
        /consul: .* \| stale cache: none \| static: none \| env NOWHERE_SERVICE_URL: unset/,
      );
      // clearCache forgets the stale copy too: with the registry still down, nothing is left.
      d.clearCache(svc);
      await expect(d.lookup(svc)).rejects.toSatisfy(isServiceUnavailableError);
    } finally {
      await t.up();
    }
  });
});

// The index only goes backwards when the cluster is rebuilt: the emulator can do that, a shared real agent cannot.
describe('discovery [Consul emulator only]', () => {
  let em: ConsulEmulator | undefined;
  afterAll(async () => {
    await em?.close();
  });
  it('sends the ACL token; without it a write is 403 and a lookup finds nothing; a token without rights is told the results were filtered', async () => {
    const secured = await startConsulEmulator({ aclToken: 'app-token', aclDeniedTokens: ['weak-token'] });
    try {
      const ok = createDiscovery({ consul: { url: secured.url, token: 'app-token' }, env: {} });
      const anonymous = createDiscovery({ consul: { url: secured.url, timeoutMs: 3_000 }, env: {} });
      open.push(ok, anonymous);
      await ok.register({
        name: 'acl-svc',
        address: '127.0.0.1',
        port: 7009,
        check: { ttlMs: 30_000 },
        shutdown: false,
      });
      expect(await ok.discover('acl-svc')).toHaveLength(1);
      const denied = await anonymous
        .register({ name: 'acl-svc', id: 'x', address: '127.0.0.1', port: 7010, check: false, shutdown: false })
        .catch((e: unknown) => e);
      expect(isDiscoveryBackendError(denied)).toBe(true);
      expect((denied as DiscoveryBackendError).status).toBe(403);
      expect(String(denied)).toMatch(/Permission denied/);
      const lookup = (await anonymous.lookup('acl-svc').catch((e: unknown) => e)) as ServiceUnavailableError;
      // Consul filters an anonymous read (200 []) instead of refusing it, and does not tell the anonymous token.
      expect(lookup.tried[0]).toMatch(/no passing instances/);
      // A token without rights is told (X-Consul-Results-Filtered-By-ACLs), and the lookup says so.
      const weak = createDiscovery({ consul: { url: secured.url, token: 'weak-token', timeoutMs: 3_000 }, env: {} });
      open.push(weak);
      const filtered = (await weak.lookup('acl-svc').catch((e: unknown) => e)) as ServiceUnavailableError;
      expect(filtered.tried[0]).toMatch(/filtered by ACLs/);
      expect(secured.requests().some((r) => r.path === '/v1/health/service/acl-svc')).toBe(true);
    } finally {
      await secured.close();
    }
  });

  const emulatorOnly = async () => {
    em ??= await startConsulEmulator();
    const emulator = em;
    return {
      url: emulator.url,
      token: undefined,
      emulator,
      name: (b: string) => `${b}-${Math.random().toString(36).slice(2, 8)}`,
    } as ConsulTarget & { emulator: ConsulEmulator };
  };

  it('index reset: after the agent restarts without data the watch drops its index and recovers', async () => {
    const t = await emulatorOnly();
    const svc = t.name('reset');
    const { d } = discovery(t);
    const registrar = createDiscovery({ consul: { url: t.url }, env: {} });
    open.push(registrar);
    for (let i = 0; i < 20; i++) await fetch(`${t.url}/v1/kv/pad${i}`, { method: 'PUT', body: 'x' }); // push the index up
    const reg = await registrar.register({
      name: svc,
      address: '127.0.0.1',
      port: 7005,
      check: { ttlMs: 3_000 },
      shutdown: false,
    });
    await d.discover(svc);
    await until(
      () =>
        t.emulator.requests().some((r) => r.path === `/v1/health/service/${svc}` && Number(r.query.index) > 20) ??
        false,
      5_000,
    );
    const highIndex = Math.max(
      ...t.emulator
        .requests()
        .filter((r) => r.path === `/v1/health/service/${svc}`)
        .map((r) => Number(r.query.index ?? 0)),
    );
    t.emulator.resetRequests();
    await t.emulator.restart(); // indexes start again at 1; our registration is gone until the heartbeat 404s
    const healthAfter = () => t.emulator.requests().filter((r) => r.path === `/v1/health/service/${svc}`) ?? [];
    // Recovered: re-registered (heartbeat 404), and the watch is blocking again on the new, low index.
    await until(
      () => reg.reregistrations >= 1 && healthAfter().some((r) => Number(r.query.index) > 0),
      10_000,
      'recovered',
    );
    await until(async () => (await d.discover(svc).catch(() => [])).length === 1, 5_000);
    const after = healthAfter().map((r) => Number(r.query.index ?? 0));
    expect(Math.max(...after)).toBeLessThan(highIndex); // never waited on the dead, higher index
    expect(after.every((i) => i >= 0)).toBe(true);
  });
});
