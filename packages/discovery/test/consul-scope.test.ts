/**
 * Registration fields and query scope on Consul (issue 22 §3): weights, EnableTagOverride and several checks per
 * service (TTL + HTTP + TCP + gRPC) reach the agent as Consul's /v1/agent/service/register documents them; lookups
 * send the consistency mode (watches default to `?stale`), `?dc`, `?ns` and a per-lookup `?filter`; a stale answer
 * whose X-Consul-LastContact exceeds `maxStaleMs` is re-read from the leader. Runs on the testkit's Consul EMULATOR
 * and on a real Consul when CONSUL_HTTP_ADDR is set.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConsulClient, createConsulClient } from '../src/consul-client';
import { createDiscovery, type Discovery } from '../src/discovery';
import { isServiceUnavailableError } from '../src/errors';
import { describeConsul } from './fixtures/consul-target';

const open: Discovery[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function tcpPort(): Promise<number> {
  const server = createServer((s) => s.end());
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describeConsul('discovery registration fields and query scope', (target) => {
  it('weights, EnableTagOverride and TTL + HTTP + TCP + gRPC checks on one service', async () => {
    const t = target();
    const d = createDiscovery({ consul: { url: t.url, token: t.token }, env: {} });
    open.push(d);
    const port = await tcpPort();
    const name = t.name('scoped');
    const reg = await d.register({
      name,
      address: '127.0.0.1',
      port,
      tags: ['v1'],
      weights: { passing: 5, warning: 1 },
      enableTagOverride: true,
      check: { ttlMs: 30_000 },
      checks: [
        { tcp: `127.0.0.1:${port}`, intervalMs: 10_000, timeoutMs: 1_000 },
        { grpc: `127.0.0.1:${port}`, intervalMs: 10_000, timeoutMs: 1_000 },
        { http: `http://127.0.0.1:${port}/health`, intervalMs: 10_000, timeoutMs: 1_000 },
      ],
      shutdown: false,
    });
    const headers: Record<string, string> = t.token ? { 'X-Consul-Token': t.token } : {};
    const svc = (await (await fetch(`${t.url}/v1/agent/service/${reg.id}`, { headers })).json()) as {
      Weights: unknown;
      EnableTagOverride: boolean;
    };
    expect(svc.Weights).toEqual({ Passing: 5, Warning: 1 });
    expect(svc.EnableTagOverride).toBe(true);
    const checks = (await (await fetch(`${t.url}/v1/agent/checks`, { headers })).json()) as Record<
      string,
      { ServiceID: string; Type: string }
    >;
    const mine = Object.entries(checks).filter(([, c]) => c.ServiceID === reg.id);
    expect(mine.map(([id, c]) => [id, c.Type]).sort()).toEqual([
      [`service:${reg.id}`, 'ttl'],
      [`service:${reg.id}:2`, 'tcp'],
      [`service:${reg.id}:3`, 'grpc'],
      [`service:${reg.id}:4`, 'http'],
    ]);
    await reg.close();
  });

  it('extra checks need an agent that runs them: a Redis/memory registry refuses them, naming `checks`', async () => {
    const d = createDiscovery({ env: {} });
    open.push(d);
    await expect(
      d.register({ name: 'x', address: '127.0.0.1', port: 1, checks: [{ tcp: '127.0.0.1:1', intervalMs: 10_000 }] }),
    ).rejects.toThrow(/checks/);
  });

  it('lookups send ?stale (watch default), ?dc, ?ns and the lookup filter; consistency is configurable', async () => {
    const t = target();
    const seen: Record<string, unknown>[] = [];
    const inner = createConsulClient({ url: t.url, token: t.token, timeoutMs: 2_000 });
    const recording: ConsulClient = {
      ...inner,
      registerService: (x) => inner.registerService(x),
      deregisterService: (x) => inner.deregisterService(x),
      updateTtl: (a, b, c) => inner.updateTtl(a, b, c),
      agentServiceIds: () => inner.agentServiceIds(),
      close: () => inner.close(),
      healthService: (n, o) => {
        seen.push({ ...o, signal: undefined });
        return inner.healthService(n, o);
      },
    };
    const name = t.name('filtered');
    const d = createDiscovery({ consul: { url: t.url, token: t.token, client: recording, dc: 'dc1' }, env: {} });
    open.push(d);
    for (const [i, version] of [
      [1, '1'],
      [2, '2'],
    ] as const) {
      await d.register({
        name,
        id: `${name}-${i}`,
        address: '127.0.0.1',
        port: 7000 + i,
        meta: { version },
        check: false,
        shutdown: false,
      });
    }
    const all = await d.discover(name);
    expect(all.map((i) => i.id).sort()).toEqual([`${name}-1`, `${name}-2`]);
    const v2 = await d.discover(name, { filter: 'Service.Meta.version == "2"' });
    expect(v2.map((i) => i.id)).toEqual([`${name}-2`]);
    expect(seen.every((o) => o.consistency === 'stale' && o.dc === 'dc1')).toBe(true);
    expect(seen.some((o) => o.filter === 'Service.Meta.version == "2"')).toBe(true);
    // A filter is part of the watch: the unfiltered lookup still sees both.
    expect((await d.discover(name)).length).toBe(2);

    const consistent: Record<string, unknown>[] = [];
    const d2 = createDiscovery({
      consul: {
        url: t.url,
        token: t.token,
        consistency: 'consistent',
        client: {
          ...recording,
          healthService: (n, o) => {
            consistent.push({ ...o });
            return inner.healthService(n, o);
          },
        },
      },
      env: {},
    });
    open.push(d2);
    await d2.discover(name);
    expect(consistent[0]).toMatchObject({ consistency: 'consistent' });
    expect(consistent[0]?.dc).toBeUndefined();
  });

  it('a bad filter is a typed lookup failure naming the expression', async () => {
    const t = target();
    const d = createDiscovery({ consul: { url: t.url, token: t.token }, env: {} });
    open.push(d);
    const err = await d.discover(t.name('bad-filter'), { filter: 'Service.Meta ==' }).catch((e: unknown) => e);
    expect(isServiceUnavailableError(err)).toBe(true);
    expect(String(err)).toMatch(/400/);
    expect(String(err)).toMatch(/Service\.Meta ==/);
  });
});

describe('max-staleness guard (X-Consul-LastContact)', () => {
  it('a stale answer older than maxStaleMs is re-read with default consistency', async () => {
    const calls: { consistency: unknown; index: unknown }[] = [];
    const entry = {
      Service: { ID: 'a', Service: 'svc', Address: '10.0.0.1', Port: 80, Tags: [], Meta: null },
      Node: { Address: '10.0.0.1' },
      Checks: [{ Status: 'passing' as const }],
    };
    const client: ConsulClient = {
      registerService: async () => {},
      deregisterService: async () => {},
      updateTtl: async () => {},
      agentServiceIds: async () => new Set(),
      close: () => {},
      healthService: async (_n, o) => {
        calls.push({ consistency: o.consistency, index: o.index });
        // A follower that lost the leader 60 s ago answers stale reads; the leader answers default ones.
        return o.consistency === 'stale'
          ? { index: 5, entries: [], lastContactMs: 60_000, knownLeader: false }
          : { index: 6, entries: [entry], lastContactMs: 0, knownLeader: true };
      },
    };
    const d = createDiscovery({ consul: { client, maxStaleMs: 5_000 }, env: {} });
    open.push(d);
    expect((await d.discover('svc')).map((i) => i.id)).toEqual(['a']);
    expect(calls.slice(0, 2)).toEqual([
      { consistency: 'stale', index: 0 },
      { consistency: 'default', index: undefined },
    ]);
  });
});
