import { randomUUID } from 'node:crypto';
import {
  type Clock,
  childLogger,
  type Logger,
  parseOptions,
  runBlockingQueryLoop,
  systemClock,
  type Unsubscribe,
} from '@ballast/core';
import { type ConsulKv, createConsulKv, type KvPair, type KvTxnOp } from '../consul-kv';
import { ConfigConflictError, RemoteUnavailableError } from '../errors';
import { type ConsulSourceOptions, consulSourceSchema } from '../options';
import type { CommitMeta, ConfigStore, StoreState, VersionRecord } from '../store';
import { decodeRemoteValue, deepEqual } from '../tree';

export interface ConsulConfigStoreOptions extends ConsulSourceOptions {
  /** The KV client; default `createConsulKv({ url, token })` over `fetch`. */
  kv?: ConsulKv;
  clock?: Clock;
  logger?: Logger;
}

/** Ballast's own keys inside the prefix: the version counter, the pointer to a staged version, staged versions. */
const META = '.ballast/';
const pad = (n: number) => String(n).padStart(10, '0');
/** How long a `read()` may be reused by the `commit` that follows it. */
const REUSE_READ_MS = 1_000;

/** `services/user-service` → `services/user-service/`; an empty prefix stays empty. */
export function normalizePrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

interface Parsed {
  /** The current version's entries: the staged version the pointer names, else the plain keys. */
  entries: Record<string, unknown>;
  /** The plain keys (one per leaf), what a commit diffs against. */
  leaf: Record<string, unknown>;
  version: number;
  /** ModifyIndex of the version key (0: absent), for the transaction's check-index. */
  versionIndex: number;
  /** The stage the pointer key names (`<version>-<id>`), if set. */
  pointer: string | undefined;
}

/**
 * Config in Consul KV under a prefix (seed 000: `services/{name}/`), one key per flattened leaf holding its JSON
 * value, so `consul kv get services/user-service/db/pool/max` reads `20` and a value written by hand is picked up.
 *
 * A commit is one `/v1/txn` (https://developer.hashicorp.com/consul/api-docs/txn): a `check-index` on
 * `<prefix>.ballast/version` at the index read (`check-not-exists` for the first), the new version number, every
 * changed key set and every removed key deleted, and the version record at `<historyPrefix>v/<N>`: all of it or
 * nothing, so a reader (one recursive GET of the prefix) sees one committed version, never a mix.
 *
 * Above the transaction's operation cap (`txnMaxOps`, default 64, the cap of older Consul releases; current
 * releases allow 128), the new version's keys are first written under `<prefix>.ballast/v/<N>/` (transactions that
 * each re-check the version key), then one transaction moves the version and sets `<prefix>.ballast/pointer` to N:
 * readers serve the staged keys while the pointer is set. The plain keys are then brought up to date, and a last
 * transaction removes the pointer and the staged keys (each step re-checks the version key, so a newer commit
 * stops it). While a pointer is set, keys written by hand are not seen until the next commit.
 */
export class ConsulConfigStore implements ConfigStore {
  readonly name: string;
  readonly prefix: string;
  readonly historyPrefix: string;
  readonly #kv: ConsulKv;
  readonly #options: ReturnType<typeof parseOptions<typeof consulSourceSchema>>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #lastRead: { pairs: KvPair[]; at: number } | undefined;

  constructor(options: ConsulConfigStoreOptions) {
    const { kv, clock, logger, ...rest } = options;
    this.#options = parseOptions(consulSourceSchema, rest, 'consulKv');
    this.prefix = normalizePrefix(this.#options.prefix);
    this.historyPrefix = normalizePrefix(this.#options.historyPrefix ?? `ballast/config-history/${this.prefix}`);
    this.name = this.#options.name ?? `consul:${this.prefix}`;
    const { url, token } = this.#options;
    this.#kv =
      kv ??
      createConsulKv({
        ...(url === undefined ? {} : { url }),
        ...(token === undefined ? {} : { token }),
        requestTimeoutMs: this.#options.requestTimeoutMs,
      });
    this.#clock = clock ?? systemClock;
    this.#log = childLogger(logger, { component: 'config-center', store: this.name });
  }

  get #versionKey() {
    return `${this.prefix}${META}version`;
  }
  get #pointerKey() {
    return `${this.prefix}${META}pointer`;
  }
  #stagePrefix(stage: string) {
    return `${this.prefix}${META}v/${stage}/`;
  }
  #historyKey(version: number) {
    return `${this.historyPrefix}v/${pad(version)}`;
  }

  #parse(pairs: readonly KvPair[]): Parsed {
    const leaf: Record<string, unknown> = {};
    const staged = new Map<string, Record<string, unknown>>();
    let version = 0;
    let versionIndex = 0;
    let pointer: string | undefined;
    const stageRoot = `${META}v/`;
    for (const p of pairs) {
      if (!p.key.startsWith(this.prefix)) continue;
      const key = p.key.slice(this.prefix.length);
      if (key === `${META}version`) {
        version = Number(p.value) || 0;
        versionIndex = p.modifyIndex;
      } else if (key === `${META}pointer`) {
        pointer = p.value || undefined;
      } else if (key.startsWith(stageRoot)) {
        const rest = key.slice(stageRoot.length);
        const slash = rest.indexOf('/');
        if (slash <= 0 || rest.endsWith('/')) continue;
        const v = rest.slice(0, slash);
        const bucket = staged.get(v) ?? {};
        staged.set(v, bucket);
        bucket[rest.slice(slash + 1)] = p.value === null ? null : decodeRemoteValue(p.value);
      } else if (key.startsWith(META) || key === '' || key.endsWith('/')) {
        // folders, our own keys
      } else {
        leaf[key] = p.value === null ? null : decodeRemoteValue(p.value);
      }
    }
    const fromPointer = pointer === undefined ? undefined : staged.get(pointer);
    return { entries: fromPointer ?? leaf, leaf, version, versionIndex, pointer };
  }

  async read(signal?: AbortSignal): Promise<StoreState> {
    const { pairs } = await this.#kv.list(this.prefix, signal ? { signal } : {});
    this.#lastRead = { pairs, at: this.#clock.monotonic() };
    const p = this.#parse(pairs);
    return { version: p.version, entries: p.entries };
  }

  /** The check on the version key every transaction of a commit starts with. */
  #guard(versionIndex: number): KvTxnOp {
    return versionIndex === 0
      ? { verb: 'check-not-exists', key: this.#versionKey }
      : { verb: 'check-index', key: this.#versionKey, index: versionIndex };
  }

  /** Runs one transaction; a failed guard (operation 0) is a lost check-and-set. */
  async #txn(ops: KvTxnOp[], expectedVersion: number): Promise<KvPair[]> {
    const result = await this.#kv.txn(ops);
    if (result.ok) return result.results;
    if (result.errors.some((e) => e.opIndex === 0))
      throw new ConfigConflictError(this.name, expectedVersion, undefined);
    throw new RemoteUnavailableError(
      this.name,
      `transaction rolled back: ${result.errors.map((e) => e.what).join('; ')}`,
    );
  }

  async commit(expectedVersion: number, entries: Record<string, unknown>, meta: CommitMeta): Promise<VersionRecord> {
    // One read gives the version key (value + ModifyIndex for the check) and the plain keys to diff against;
    // a `read()` just before (what `set` does) is reused: the transaction's check-index still guards the commit.
    const recent = this.#lastRead;
    this.#lastRead = undefined;
    const pairs =
      recent &&
      this.#clock.monotonic() - recent.at < REUSE_READ_MS &&
      this.#parse(recent.pairs).version === expectedVersion
        ? recent.pairs
        : (await this.#kv.list(this.prefix)).pairs;
    const current = this.#parse(pairs);
    if (current.version !== expectedVersion) throw new ConfigConflictError(this.name, expectedVersion, current.version);
    const version = expectedVersion + 1;
    const record: VersionRecord = { version, entries, at: meta.at };
    if (meta.rollbackOf !== undefined) record.rollbackOf = meta.rollbackOf;
    if (meta.message !== undefined) record.message = meta.message;

    const guard = this.#guard(current.versionIndex);
    const head: KvTxnOp[] = [
      guard,
      { verb: 'set', key: this.#versionKey, value: String(version) },
      { verb: 'set', key: this.#historyKey(version), value: JSON.stringify(record) },
    ];
    // The version that falls out of the kept window goes in the same transaction.
    if (version - this.#options.maxVersions >= 1) {
      head.push({ verb: 'delete', key: this.#historyKey(version - this.#options.maxVersions) });
    }
    if (current.pointer !== undefined) {
      head.push({ verb: 'delete', key: this.#pointerKey }, { verb: 'delete-tree', key: `${this.prefix}${META}v/` });
    }
    const changes = this.#diff(current.leaf, entries);
    const max = this.#options.txnMaxOps;
    if (head.length + changes.length <= max) {
      await this.#txn([...head, ...changes], expectedVersion);
      return record;
    }
    await this.#commitStaged(current, version, entries, head, expectedVersion);
    return record;
  }

  /** Sets for the keys `entries` changes or adds, deletes for the keys it drops, relative to `live`. */
  #diff(live: Record<string, unknown>, entries: Record<string, unknown>, base = this.prefix): KvTxnOp[] {
    const ops: KvTxnOp[] = [];
    for (const [key, value] of Object.entries(entries)) {
      if (!Object.hasOwn(live, key) || !deepEqual(live[key], value)) {
        ops.push({ verb: 'set', key: `${base}${key}`, value: JSON.stringify(value) });
      }
    }
    for (const key of Object.keys(live)) {
      if (!Object.hasOwn(entries, key)) ops.push({ verb: 'delete', key: `${base}${key}` });
    }
    return ops;
  }

  /** A commit above the operation cap: stage, switch the pointer, then fold the plain keys (see the class doc). */
  async #commitStaged(
    current: Parsed,
    version: number,
    entries: Record<string, unknown>,
    head: KvTxnOp[],
    expectedVersion: number,
  ): Promise<void> {
    const max = this.#options.txnMaxOps;
    // Each attempt stages under its own id: two writers racing for the same version never mix their keys.
    const id = `${pad(version)}-${randomUUID().slice(0, 8)}`;
    const stage = this.#stagePrefix(id);
    const guard = head[0]!;
    // 1. Stage, every chunk re-checking the version key.
    const staging: KvTxnOp[] = [
      ...Object.entries(entries).map(
        ([key, value]): KvTxnOp => ({ verb: 'set', key: `${stage}${key}`, value: JSON.stringify(value) }),
      ),
    ];
    try {
      for (let i = 0; i < staging.length; i += max - 1) {
        await this.#txn([guard, ...staging.slice(i, i + max - 1)], expectedVersion);
      }
    } catch (error) {
      // Lost (or failed): the stage is nobody's; removing it is housekeeping.
      await this.#kv.delete(stage, { recurse: true }).catch(() => {});
      throw error;
    }
    // 2. Switch: the version and the pointer in one transaction (the previous stage, if any, goes too).
    const switchOps = head.filter((op) => !(op.key === this.#pointerKey || op.verb === 'delete-tree'));
    switchOps.push({ verb: 'set', key: this.#pointerKey, value: id });
    if (current.pointer !== undefined) {
      switchOps.push({ verb: 'delete-tree', key: this.#stagePrefix(current.pointer) });
    }
    let results: KvPair[];
    try {
      results = await this.#txn(switchOps, expectedVersion);
    } catch (error) {
      await this.#kv.delete(stage, { recurse: true }).catch(() => {});
      throw error;
    }
    // The last result on the version key is the set (the first is the check-index's, at the old index).
    const versionIndex = results.findLast((r) => r.key === this.#versionKey)?.modifyIndex;
    if (versionIndex === undefined) return;
    // 3. Fold: the plain keys catch up, then the pointer and the stage go; a newer commit stops this (its check).
    try {
      const fold = this.#diff(current.leaf, entries);
      const check = this.#guard(versionIndex);
      for (let i = 0; i < fold.length; i += max - 1) {
        await this.#txn([check, ...fold.slice(i, i + max - 1)], version);
      }
      await this.#txn([check, { verb: 'delete', key: this.#pointerKey }, { verb: 'delete-tree', key: stage }], version);
    } catch (error) {
      if (!(error instanceof ConfigConflictError)) {
        this.#log.warn(
          { err: error, version },
          'folding a staged version into the plain keys failed; the pointer stays',
        );
      }
    }
  }

  async history(): Promise<VersionRecord[]> {
    const { pairs } = await this.#kv.list(`${this.historyPrefix}v/`);
    return pairs
      .filter((p) => p.value !== null)
      .map((p) => JSON.parse(p.value!) as VersionRecord)
      .sort((a, b) => b.version - a.version)
      .slice(0, this.#options.maxVersions);
  }

  async getVersion(version: number): Promise<VersionRecord | undefined> {
    const p = await this.#kv.get(this.#historyKey(version));
    return p?.value ? (JSON.parse(p.value) as VersionRecord) : undefined;
  }

  watch(listener: (state: StoreState) => void, onError: (error: unknown) => void): Unsubscribe {
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, this.#stop.signal]);
    let last: StoreState | undefined;
    // Core's one implementation of Consul's blocking-query rules (index clamp >= 1, reset when it goes backwards,
    // jittered back-off restarting from a non-blocking read, a request rate limit), shared with discovery.
    void runBlockingQueryLoop<KvPair[]>({
      signal,
      clock: this.#clock,
      backoff: { initialMs: 100, maxMs: this.#options.retryMaxMs, factor: 2, jitter: 'full' },
      rateLimit: this.#options.watchRateLimit,
      query: async (index, s) => {
        const r = await this.#kv.list(this.prefix, { index, waitMs: this.#options.waitMs, signal: s });
        return { index: r.index, value: r.pairs };
      },
      onValue: (pairs) => {
        const p = this.#parse(pairs);
        const state: StoreState = { version: p.version, entries: p.entries };
        if (last && last.version === state.version && deepEqual(last.entries, state.entries)) return;
        last = state;
        listener(state);
      },
      onError,
    });
    const off = () => stop.abort();
    return Object.assign(off, { dispose: off, [Symbol.dispose]: off });
  }

  async close(): Promise<void> {
    this.#stop.abort();
  }
}
