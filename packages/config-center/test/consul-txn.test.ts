/**
 * Atomic commits on Consul (issue 22 §1): every commit is one `/v1/txn` (check-index on the version key + every
 * set/delete, https://developer.hashicorp.com/consul/api-docs/txn), or above the operation cap a staged version
 * switched by one pointer key. Concurrent writers and readers never observe a state nobody committed.
 * Runs on the testkit's Consul emulator, and on a real Consul when CONSUL_HTTP_ADDR is set.
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '@ballast/core';
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConsulConfigStore,
  consulKv,
  createConfig,
  createConsulKv,
  defaults,
  isConfigConflictError,
  pushToConsul,
} from '../src';
import type { StoreState } from '../src/store';

const run = randomUUID().slice(0, 8);
const silent = createLogger({ level: 'silent' });
let emulator: ConsulEmulator;
beforeAll(async () => {
  emulator = await startConsulEmulator({ port: 0 });
});
afterAll(async () => {
  await emulator?.close();
});

let n = 0;
const at = () => ({ at: Date.now() });

/** A committed state of these tests: every key holds the same round number. */
function torn(entries: Record<string, unknown>, keys: readonly string[]): string | undefined {
  const values = new Set(keys.map((k) => JSON.stringify(entries[k])));
  return values.size > 1 ? JSON.stringify(entries) : undefined;
}

/** Commits `{ k: round }` for every key, retrying on conflicts, until `rounds` commits of its own went through. */
async function writer(store: ConsulConfigStore, keys: readonly string[], base: number, rounds: number) {
  for (let done = 0; done < rounds; ) {
    const state = await store.read();
    const entries = Object.fromEntries(keys.map((k) => [k, base + done]));
    try {
      await store.commit(state.version, entries, at());
      done++;
    } catch (error) {
      if (!isConfigConflictError(error)) throw error;
    }
  }
}

function suite(label: string, url: () => string, token?: string) {
  const open: ConsulConfigStore[] = [];
  const store = (prefix: string, extra: { txnMaxOps?: number } = {}) => {
    const s = new ConsulConfigStore({ url: url(), prefix, maxVersions: 100, ...(token ? { token } : {}), ...extra });
    open.push(s);
    return s;
  };
  afterAll(async () => {
    for (const s of open) await s.close();
    const kv = createConsulKv({ url: url(), ...(token ? { token } : {}) });
    await kv.delete(`ballast-test/${run}/`, { recurse: true });
    await kv.delete(`ballast/config-history/ballast-test/${run}/`, { recurse: true });
  });

  async function race(keys: readonly string[], options: { txnMaxOps?: number; rounds: number }) {
    const prefix = `ballast-test/${run}/${label.replace(/\W/g, '')}-${n++}/`;
    const extra = options.txnMaxOps === undefined ? {} : { txnMaxOps: options.txnMaxOps };
    const w1 = store(prefix, extra);
    const w2 = store(prefix, extra);
    const reader = store(prefix, extra);
    const seen: string[] = [];
    let states = 0;
    const watched: StoreState[] = [];
    const off = reader.watch(
      (s) => void watched.push(s),
      () => {},
    );
    let writing = true;
    const readLoop = async () => {
      while (writing) {
        const s = await reader.read();
        states++;
        const bad = torn(s.entries, keys);
        if (bad) seen.push(`read v${s.version}: ${bad}`);
      }
    };
    const readers = [readLoop(), readLoop()];
    await Promise.all([writer(w1, keys, 1_000, options.rounds), writer(w2, keys, 2_000, options.rounds)]);
    writing = false;
    await Promise.all(readers);
    off();
    for (const s of watched) {
      const bad = torn(s.entries, keys);
      if (bad) seen.push(`watch v${s.version}: ${bad}`);
    }
    // History holds exactly what was committed: a rollback can only restore a committed state.
    const history = await reader.history();
    for (const r of history) {
      const bad = torn(r.entries, keys);
      if (bad) seen.push(`history v${r.version}: ${bad}`);
    }
    expect(seen).toEqual([]);
    expect(states).toBeGreaterThan(0);
    const last = await reader.read();
    expect(last.version).toBe(options.rounds * 2);
    expect(history.map((r) => r.version)).toEqual(
      Array.from({ length: options.rounds * 2 }, (_, i) => options.rounds * 2 - i),
    );
    return { prefix, reader, last };
  }

  describe(`atomic commits (${label})`, () => {
    it('two writers and two readers on a multi-key config: no read, watch update or history record is torn', async () => {
      await race(['pool/min', 'pool/max', 'pool/idle'], { rounds: 15 });
    }, 60_000);

    it('above the operation cap: the version is staged under its own prefix and switched by one pointer key', async () => {
      const keys = Array.from({ length: 20 }, (_, i) => `k/${String(i).padStart(2, '0')}`);
      const { prefix, last } = await race(keys, { txnMaxOps: 8, rounds: 6 });
      // The plain layout (one key per leaf, `consul kv get <prefix>k/00`) is restored once the pointer is folded.
      const kv = createConsulKv({ url: url(), ...(token ? { token } : {}) });
      const leaf = await kv.get(`${prefix}k/00`);
      expect(leaf?.value).toBe(JSON.stringify(last.entries['k/00']));
      expect(await kv.get(`${prefix}.ballast/pointer`)).toBeUndefined();
      expect(await kv.keys(`${prefix}.ballast/v/`)).toEqual([]);
    }, 60_000);

    it('a reader starting mid-commit never fails validation (pool.min <= pool.max)', async () => {
      const prefix = `ballast-test/${run}/start-${n++}/`;
      const schema = z
        .object({ pool: z.object({ min: z.number(), max: z.number() }) })
        .refine((c) => c.pool.min <= c.pool.max, { message: 'pool.min must be <= pool.max', path: ['pool', 'min'] });
      const w = store(prefix);
      await w.commit(0, { 'pool/min': 1, 'pool/max': 1 }, at());
      let writing = true;
      const writes = (async () => {
        // Moves the range up: each commit raises min above the previous max, so a half-applied one is invalid.
        for (let i = 1; i <= 20; i++) {
          const s = await w.read();
          await w.commit(s.version, { 'pool/min': i * 10, 'pool/max': i * 10 + 5 }, at());
        }
        writing = false;
      })();
      let starts = 0;
      while (writing) {
        const config = await createConfig({
          schema,
          logger: silent,
          sources: [defaults({}), consulKv({ url: url(), prefix, ...(token ? { token } : {}) })],
        });
        starts++;
        await config.close();
      }
      await writes;
      expect(starts).toBeGreaterThan(0);
    }, 60_000);

    it('pushToConsul commits a version (history, one transaction) instead of plain PUTs', async () => {
      const prefix = `ballast-test/${run}/push-${n++}/`;
      const s = store(prefix);
      await s.commit(0, { a: 1, keep: 'x' }, at());
      const keys = await pushToConsul(prefix, { a: 2, b: { c: true } }, { url: url(), ...(token ? { token } : {}) });
      expect(keys.sort()).toEqual([`${prefix}a`, `${prefix}b/c`]);
      expect(await s.read()).toEqual({ version: 2, entries: { a: 2, keep: 'x', 'b/c': true } });
      expect((await s.getVersion(2))?.entries).toEqual({ a: 2, keep: 'x', 'b/c': true });
    });
  });
}

suite('emulator', () => emulator.url);

const realAddr = process.env.CONSUL_HTTP_ADDR;
describe.skipIf(!realAddr)('real Consul (runs only when CONSUL_HTTP_ADDR is set)', () => {
  suite('real consul', () => realAddr!, process.env.CONSUL_HTTP_TOKEN);
});

describe('the emulator with the older 64-operation cap', () => {
  it('a 100-key commit goes through (staged + pointer), readable as one version', async () => {
    const old = await startConsulEmulator({ port: 0, maxTxnOps: 64 });
    const s = new ConsulConfigStore({ url: old.url, prefix: 'big/' });
    try {
      const entries = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
      await s.commit(0, entries, at());
      expect(await s.read()).toEqual({ version: 1, entries });
      expect(old.requests().filter((r) => r.path === '/v1/txn').length).toBeGreaterThan(1);
    } finally {
      await s.close();
      await old.close();
    }
  });
});
