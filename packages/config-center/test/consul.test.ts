// biome-ignore-all lint/suspicious/noTemplateCurlyInString: a config file with a ${VAR:-default} reference
/**
 * The Consul KV remote, by default against the testkit's Consul emulator (`@ballast/testkit/consul`, an emulator,
 * not Consul), and against a real Consul when CONSUL_HTTP_ADDR is set (CONSUL_HTTP_TOKEN is sent if set).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, isBackendUnavailableError } from '@ballast/core';
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import type { ContractBackend } from '@ballast/testkit/vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConsulConfigStore,
  consulKv,
  createConfig,
  createConsulKv,
  defaults,
  isRemoteUnavailableError,
  loadFromFile,
  pushToConsul,
  unflatten,
} from '../src';
import type { RemoteSource } from '../src/sources';
import { type RemoteUnderTest, remoteContract } from './store.contract';

const run = randomUUID().slice(0, 8);
/** These tests take remotes down on purpose: their warnings are expected. */
const silent = createLogger({ level: 'silent' });
let emulator: ConsulEmulator;
let dir: string;
beforeAll(async () => {
  emulator = await startConsulEmulator({ port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'ballast-config-consul-'));
});
afterAll(async () => {
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

const opened: RemoteSource[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.store.close();
});

let n = 0;
function contractFor(url: () => string, token?: string): ContractBackend<RemoteUnderTest & { prefix: string }> {
  return {
    create: () => {
      const prefix = `ballast-test/${run}/svc${n++}/`;
      return {
        maxVersions: 5,
        open: () => {
          const source = consulKv({ url: url(), prefix, maxVersions: 5, ...(token ? { token } : {}) });
          opened.push(source);
          return source;
        },
        prefix,
      };
    },
    destroy: async (b) => {
      const kv = createConsulKv({ url: url(), ...(token ? { token } : {}) });
      await kv.delete(b.prefix, { recurse: true });
      await kv.delete(`ballast/config-history/${b.prefix}`, { recurse: true });
    },
  };
}

remoteContract(
  'consul emulator',
  contractFor(() => emulator.url),
);

const realAddr = process.env.CONSUL_HTTP_ADDR;
describe.skipIf(!realAddr)('real Consul (runs only when CONSUL_HTTP_ADDR is set; it is not set here)', () => {
  remoteContract(
    'real consul',
    contractFor(() => realAddr!, process.env.CONSUL_HTTP_TOKEN),
  );
});

const schema = z.object({
  db: z.object({ pool: z.object({ max: z.number().int().positive() }), host: z.string() }),
  tags: z.array(z.string()).default([]),
});
const base = { db: { pool: { max: 10 }, host: 'localhost' } };
const prefixFor = () => `services/user-service-${run}-${n++}/`;

describe('Consul KV source on the emulator', () => {
  it('watches with blocking queries (index + seed 000’s 30 s wait) and picks up plain writes to the prefix', async () => {
    const prefix = prefixFor();
    const config = await createConfig({
      schema,
      logger: silent,
      sources: [defaults(base), consulKv({ url: emulator.url, prefix })],
    });
    try {
      const seen = new Promise<number>((resolve) => config.watch('db.pool.max', resolve));
      // Wait until the watch loop is parked on a blocking query, then write as another tool would.
      await expect
        .poll(() => emulator.requests().some((r) => r.path === `/v1/kv/${prefix}` && r.query.index !== undefined))
        .toBe(true);
      const blocking = emulator.requests().find((r) => r.path === `/v1/kv/${prefix}` && r.query.index !== undefined)!;
      expect(blocking.query).toMatchObject({ wait: '30000ms' });
      expect(Number(blocking.query.index)).toBeGreaterThan(0);
      expect('recurse' in blocking.query).toBe(true);
      await pushToConsul(prefix, { db: { pool: { max: 25 } } }, { url: emulator.url });
      expect(await seen).toBe(25);
      expect(config.get()).toMatchObject({ db: { pool: { max: 25 }, host: 'localhost' } });
    } finally {
      await config.close();
    }
  });

  it('a multi-key write (rollback) reaches a watcher as one update, never half-applied', async () => {
    const prefix = prefixFor();
    const writer = await createConfig({
      schema,
      logger: silent,
      sources: [defaults(base), consulKv({ url: emulator.url, prefix })],
    });
    const reader = await createConfig({
      schema,
      logger: silent,
      sources: [defaults(base), consulKv({ url: emulator.url, prefix })],
    });
    try {
      const v1 = await writer.setMany({ db: { pool: { max: 11 }, host: 'a' }, tags: ['x'] });
      await writer.setMany({ db: { pool: { max: 12 }, host: 'b' }, tags: ['y', 'z'] });
      await expect.poll(() => reader.version()).toBe(2);
      const states: unknown[] = [];
      const done = new Promise<void>((resolve) =>
        reader.watch((snap) => {
          states.push(structuredClone(snap));
          if (reader.version() === 3) resolve();
        }),
      );
      await writer.rollback(v1.version);
      await done;
      expect(states).toEqual([{ db: { pool: { max: 11 }, host: 'a' }, tags: ['x'] }]);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it('an emulator restart that resets the index (Consul index rule: backwards → 0) does not stall the watch', async () => {
    const own = await startConsulEmulator({ port: 0 });
    const prefix = prefixFor();
    const config = await createConfig({
      schema,
      logger: silent,
      sources: [defaults(base), consulKv({ url: own.url, prefix, retryMaxMs: 200 })],
    });
    try {
      await config.set('db.pool.max', 30);
      await own.restart(); // forgets KV, indexes restart at 1
      const seen = new Promise<number>((resolve) => config.watch('db.pool.max', (v) => v === 40 && resolve(v)));
      await pushToConsul(prefix, { db: { pool: { max: 40 } } }, { url: own.url });
      expect(await seen).toBe(40);
    } finally {
      await config.close();
      await own.close();
    }
  });

  it('a writer that died after claiming a version neither hides later writes for long nor blocks new commits', async () => {
    const prefix = prefixFor();
    const kv = createConsulKv({ url: emulator.url });
    const config = await createConfig({
      schema,
      logger: silent,
      sources: [defaults(base), consulKv({ url: emulator.url, prefix, waitMs: 200 })],
    });
    try {
      // The dead writer: claimed version 1, wrote one key among several, never marked it applied.
      await kv.put(`${prefix}.ballast/version`, '1', { cas: 0 });
      await kv.put(`${prefix}db/pool/max`, '55');
      const seen = new Promise<number>((resolve) => config.watch('db.pool.max', resolve));
      expect(await seen).toBe(55); // served once a blocking wait passed with no change
      const record = await config.set('db.host', 'db2');
      expect(record.version).toBe(2);
      expect(config.get().db).toEqual({ pool: { max: 55 }, host: 'db2' });
    } finally {
      await config.close();
    }
  });

  it('a Consul that accepts connections but never answers fails start after startupTimeoutMs, typed', async () => {
    const sockets: Socket[] = [];
    const silentServer = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
    const { port } = silentServer.address() as AddressInfo;
    try {
      const error = await createConfig({
        schema,
        logger: silent,
        startupTimeoutMs: 300,
        sources: [defaults(base), consulKv({ url: `http://127.0.0.1:${port}`, prefix: prefixFor() })],
      }).catch((e: unknown) => e);
      // No answer is an outage: core's BackendUnavailableError naming Consul, the read and the bound.
      expect(isBackendUnavailableError(error)).toBe(true);
      expect(error).toMatchObject({ backend: 'consul' });
      expect((error as Error).message).toContain('startupTimeoutMs');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silentServer.close(resolve));
    }
  });

  it('sends the ACL token as X-Consul-Token; a token without rights is unavailable (filtered by ACLs), never empty', async () => {
    const secured = await startConsulEmulator({ port: 0, aclToken: 'secret-token', aclDeniedTokens: ['weak-token'] });
    try {
      const ok = new ConsulConfigStore({ url: secured.url, prefix: 'services/acl/', token: 'secret-token' });
      await ok.commit(0, { a: 1 }, { at: Date.now() });
      expect(await ok.read()).toEqual({ version: 1, entries: { a: 1 } });
      // Consul filters a prefix read instead of refusing it: 404, flagged by X-Consul-Results-Filtered-By-ACLs.
      const weak = new ConsulConfigStore({ url: secured.url, prefix: 'services/acl/', token: 'weak-token' });
      const error = await weak.read().catch((e: unknown) => e);
      expect(isRemoteUnavailableError(error)).toBe(true);
      expect((error as Error).message).toContain('filtered by ACLs');
      // Without a token, Consul does not even say so (it masks the flag for the anonymous token): the prefix
      // reads as empty. A running or cached config refuses that as a reset (last-known-good.test.ts).
      const anonymous = new ConsulConfigStore({ url: secured.url, prefix: 'services/acl/' });
      expect(await anonymous.read()).toEqual({ version: 0, entries: {} });
      await ok.close();
      await weak.close();
      await anonymous.close();
    } finally {
      await secured.close();
    }
  });

  it('cold start from the disk cache when Consul is down', async () => {
    const prefix = prefixFor();
    const cacheFile = join(dir, `cache-${n++}.json`);
    const first = await createConfig({
      schema,
      logger: silent,
      cacheFile,
      sources: [defaults(base), consulKv({ url: emulator.url, prefix })],
    });
    await first.set('db.pool.max', 77);
    await first.close();

    const down = await startConsulEmulator({ port: 0 });
    const deadUrl = down.url;
    await down.close();
    const errors: Error[] = [];
    const second = await createConfig({
      schema,
      logger: silent,
      cacheFile,
      startupTimeoutMs: 2_000,
      sources: [defaults(base), consulKv({ url: deadUrl, prefix, name: `consul:${prefix}`, retryMaxMs: 1_000 })],
    });
    second.onError((e) => errors.push(e));
    try {
      expect(second.get('db.pool.max')).toBe(77);
      expect(second.stale).toBe(true);
      expect(second.version()).toBe(1);
    } finally {
      await second.close();
    }
    // Without a cache the same start fails with core's outage error, naming Consul.
    const error = await createConfig({
      schema,
      logger: silent,
      sources: [defaults(base), consulKv({ url: deadUrl, prefix })],
    }).catch((e: unknown) => e);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect(error).toMatchObject({ backend: 'consul' });
  });
});

describe('flattening round trip (seed 000 load_from_file)', () => {
  it('loadFromFile → pushToConsul writes one JSON key per leaf; reading the prefix back rebuilds the document', async () => {
    const path = join(dir, 'user-service.yaml');
    await writeFile(
      path,
      'database:\n  url: "${DATABASE_URL:-postgres://localhost/users}"\n  pool:\n    max: 20\nfeatures:\n  beta: true\nhosts: [a, b]\n',
      'utf8',
    );
    const flat = await loadFromFile(path, { env: {} });
    expect(flat).toEqual({
      'database/url': 'postgres://localhost/users',
      'database/pool/max': 20,
      'features/beta': true,
      hosts: ['a', 'b'],
    });
    const prefix = prefixFor();
    const keys = await pushToConsul(prefix, unflatten(flat), { url: emulator.url });
    expect(keys.sort()).toEqual(
      Object.keys(flat)
        .map((k) => `${prefix}${k}`)
        .sort(),
    );
    const kv = createConsulKv({ url: emulator.url });
    expect((await kv.get(`${prefix}database/pool/max`))?.value).toBe('20');
    expect((await kv.get(`${prefix}hosts`))?.value).toBe('["a","b"]');
    const store = new ConsulConfigStore({ url: emulator.url, prefix });
    expect(unflatten((await store.read()).entries)).toEqual(unflatten(flat));
    await store.close();
  });
});
