/**
 * Never a crash loop, never a silent reset (issue 22 §2): a restart whose remote holds an invalid state starts from
 * the disk cache's last-known-good; a remote that went back (wiped, version lower) is refused unless
 * `acceptRemoteReset`; the cache file is 0600, written by temp + rename, with redacted keys left out.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConsulConfigStore,
  consulKv,
  createConfig,
  defaults,
  isConfigValidationError,
  isRemoteResetError,
  MemoryConfigStore,
  memoryStore,
} from '../src';
import { readCache } from '../src/cache';

const silent = createLogger({ level: 'silent' });
let dir: string;
let emulator: ConsulEmulator;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballast-config-lkg-'));
  emulator = await startConsulEmulator({ port: 0 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await emulator?.close();
});

const schema = z
  .object({ pool: z.object({ min: z.number(), max: z.number() }), db: z.object({ password: z.string() }).optional() })
  .refine((c) => c.pool.min <= c.pool.max, { message: 'pool.min must be <= pool.max', path: ['pool', 'min'] });
const base = { pool: { min: 1, max: 10 } };
let n = 0;

describe('start from the last-known-good', () => {
  it('the remote holds an invalid state another writer committed: a restart serves the cached state, stale', async () => {
    const store = new MemoryConfigStore();
    const cacheFile = join(dir, `invalid-${n++}.json`);
    const first = await createConfig({
      schema,
      logger: silent,
      cacheFile,
      sources: [defaults(base), memoryStore({ store })],
    });
    await first.setMany({ pool: { min: 2, max: 20 } });
    await first.close();
    // Another writer (no schema of ours) commits an invalid state.
    await store.commit(1, { 'pool/min': 50, 'pool/max': 20 }, { at: Date.now() });
    const logs = captureLogs();
    const second = await createConfig({
      schema,
      logger: logs.logger,
      cacheFile,
      sources: [defaults(base), memoryStore({ store })],
    });
    try {
      expect(second.get().pool).toEqual({ min: 2, max: 20 });
      expect(second.stale).toBe(true);
      expect(second.version()).toBe(1);
      expect(logs.atLeast(50).some((l) => /last-known-good version 1/.test(l.raw))).toBe(true);
      // A valid commit later clears the stale flag.
      await store.commit(2, { 'pool/min': 3, 'pool/max': 30 }, { at: Date.now() });
      await expect.poll(() => second.get().pool.min).toBe(3);
      expect(second.stale).toBe(false);
    } finally {
      await second.close();
    }
    // Without a cache the same start still fails, typed.
    const error = await createConfig({
      schema,
      logger: silent,
      sources: [
        defaults(base),
        memoryStore({ store: new MemoryConfigStore({ initial: { 'pool/min': 9, 'pool/max': 1 } }) }),
      ],
    }).catch((e: unknown) => e);
    expect(isConfigValidationError(error)).toBe(true);
  });
});

describe('a remote that goes back is refused unless acceptRemoteReset', () => {
  it('a running config keeps its state when the Consul KV store is wiped; a restart keeps the cached one', async () => {
    const own = await startConsulEmulator({ port: 0 });
    const prefix = `svc-${n++}/`;
    const cacheFile = join(dir, `reset-${n++}.json`);
    const sources = () => [defaults(base), consulKv({ url: own.url, prefix, retryMaxMs: 100 })];
    const config = await createConfig({ schema, logger: silent, cacheFile, sources: sources() });
    const errors: Error[] = [];
    config.onError((e) => errors.push(e));
    try {
      await config.setMany({ pool: { min: 5, max: 50 } });
      await config.set('pool.max', 60);
      await own.restart(); // an agent restarted without its data: KV empty, indexes from 1
      await expect.poll(() => errors.some((e) => isRemoteResetError(e))).toBe(true);
      expect(config.get().pool).toEqual({ min: 5, max: 60 });
      expect(config.version()).toBe(2);
    } finally {
      await config.close();
    }
    const restarted = await createConfig({ schema, logger: silent, cacheFile, sources: sources() });
    try {
      expect(restarted.get().pool).toEqual({ min: 5, max: 60 });
      expect(restarted.stale).toBe(true);
    } finally {
      await restarted.close();
    }
    // Opted in: the reset remote is followed (defaults at version 0).
    const following = await createConfig({
      schema,
      logger: silent,
      cacheFile,
      acceptRemoteReset: true,
      sources: sources(),
    });
    try {
      expect(following.get().pool).toEqual(base.pool);
      expect(following.version()).toBe(0);
    } finally {
      await following.close();
      await own.close();
    }
  });

  it('a running config with acceptRemoteReset follows the wipe', async () => {
    const own = await startConsulEmulator({ port: 0 });
    const prefix = `svc-${n++}/`;
    const config = await createConfig({
      schema,
      logger: silent,
      acceptRemoteReset: true,
      sources: [defaults(base), consulKv({ url: own.url, prefix, retryMaxMs: 100 })],
    });
    try {
      await config.set('pool.max', 60);
      await own.restart();
      await expect.poll(() => config.version()).toBe(0);
      expect(config.get().pool).toEqual(base.pool);
    } finally {
      await config.close();
      await own.close();
    }
  });
});

describe('the disk cache file', () => {
  it('is mode 0600, replaced atomically (no temp file left), and leaves out redacted keys', async () => {
    const cacheFile = join(dir, `mode-${n++}.json`);
    const store = new ConsulConfigStore({ url: emulator.url, prefix: `redact-${n++}/` });
    await store.commit(0, { 'pool/min': 1, 'pool/max': 2, 'db/password': 's3cret' }, { at: Date.now() });
    const config = await createConfig({
      schema,
      logger: silent,
      cacheFile,
      cache: { redact: ['db.password'] },
      sources: [defaults(base), consulKv({ url: emulator.url, prefix: store.prefix })],
    });
    try {
      await expect.poll(async () => (await readCache(cacheFile))?.remotes).toBeDefined();
      expect((await stat(cacheFile)).mode & 0o777).toBe(0o600);
      const saved = await readCache(cacheFile);
      expect(Object.values(saved!.remotes)[0]!.entries).toEqual({ 'pool/min': 1, 'pool/max': 2 });
      expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await config.close();
      await store.close();
    }
  });
});
