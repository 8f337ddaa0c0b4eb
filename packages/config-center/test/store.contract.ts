/**
 * The remote `ConfigStore` contract every backend (memory, Redis, Consul) must show, plus the behaviour of a
 * `Config` on top of it: check-and-set, versions, history/rollback, and propagation of a write to every watcher
 * of another config on the same remote.
 */
import { defineContract } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { createConfig, defaults, isConfigConflictError, isConfigValidationError, isUnknownVersionError } from '../src';
import type { RemoteSource } from '../src/sources';
import type { StoreState } from '../src/store';

export interface RemoteUnderTest {
  /** A new client (its own connection) on the namespace of this test; the contract closes what it opens. */
  open(): RemoteSource;
  /** What the backend keeps (`maxVersions` it was opened with). */
  maxVersions: number;
}

const schema = z.object({
  db: z.object({ pool: z.object({ max: z.number().int().positive() }), host: z.string() }),
  features: z.record(z.string(), z.boolean()).default({}),
  service: z.object({ degraded_mode: z.boolean().default(false) }).default({ degraded_mode: false }),
});

const at = () => ({ at: Date.now() });

/** Resolves with the first state `watch` delivers that satisfies `pred`. */
function nextState(source: RemoteSource, pred: (s: StoreState) => boolean): Promise<StoreState> {
  return new Promise((resolve, reject) => {
    const off = source.store.watch(
      (s) => {
        if (!pred(s)) return;
        off();
        resolve(s);
      },
      (e) => reject(e),
    );
  });
}

export const remoteContract = defineContract<RemoteUnderTest>('ConfigStore', (make) => {
  it('starts at version 0 with no entries; a commit makes version 1 readable by another client', async () => {
    const b = await make();
    const [a, other] = [b.open(), b.open()];
    expect(await a.store.read()).toEqual({ version: 0, entries: {} });
    const entries = { 'db/pool/max': 10, 'db/host': 'h', tags: ['a', 'b'], flag: true, none: null };
    const record = await a.store.commit(0, entries, { ...at(), message: 'first' });
    expect(record).toMatchObject({ version: 1, entries, message: 'first' });
    expect(await other.store.read()).toEqual({ version: 1, entries });
  });

  it('check-and-set: a commit based on a stale version fails and writes nothing', async () => {
    const b = await make();
    const a = b.open();
    await a.store.commit(0, { x: 1 }, at());
    const error = await a.store.commit(0, { x: 2 }, at()).catch((e: unknown) => e);
    expect(isConfigConflictError(error)).toBe(true);
    expect(await a.store.read()).toEqual({ version: 1, entries: { x: 1 } });
  });

  it('of concurrent commits on the same version exactly one wins', async () => {
    const b = await make();
    const clients = [b.open(), b.open(), b.open()];
    const results = await Promise.allSettled(clients.map((c, i) => c.store.commit(0, { winner: i }, at())));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(isConfigConflictError(r.reason)).toBe(true);
    const state = await clients[0]!.store.read();
    expect(state.version).toBe(1);
    expect(state.entries).toEqual((won[0] as PromiseFulfilledResult<{ entries: unknown }>).value.entries);
  });

  it('keeps the last maxVersions versions, newest first; older ones are gone', async () => {
    const b = await make();
    const a = b.open();
    const n = b.maxVersions + 2;
    for (let v = 0; v < n; v++) await a.store.commit(v, { v: v + 1 }, at());
    const history = await a.store.history();
    expect(history.map((r) => r.version)).toEqual(Array.from({ length: b.maxVersions }, (_, i) => n - i));
    expect(history[0]!.entries).toEqual({ v: n });
    expect(await a.store.getVersion(n)).toMatchObject({ version: n, entries: { v: n } });
    expect(await a.store.getVersion(1)).toBeUndefined();
  });

  it('watch delivers another client’s commit, deleted keys included', async () => {
    const b = await make();
    const [writer, watcher] = [b.open(), b.open()];
    await writer.store.commit(0, { a: 1, b: 2 }, at());
    const seen = nextState(watcher, (s) => s.version === 2);
    await (watcher.store as { subscribed?: () => Promise<void> }).subscribed?.();
    await writer.store.commit(1, { a: 3 }, at());
    expect(await seen).toEqual({ version: 2, entries: { a: 3 } });
  });

  it('config.set propagates to the watchers of another config; watch fires only for the changed path', async () => {
    const b = await make();
    const base = { db: { pool: { max: 10 }, host: 'localhost' } };
    const one = await createConfig({ schema, sources: [defaults(base), b.open()] });
    const two = await createConfig({ schema, sources: [defaults(base), b.open()] });
    try {
      const maxSeen: number[] = [];
      const hostSeen: string[] = [];
      const got = new Promise<number>((resolve) => two.watch('db.pool.max', (v) => resolve(v)));
      two.watch('db.pool.max', (v) => maxSeen.push(v));
      two.watch('db.host', (v) => hostSeen.push(v));
      const record = await one.set('db.pool.max', 42);
      expect(one.get('db.pool.max')).toBe(42);
      expect(await got).toBe(42);
      expect(two.get().db.pool.max).toBe(42);
      expect(two.version()).toBe(record.version);
      expect(maxSeen).toEqual([42]);
      expect(hostSeen).toEqual([]);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('a remote update that breaks the schema is rejected: last-known-good kept, error names the key', async () => {
    const b = await make();
    const config = await createConfig({
      schema,
      sources: [defaults({ db: { pool: { max: 10 }, host: 'h' } }), b.open()],
    });
    const raw = b.open();
    try {
      await config.set('db.pool.max', 20);
      const rejected = new Promise<Error>((resolve) => config.onError(resolve));
      const state = await raw.store.read();
      await raw.store.commit(state.version, { ...state.entries, 'db/pool/max': -5 }, at());
      const error = await rejected;
      expect(isConfigValidationError(error)).toBe(true);
      expect(error.message).toContain('db.pool.max');
      expect(config.get('db.pool.max')).toBe(20);
      // A later valid update is applied.
      const next = new Promise<number>((resolve) => config.watch('db.pool.max', resolve));
      await raw.store.commit(state.version + 1, { 'db/pool/max': 30 }, at());
      expect(await next).toBe(30);
    } finally {
      await config.close();
    }
  });

  it('set validates before writing: an invalid value throws and the remote is untouched', async () => {
    const b = await make();
    const config = await createConfig({
      schema,
      sources: [defaults({ db: { pool: { max: 10 }, host: 'h' } }), b.open()],
    });
    try {
      // @ts-expect-error a wrong type does not compile; cast away, the schema still refuses it at run time
      const error = await config.set('db.pool.max', 'many').catch((e: unknown) => e);
      expect(isConfigValidationError(error)).toBe(true);
      expect((await b.open().store.read()).version).toBe(0);
    } finally {
      await config.close();
    }
  });

  it('history and rollback: every write is a version and rollback is a new one', async () => {
    const b = await make();
    const config = await createConfig({
      schema,
      sources: [defaults({ db: { pool: { max: 10 }, host: 'h' } }), b.open()],
    });
    try {
      const v1 = await config.set('db.pool.max', 11);
      await config.set('db.pool.max', 12);
      await config.set('db.host', 'db2');
      expect(config.get().db).toEqual({ pool: { max: 12 }, host: 'db2' });
      const back = await config.rollback(v1.version, { message: 'bad deploy' });
      expect(back).toMatchObject({ version: 4, rollbackOf: v1.version, message: 'bad deploy' });
      expect(config.get().db).toEqual({ pool: { max: 11 }, host: 'h' });
      const history = await config.history();
      expect(history.map((r) => r.version)).toEqual([4, 3, 2, 1]);
      expect(history[0]!.entries).toEqual(v1.entries);
      expect(isUnknownVersionError(await config.rollback(99).catch((e: unknown) => e))).toBe(true);
    } finally {
      await config.close();
    }
  });

  it('set with expectedVersion fails on a moved remote; without it, it retries onto the latest', async () => {
    const b = await make();
    const config = await createConfig({
      schema,
      sources: [defaults({ db: { pool: { max: 10 }, host: 'h' } }), b.open()],
    });
    const other = b.open();
    try {
      await config.set('db.pool.max', 11);
      await other.store.commit(1, { 'db/pool/max': 11, 'db/host': 'elsewhere' }, at());
      const error = await config.set('db.pool.max', 12, { expectedVersion: 1 }).catch((e: unknown) => e);
      expect(isConfigConflictError(error)).toBe(true);
      const record = await config.set('db.pool.max', 13);
      expect(record.version).toBe(3);
      expect(record.entries).toEqual({ 'db/pool/max': 13, 'db/host': 'elsewhere' });
    } finally {
      await config.close();
    }
  });

  it('the degraded-mode switch and feature flags travel through the remote', async () => {
    const b = await make();
    const base = { db: { pool: { max: 10 }, host: 'h' } };
    const checker = await createConfig({ schema, sources: [defaults(base), b.open()] });
    const service = await createConfig({ schema, sources: [defaults(base), b.open()] });
    try {
      expect(service.degraded).toBe(false);
      const flipped = new Promise<boolean>((resolve) => service.watch('service.degraded_mode', resolve));
      await checker.setDegraded(true, 'redis unhealthy');
      expect(await flipped).toBe(true);
      expect(service.degraded).toBe(true);
      expect((await checker.history())[0]!.message).toBe('redis unhealthy');
      const flag = new Promise<boolean>((resolve) => service.watch('features', (f) => resolve(f.beta === true)));
      await checker.set('features.beta', true);
      expect(await flag).toBe(true);
      expect(service.isEnabled('beta')).toBe(true);
      expect(service.isEnabled('other')).toBe(false);
    } finally {
      await checker.close();
      await service.close();
    }
  });
});
