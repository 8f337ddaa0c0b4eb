/**
 * The disk cache encrypted with a user key (issue 22 §2): `cache: { key }` writes AES-256-GCM, so the file holds no
 * config value in clear; the same key reads it back (a restart with the remote down starts from it); a wrong or
 * missing key, or a tampered file, is no cache at all (logged) — never garbage served as config.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@ballast/core';
import { unreachablePort } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { consulKv, createConfig, defaults, MemoryConfigStore, memoryStore } from '../src';
import { readCache, writeCache } from '../src/cache';

const silent = createLogger({ level: 'silent' });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballast-config-enc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const key = 'correct horse battery staple';
const content = { savedAt: 1, remotes: { consul: { version: 3, entries: { 'db/password': 's3cret-value' } } } };

describe('disk cache encryption (cache.key)', () => {
  it('writes no value in clear and reads back with the same key only', async () => {
    const file = join(dir, 'enc.json');
    await writeCache(file, content, { key });
    const raw = await readFile(file, 'utf8');
    expect(raw).not.toContain('s3cret-value');
    expect(raw).not.toContain('db/password');
    expect(JSON.parse(raw)).toMatchObject({ alg: 'aes-256-gcm' });
    expect(await readCache(file, { key })).toEqual(content);
    expect(await readCache(file, { key: 'another key' })).toBeUndefined();
    expect(await readCache(file)).toBeUndefined();
  });

  it('a tampered file is refused (GCM authentication), and so is a clear file when a key is set', async () => {
    const file = join(dir, 'tampered.json');
    await writeCache(file, content, { key });
    const doc = JSON.parse(await readFile(file, 'utf8')) as { data: string };
    const bytes = Buffer.from(doc.data, 'base64');
    bytes[0] = (bytes[0] as number) ^ 1;
    await writeFile(file, JSON.stringify({ ...doc, data: bytes.toString('base64') }));
    expect(await readCache(file, { key })).toBeUndefined();
    const clear = join(dir, 'clear.json');
    await writeCache(clear, content);
    expect(await readCache(clear, { key })).toBeUndefined();
  });

  it('createConfig with cache.key: the file is encrypted and a restart with the remote down starts from it', async () => {
    const cacheFile = join(dir, 'config.json');
    const schema = z.object({ db: z.object({ password: z.string() }) });
    const store = new MemoryConfigStore();
    await store.commit(0, { 'db/password': 'from-remote' }, { at: 1 });
    const first = await createConfig({
      schema,
      logger: silent,
      cacheFile,
      cache: { key },
      sources: [defaults({ db: { password: 'default' } }), memoryStore({ store })],
    });
    await first.close();
    await expect.poll(async () => readCache(cacheFile, { key })).toBeDefined();
    expect(await readFile(cacheFile, 'utf8')).not.toContain('from-remote');
    const port = await unreachablePort();
    const second = await createConfig({
      schema,
      logger: silent,
      cacheFile,
      cache: { key },
      startupTimeoutMs: 2_000,
      sources: [
        defaults({ db: { password: 'default' } }),
        consulKv({ url: `http://127.0.0.1:${port}`, prefix: 'enc/', name: 'memory', retryMaxMs: 60_000 }),
      ],
    });
    try {
      expect(second.stale).toBe(true);
      expect(second.get('db.password')).toBe('from-remote');
    } finally {
      await second.close();
    }
  });

  it('a key that is empty is refused at creation, naming cache.key', async () => {
    await expect(
      createConfig({
        schema: z.object({}),
        logger: silent,
        cacheFile: join(dir, 'x.json'),
        cache: { key: '' },
        sources: [],
      }),
    ).rejects.toThrow(/cache\.key/);
  });
});
