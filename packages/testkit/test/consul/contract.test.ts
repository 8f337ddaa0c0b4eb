/**
 * The emulator's Consul contract (issue 22 §4): what client code can observe and be fooled by, checked the same way
 * against the testkit's Consul EMULATOR and — when CONSUL_HTTP_ADDR is set (CONSUL_HTTP_TOKEN for an ACL-enabled
 * agent) — against a real Consul, so the emulator cannot drift from the documented behaviour unnoticed. Sources:
 * api-docs/health ("List Service Instances for Service" sample), api-docs/features/filtering, api-docs/kv
 * (DELETE ?cas), api-docs/agent/check (TCP), agent/http.go (query metadata only on state-store reads),
 * hashicorp/consul#22850 (KV key validation, 1.21.6+).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ConsulEmulator, startConsulEmulator } from '../../src/consul';

interface Target {
  url: string;
  headers: Record<string, string>;
}

function contract(label: string, target: () => Promise<Target & { close(): Promise<void> }>) {
  describe(`Consul contract [${label}]`, () => {
    const withTarget = async (fn: (t: Target, name: (b: string) => string) => Promise<void>) => {
      const t = await target();
      const ids: string[] = [];
      const name = (b: string) => {
        const n = `${b}-${randomUUID().slice(0, 8)}`;
        ids.push(n);
        return n;
      };
      try {
        await fn(t, name);
      } finally {
        for (const id of ids)
          await fetch(`${t.url}/v1/agent/service/deregister/${id}`, { method: 'PUT', headers: t.headers }).catch(
            () => {},
          );
        await t.close();
      }
    };
    const call = (t: Target, path: string, init: RequestInit = {}) =>
      fetch(`${t.url}${path}`, { ...init, headers: { ...t.headers, ...(init.headers as Record<string, string>) } });
    const register = (t: Target, body: unknown) =>
      call(t, '/v1/agent/service/register', { method: 'PUT', body: JSON.stringify(body) });

    it('health/service renders a NodeService: Meta null, no Port when 0, Proxy + Connect, no Datacenter; Timeout "" when not given', async () => {
      await withTarget(async (t, name) => {
        const id = name('shape');
        expect(
          (await register(t, { Name: id, ID: id, Check: { HTTP: 'http://127.0.0.1:1/h', Interval: '30s' } })).status,
        ).toBe(200);
        const [entry] = (await (await call(t, `/v1/health/service/${id}`)).json()) as {
          Service: Record<string, unknown>;
          Checks: { CheckID: string; Timeout: string }[];
        }[];
        expect(entry?.Service.Meta).toBeNull();
        expect(Object.hasOwn(entry?.Service ?? {}, 'Port')).toBe(false);
        expect(Object.hasOwn(entry?.Service ?? {}, 'Datacenter')).toBe(false);
        expect(entry?.Service.Proxy).toMatchObject({ Mode: '', MeshGateway: {}, Expose: {} });
        expect(entry?.Service.Connect).toEqual({});
        expect(entry?.Checks.find((c) => c.CheckID === `service:${id}`)?.Timeout).toBe('');
      });
    });

    it('?filter on health/service and catalog/service; a bad expression is 400', async () => {
      await withTarget(async (t, name) => {
        const svc = name('filter');
        for (const [i, v] of ['1', '2'].entries())
          await register(t, { Name: svc, ID: `${svc}-${i}`, Port: 8000 + i, Meta: { v }, Tags: i ? ['b'] : ['a'] });
        const ids = async (path: string, key: 'health' | 'catalog') => {
          const body = (await (await call(t, path)).json()) as { Service?: { ID: string }; ServiceID?: string }[];
          return body.map((x) => (key === 'health' ? x.Service?.ID : x.ServiceID)).sort();
        };
        const f = (e: string) => `filter=${encodeURIComponent(e)}`;
        expect(await ids(`/v1/health/service/${svc}?${f('Service.Meta.v == "2"')}`, 'health')).toEqual([`${svc}-1`]);
        expect(await ids(`/v1/health/service/${svc}?${f('"a" in Service.Tags')}`, 'health')).toEqual([`${svc}-0`]);
        expect(await ids(`/v1/catalog/service/${svc}?${f('ServiceMeta.v != "2"')}`, 'catalog')).toEqual([`${svc}-0`]);
        const bad = await call(t, `/v1/health/service/${svc}?${f('Service.Meta ==')}`);
        expect(bad.status).toBe(400);
        expect(await bad.text()).toMatch(/^Failed to create boolean expression evaluator/);
      });
    });

    it('writes carry no X-Consul-Index; DELETE ?cas=0 on a missing key is true; an unknown ?dc is 500', async () => {
      await withTarget(async (t, name) => {
        const key = `contract/${name('kv')}`;
        const put = await call(t, `/v1/kv/${key}`, { method: 'PUT', body: 'x' });
        expect(put.headers.get('x-consul-index')).toBeNull();
        expect(Number((await call(t, `/v1/kv/${key}`)).headers.get('x-consul-index'))).toBeGreaterThan(0);
        expect(await (await call(t, `/v1/kv/${key}-none?cas=0`, { method: 'DELETE' })).json()).toBe(true);
        await call(t, `/v1/kv/${key}`, { method: 'DELETE' });
        const dc = await call(t, '/v1/health/service/x?dc=no-such-dc');
        expect([dc.status, await dc.text()]).toEqual([500, 'No path to datacenter']);
      });
    });

    it("re-registering keeps a TTL check's status; TCP checks are listed with Type tcp", async () => {
      await withTarget(async (t, name) => {
        const id = name('rereg');
        await register(t, { Name: id, ID: id, Check: { TTL: '60s' } });
        await call(t, `/v1/agent/check/pass/service:${id}`, { method: 'PUT' });
        await register(t, { Name: id, ID: id, Check: { TTL: '60s' } });
        const checks = (await (await call(t, '/v1/agent/checks')).json()) as Record<string, { Status: string }>;
        expect(checks[`service:${id}`]?.Status).toBe('passing');
        const tcp = name('tcp');
        await register(t, { Name: tcp, ID: tcp, Check: { TCP: '127.0.0.1:1', Interval: '30s' } });
        const after = (await (await call(t, '/v1/agent/checks')).json()) as Record<string, { Type: string }>;
        expect(after[`service:${tcp}`]?.Type).toBe('tcp');
      });
    });

    it('KV keys with an encoded traversal or leading/trailing spaces are refused (Consul 1.21.6+)', async (ctx) => {
      await withTarget(async (t) => {
        const self = (await (await call(t, '/v1/agent/self')).json()) as { Config: { Version: string } };
        const [maj = 0, min = 0, patch = 0] = self.Config.Version.split('.').map((x) => Number.parseInt(x, 10));
        const emulated = self.Config.Version === 'emulator';
        if (!emulated && (maj < 1 || (maj === 1 && (min < 21 || (min === 21 && patch < 6)))))
          ctx.skip(`Consul ${self.Config.Version} predates KV key validation`);
        for (const bad of ['contract/..%252Fetc', '%20contract-lead', 'contract-trail%20']) {
          const r = await call(t, `/v1/kv/${bad}`, { method: 'PUT', body: 'x' });
          expect([bad, r.status >= 400]).toEqual([bad, true]);
        }
      });
    });
  });
}

contract('Consul emulator', async () => {
  const e: ConsulEmulator = await startConsulEmulator({ random: () => 0 });
  return { url: e.url, headers: {}, close: () => e.close() };
});

const real = process.env.CONSUL_HTTP_ADDR;
describe.skipIf(!real)('real Consul (runs only when CONSUL_HTTP_ADDR is set)', () => {
  const token = process.env.CONSUL_HTTP_TOKEN;
  const headers: Record<string, string> = token ? { 'X-Consul-Token': token } : {};
  contract(`real Consul at ${real}`, async () => ({
    url: (real as string).includes('://') ? (real as string) : `http://${real}`,
    headers,
    close: async () => {},
  }));
});
