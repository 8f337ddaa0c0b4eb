import {
  type Backoff,
  type Clock,
  childLogger,
  createBackoff,
  type Logger,
  parseOptions,
  sleep,
  systemClock,
  type Unsubscribe,
} from '@ballast/core';
import { type ConsulKv, createConsulKv, type KvPair } from '../consul-kv';
import { ConfigConflictError } from '../errors';
import { type ConsulSourceOptions, consulSourceSchema } from '../options';
import type { CommitMeta, ConfigStore, StoreState, VersionRecord } from '../store';
import { decodeRemoteValue, deepEqual } from '../tree';

export interface ConsulConfigStoreOptions extends ConsulSourceOptions {
  /** The KV client; default `createConsulKv({ url, token })` over `fetch`. */
  kv?: ConsulKv;
  clock?: Clock;
  logger?: Logger;
}

/** Ballast's own keys inside the prefix: the claimed version counter and the last fully applied version. */
const META = '.ballast/';
const pad = (n: number) => String(n).padStart(10, '0');
/** How long a `read()` may be reused by the `commit` that follows it. */
const REUSE_READ_MS = 1_000;

/** `services/user-service` → `services/user-service/`; an empty prefix stays empty. */
export function normalizePrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

interface Parsed {
  entries: Record<string, unknown>;
  claimed: number;
  applied: number;
}

/**
 * Config in Consul KV under a prefix (seed 000: `services/{name}/`), one key per flattened leaf holding its JSON
 * value, so `consul kv get services/user-service/db/pool/max` reads `20` and a value written by hand is picked up.
 *
 * Versions: a commit claims version N+1 with a check-and-set on `<prefix>.ballast/version`, records the full
 * entries at `<historyPrefix>v/<N+1>` (the last `maxVersions` kept), writes the changed keys (deletes the removed
 * ones), and finally sets `<prefix>.ballast/applied` to N+1. Watchers use Consul blocking queries on the prefix
 * (seed 000's 30 s wait, Consul's index rules) and skip the in-between states of a commit (claimed > applied), so
 * a multi-key write arrives as one update.
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
  #trimming: Promise<void> = Promise.resolve();

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
  get #appliedKey() {
    return `${this.prefix}${META}applied`;
  }

  #parse(pairs: readonly KvPair[]): Parsed {
    const entries: Record<string, unknown> = {};
    let claimed = 0;
    let applied = 0;
    let marker = 0;
    for (const p of pairs) {
      if (!p.key.startsWith(this.prefix)) continue;
      const key = p.key.slice(this.prefix.length);
      if (key === `${META}version`) claimed = Number(p.value) || 0;
      else if (key === `${META}applied`) applied = Number(p.value) || 0;
      else if (key.startsWith(META) || key === '' || key.endsWith('/'))
        continue; // folders, our own keys
      else {
        entries[key] = p.value === null ? null : decodeRemoteValue(p.value);
        // A single-key commit marks its key with its version (Flags) instead of writing the applied marker.
        if (p.flags > marker) marker = p.flags;
      }
    }
    return { entries, claimed, applied: Math.max(applied, marker) };
  }

  async read(signal?: AbortSignal): Promise<StoreState> {
    const { pairs } = await this.#kv.list(this.prefix, signal ? { signal } : {});
    this.#lastRead = { pairs, at: this.#clock.monotonic() };
    const p = this.#parse(pairs);
    return { version: p.claimed, entries: p.entries };
  }

  async commit(expectedVersion: number, entries: Record<string, unknown>, meta: CommitMeta): Promise<VersionRecord> {
    // One read gives the counter (value + ModifyIndex for the check-and-set) and the live keys to diff against;
    // a `read()` just before (what `set` does) is reused: the check-and-set on the counter still guards the claim.
    const recent = this.#lastRead;
    this.#lastRead = undefined;
    const pairs =
      recent &&
      this.#clock.monotonic() - recent.at < REUSE_READ_MS &&
      this.#parse(recent.pairs).claimed === expectedVersion
        ? recent.pairs
        : (await this.#kv.list(this.prefix)).pairs;
    const counter = pairs.find((p) => p.key === this.#versionKey);
    const { entries: live, claimed: current } = this.#parse(pairs);
    if (current !== expectedVersion) throw new ConfigConflictError(this.name, expectedVersion, current);
    const version = expectedVersion + 1;
    // The claim: only one writer moves the counter from the index it read.
    if (!(await this.#kv.put(this.#versionKey, String(version), { cas: counter?.modifyIndex ?? 0 }))) {
      throw new ConfigConflictError(this.name, expectedVersion, undefined);
    }
    const record: VersionRecord = { version, entries, at: meta.at };
    if (meta.rollbackOf !== undefined) record.rollbackOf = meta.rollbackOf;
    if (meta.message !== undefined) record.message = meta.message;
    const changed = Object.entries(entries).filter(
      ([key, value]) => !Object.hasOwn(live, key) || !deepEqual(live[key], value),
    );
    const removed = Object.keys(live).filter((key) => !Object.hasOwn(entries, key));
    const writes: Promise<boolean>[] = [this.#kv.put(`${this.historyPrefix}v/${pad(version)}`, JSON.stringify(record))];
    if (changed.length === 1 && removed.length === 0) {
      // One key: its own PUT is atomic, and its Flags carry the version, so no separate applied marker is needed.
      const [key, value] = changed[0]!;
      writes.push(this.#kv.put(`${this.prefix}${key}`, JSON.stringify(value), { flags: version }));
      await Promise.all(writes);
    } else {
      for (const [key, value] of changed) {
        writes.push(this.#kv.put(`${this.prefix}${key}`, JSON.stringify(value), { flags: 0 }));
      }
      for (const key of removed) writes.push(this.#kv.delete(`${this.prefix}${key}`));
      await Promise.all(writes);
      await this.#kv.put(this.#appliedKey, String(version));
    }
    // Trimming old versions is housekeeping: off the write's path.
    this.#trimming = this.#trimming
      .then(() => this.#trim(version))
      .catch((error: unknown) => this.#log.warn({ err: error }, 'trimming old versions failed'));
    return record;
  }

  async #trim(version: number): Promise<void> {
    const oldest = version - this.#options.maxVersions;
    if (oldest < 1) return;
    const keys = await this.#kv.keys(`${this.historyPrefix}v/`);
    const stale = keys.filter((k) => Number(k.slice(`${this.historyPrefix}v/`.length)) <= oldest);
    await Promise.all(stale.map((k) => this.#kv.delete(k)));
  }

  async history(): Promise<VersionRecord[]> {
    await this.#trimming;
    const { pairs } = await this.#kv.list(`${this.historyPrefix}v/`);
    return pairs
      .filter((p) => p.value !== null)
      .map((p) => JSON.parse(p.value!) as VersionRecord)
      .sort((a, b) => b.version - a.version)
      .slice(0, this.#options.maxVersions);
  }

  async getVersion(version: number): Promise<VersionRecord | undefined> {
    await this.#trimming;
    const p = await this.#kv.get(`${this.historyPrefix}v/${pad(version)}`);
    return p?.value ? (JSON.parse(p.value) as VersionRecord) : undefined;
  }

  watch(listener: (state: StoreState) => void, onError: (error: unknown) => void): Unsubscribe {
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, this.#stop.signal]);
    const backoff = createBackoff({ initialMs: 100, maxMs: this.#options.retryMaxMs, jitter: 'full' });
    void this.#loop(listener, onError, signal, backoff);
    const off = () => stop.abort();
    return Object.assign(off, { dispose: off, [Symbol.dispose]: off });
  }

  /** The blocking-query loop; never throws (errors go to `onError`, then a jittered, growing pause). */
  async #loop(
    listener: (state: StoreState) => void,
    onError: (error: unknown) => void,
    signal: AbortSignal,
    backoff: Backoff,
  ): Promise<void> {
    let index = 0;
    let last: StoreState | undefined;
    while (!signal.aborted) {
      let result: { index: number; pairs: KvPair[] };
      try {
        result = await this.#kv.list(this.prefix, { index, waitMs: this.#options.waitMs, signal });
        backoff.reset();
      } catch (error) {
        if (signal.aborted) return;
        onError(error);
        // Consul's rule: after an error, start over from index 0 (a restarted agent may be behind).
        index = 0;
        await sleep(this.#clock, backoff.next(), signal).catch(() => {});
        continue;
      }
      // Consul's index rules: an index that goes backwards resets to 0; otherwise it is the next `?index=`.
      const changed = result.index !== index;
      index = result.index < index ? 0 : result.index;
      const p = this.#parse(result.pairs);
      // A commit in flight (claimed, not yet applied): its last write wakes us again. A claim that never
      // completes (a writer died) is served once a wait passes with no change.
      if (p.claimed > p.applied && changed && index !== 0) continue;
      const state: StoreState = { version: p.claimed, entries: p.entries };
      if (last && last.version === state.version && deepEqual(last.entries, state.entries)) continue;
      last = state;
      try {
        listener(state);
      } catch (error) {
        onError(error);
      }
    }
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await this.#trimming;
  }
}
