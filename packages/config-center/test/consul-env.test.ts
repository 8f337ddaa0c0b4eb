/**
 * Config-center reads CONSUL_HTTP_ADDR / CONSUL_HTTP_TOKEN / CONSUL_HTTP_SSL (and the TLS variables) as Consul's
 * own CLI does — "CONSUL_HTTP_ADDR … specified as a URI with optional scheme: CONSUL_HTTP_ADDR=127.0.0.1:8500
 * … If the https:// scheme is used, CONSUL_HTTP_SSL is implied to be true" (Consul, Commands (CLI) →
 * Environment Variables, https://developer.hashicorp.com/consul/commands#environment-variables) — through
 * core's `resolveConsulEndpoint`, the same parser discovery uses, against the testkit's Consul emulator on a
 * random port (HTTP and HTTPS).
 */
import { createLogger, InvalidConsulConfigError, isBackendUnavailableError } from '@ballast/core';
import { selfSignedCertificate } from '@ballast/testkit';
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { consulKv, createConfig, createConsulKv, defaults, isRemoteUnavailableError, pushToConsul } from '../src';

const TOKEN = 'env-token';
let plain: ConsulEmulator;
let secure: ConsulEmulator;
let certFile: string;
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
afterEach(() => {
  vi.unstubAllEnvs();
});
afterAll(async () => {
  await Promise.all([plain?.close(), secure?.close()]);
});

/** PUT then GET one key through a KV client configured only by `env`. */
async function roundTrip(env: Record<string, string>): Promise<string | null | undefined> {
  const kv = createConsulKv({ env, requestTimeoutMs: 2_000 });
  const key = `env-test/${seq++}`;
  await kv.put(key, `"v${seq}"`);
  return (await kv.get(key))?.value;
}

describe('config-center: Consul environment variables as the consul CLI reads them', () => {
  it('CONSUL_HTTP_ADDR=localhost:<port> (no scheme) reaches that port, with CONSUL_HTTP_TOKEN as X-Consul-Token', async () => {
    plain.resetRequests();
    expect(await roundTrip({ CONSUL_HTTP_ADDR: `localhost:${plain.port}`, CONSUL_HTTP_TOKEN: TOKEN })).toMatch(/^"v/);
    expect(plain.requests().some((r) => r.method === 'PUT' && r.path.startsWith('/v1/kv/env-test/'))).toBe(true);
    expect(await roundTrip({ CONSUL_HTTP_ADDR: `127.0.0.1:${plain.port}`, CONSUL_HTTP_TOKEN: TOKEN })).toMatch(/^"v/);
    // Without the token the agent refuses: the token really comes from the variable.
    const denied = await roundTrip({ CONSUL_HTTP_ADDR: `localhost:${plain.port}` }).catch((e: unknown) => e);
    expect(isRemoteUnavailableError(denied) && String(denied)).toMatch(/403/);
  });

  it('CONSUL_HTTP_SSL=true or https:// → HTTPS, verified with CONSUL_CACERT; CONSUL_HTTP_SSL_VERIFY=false skips it', async () => {
    const base = { CONSUL_HTTP_TOKEN: TOKEN };
    const ssl = { ...base, CONSUL_HTTP_ADDR: `localhost:${secure.port}`, CONSUL_HTTP_SSL: 'true' };
    expect(await roundTrip({ ...ssl, CONSUL_CACERT: certFile })).toMatch(/^"v/);
    expect(
      await roundTrip({ ...base, CONSUL_HTTP_ADDR: `https://127.0.0.1:${secure.port}`, CONSUL_CACERT: certFile }),
    ).toMatch(/^"v/);
    const unverified = await roundTrip(ssl).catch((e: unknown) => e);
    expect(isBackendUnavailableError(unverified) && String(unverified)).toMatch(/self[- ]signed|certificate/i);
    expect(await roundTrip({ ...ssl, CONSUL_HTTP_SSL_VERIFY: 'false' })).toMatch(/^"v/);
  });

  it('consulKv() and pushToConsul() with no url read process.env the same way', async () => {
    vi.stubEnv('CONSUL_HTTP_ADDR', `localhost:${plain.port}`);
    vi.stubEnv('CONSUL_HTTP_TOKEN', TOKEN);
    const prefix = `env-test/svc-${seq++}/`;
    await pushToConsul(prefix, { db: { pool: { max: 42 } } });
    const config = await createConfig({
      schema: z.object({ db: z.object({ pool: z.object({ max: z.number() }) }) }),
      logger: createLogger({ level: 'silent' }),
      sources: [defaults({ db: { pool: { max: 1 } } }), consulKv({ prefix })],
    });
    try {
      expect(config.get().db.pool.max).toBe(42);
    } finally {
      await config.close();
    }
  });

  it('bad values throw InvalidConsulConfigError naming the variable (or the option)', () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const addr = bad(() => createConsulKv({ env: { CONSUL_HTTP_ADDR: 'ftp://consul:8500' } }));
    expect(addr).toBeInstanceOf(InvalidConsulConfigError);
    expect(addr).toMatchObject({ code: 'INVALID_CONSUL_CONFIG', variable: 'CONSUL_HTTP_ADDR' });
    expect(bad(() => createConsulKv({ env: { CONSUL_HTTP_SSL: 'yes' } }))).toMatchObject({
      variable: 'CONSUL_HTTP_SSL',
    });
    vi.stubEnv('CONSUL_HTTP_ADDR', 'unix:///var/run/consul.sock');
    expect(bad(() => consulKv({ prefix: 'x/' }))).toMatchObject({ variable: 'CONSUL_HTTP_ADDR' });
    expect(bad(() => consulKv({ prefix: 'x/', url: 'consul:8500/v1' }))).toMatchObject({ variable: 'url' });
  });
});
