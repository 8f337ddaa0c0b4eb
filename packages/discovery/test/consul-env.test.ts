/**
 * Discovery reads CONSUL_HTTP_ADDR / CONSUL_HTTP_TOKEN / CONSUL_HTTP_SSL (and the TLS variables) as Consul's
 * own CLI does — "CONSUL_HTTP_ADDR … specified as a URI with optional scheme: CONSUL_HTTP_ADDR=127.0.0.1:8500
 * … If the https:// scheme is used, CONSUL_HTTP_SSL is implied to be true" (Consul, Commands (CLI) →
 * Environment Variables, https://developer.hashicorp.com/consul/commands#environment-variables) — through
 * core's `resolveConsulEndpoint`, against the testkit's Consul emulator on a random port (HTTP and HTTPS).
 */
import { InvalidConsulConfigError } from '@ballast/core';
import { selfSignedCertificate } from '@ballast/testkit';
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDiscovery, type Discovery } from '../src/discovery';
import { isDiscoveryBackendError } from '../src/errors';

const TOKEN = 'env-token';
let plain: ConsulEmulator;
let secure: ConsulEmulator;
let certFile: string;
const open: Discovery[] = [];
let seq = 0;

beforeAll(async () => {
  const tls = selfSignedCertificate(); // for localhost / 127.0.0.1
  certFile = tls.certFile;
  plain = await startConsulEmulator({ aclToken: TOKEN });
  secure = await startConsulEmulator({
    aclToken: TOKEN,
    tls: { key: tls.key, cert: tls.cert },
  });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});
afterAll(async () => {
  await Promise.all([plain?.close(), secure?.close()]);
});

/** Registers one instance through a Discovery configured only by `env`, and reads it back. */
async function roundTrip(env: Record<string, string>): Promise<number> {
  const d = createDiscovery({ consul: { timeoutMs: 2_000 }, env });
  open.push(d);
  const name = `env-svc-${seq++}`;
  await d.register({ name, address: '127.0.0.1', port: 7100, check: { ttlMs: 30_000 }, shutdown: false });
  return (await d.discover(name)).length;
}

describe('discovery: Consul environment variables as the consul CLI reads them', () => {
  it('CONSUL_HTTP_ADDR=localhost:<port> (no scheme) reaches that port, with CONSUL_HTTP_TOKEN as X-Consul-Token', async () => {
    plain.resetRequests();
    expect(await roundTrip({ CONSUL_HTTP_ADDR: `localhost:${plain.port}`, CONSUL_HTTP_TOKEN: TOKEN })).toBe(1);
    // The emulator on that port saw the calls (and, with aclToken set, answers 403 without the token).
    expect(plain.requests().some((r) => r.path === '/v1/agent/service/register')).toBe(true);
    expect(await roundTrip({ CONSUL_HTTP_ADDR: `127.0.0.1:${plain.port}`, CONSUL_HTTP_TOKEN: TOKEN })).toBe(1);
  });

  it('without CONSUL_HTTP_TOKEN the agent refuses (the token really comes from the variable)', async () => {
    const denied = await roundTrip({ CONSUL_HTTP_ADDR: `localhost:${plain.port}` }).catch((e: unknown) => e);
    expect(isDiscoveryBackendError(denied) && denied.status).toBe(403);
  });

  it('CONSUL_HTTP_SSL=true or https:// → HTTPS, verified with CONSUL_CACERT', async () => {
    const base = { CONSUL_HTTP_TOKEN: TOKEN, CONSUL_CACERT: certFile };
    expect(await roundTrip({ ...base, CONSUL_HTTP_ADDR: `localhost:${secure.port}`, CONSUL_HTTP_SSL: 'true' })).toBe(1);
    expect(await roundTrip({ ...base, CONSUL_HTTP_ADDR: `https://127.0.0.1:${secure.port}` })).toBe(1);
  });

  it('HTTPS verifies the certificate by default; CONSUL_HTTP_SSL_VERIFY=false turns that off', async () => {
    const env = { CONSUL_HTTP_TOKEN: TOKEN, CONSUL_HTTP_ADDR: `https://localhost:${secure.port}` };
    const refused = await roundTrip(env).catch((e: unknown) => e);
    expect(isDiscoveryBackendError(refused)).toBe(true);
    expect(String(refused)).toMatch(/self[- ]signed|certificate/i);
    expect(await roundTrip({ ...env, CONSUL_HTTP_SSL_VERIFY: 'false' })).toBe(1);
  });

  it('bad values throw InvalidConsulConfigError naming the variable (or the option), at createDiscovery', () => {
    const bad = (o: Parameters<typeof createDiscovery>[0]) => {
      try {
        createDiscovery(o);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const addr = bad({ consul: {}, env: { CONSUL_HTTP_ADDR: 'ftp://consul:8500' } });
    expect(addr).toBeInstanceOf(InvalidConsulConfigError);
    expect(addr).toMatchObject({ code: 'INVALID_CONSUL_CONFIG', variable: 'CONSUL_HTTP_ADDR' });
    expect(bad({ consul: {}, env: { CONSUL_HTTP_SSL: 'yes' } })).toMatchObject({ variable: 'CONSUL_HTTP_SSL' });
    expect(bad({ consul: { url: 'consul:8500/v1' }, env: {} })).toMatchObject({ variable: 'consul.url' });
  });
});
