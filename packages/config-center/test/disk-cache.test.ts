/**
 * The disk cache with two remote layers, one of them down: updates of the healthy one are saved without
 * dropping the down one's last-known-good state, so the next start still finds it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, EventEmitter } from '@ballast/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { type ConfigStore, createConfig, defaults, MemoryConfigStore, remote } from '../src';
import { readCache } from '../src/cache';

const silent = createLogger({ level: 'silent' });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballast-config-cache-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const schema = z.object({ a: z.number(), b: z.number() });

/** A remote that cannot be read: every call fails as a network error would. */
function downStore(name: string): ConfigStore {
  const fail = async (): Promise<never> => {
    throw new Error(`${name}: connect ECONNREFUSED`);
  };
  return {
    name,
    read: fail,
    commit: fail,
    history: fail,
    getVersion: fail,
    watch: () => new EventEmitter<never>('down').event(() => {}),
    close: async () => {},
  };
}

it('an update of a healthy remote keeps a down remote’s cached state in the file', async () => {
  const cacheFile = join(dir, 'two-remotes.json');
  const storeA = new MemoryConfigStore({ initial: { a: 1 } });
  const storeB = new MemoryConfigStore({ initial: { b: 2 } });
  const sources = (b: ConfigStore) => [defaults({ a: 0, b: 0 }), remote(storeA, 'A'), remote(b, 'B')];

  // Both up: the cache holds both.
  const first = await createConfig({ schema, logger: silent, cacheFile, sources: sources(storeB) });
  expect(first.get('b')).toBe(2);
  await first.close();

  // B down: served from the cache; then A changes, and the cache is written again.
  const second = await createConfig({ schema, logger: silent, cacheFile, sources: sources(downStore('B')) });
  second.onError(() => {});
  expect([second.stale, second.get('b')]).toEqual([true, 2]);
  const updated = new Promise<void>((r) => second.watch('a', () => r()));
  await storeA.commit(1, { a: 10 }, { at: Date.now() });
  await updated;
  await second.close();
  const saved = await readCache(cacheFile);
  expect(saved?.remotes.A?.entries).toEqual({ a: 10 });
  expect(saved?.remotes.B?.entries).toEqual({ b: 2 });

  // B still down at the next start: its last-known-good state is still there.
  const third = await createConfig({ schema, logger: silent, cacheFile, sources: sources(downStore('B')) });
  third.onError(() => {});
  expect([third.get('a'), third.get('b')]).toEqual([10, 2]);
  await third.close();
});
