import {
  childLogger,
  defineScript,
  duplicateClient,
  guardRedis,
  isBallastError,
  type Logger,
  type RedisClient,
  runScript,
  toBackendError,
  type Unsubscribe,
  watchConnection,
} from '@ballast/core';
import { ConfigConflictError, RemoteUnavailableError } from '../errors';
import { configKeys } from '../keys';
import commitSource from '../lua/commit.lua';
import readSource from '../lua/read.lua';
import type { CommitMeta, ConfigStore, StoreState, VersionRecord } from '../store';
import { decodeRemoteValue } from '../tree';

const COMMIT = defineScript('config:commit', commitSource);
const READ = defineScript('config:read', readSource);

export interface RedisConfigStoreOptions {
  redis: RedisClient;
  /** The config's name (usually the service): the `{hash tag}` of its keys. */
  name: string;
  /** First segment of every key. Default `ballast`. */
  prefix?: string;
  /** A connection for SUBSCRIBE; default `redis.duplicate()` on the first `watch`, closed by `close()`. */
  subscriber?: RedisClient;
  /** Versions kept (seed 002: `max_versions: 10`). */
  maxVersions?: number;
  logger?: Logger;
  /** Each command's bound (core's `guardRedis`): past it, `BackendUnavailableError`. Default 5 s. */
  commandTimeoutMs?: number;
}

/**
 * Config in a Redis hash (`<prefix>:config:{name}:live`, field = seed 000's flattened key, value = JSON), with
 * a version counter, a hash of the last `maxVersions` versions, and a pub/sub channel every commit publishes on.
 * A commit is one Lua script: check-and-set on the version, replace the live hash, record, trim, publish.
 */
export class RedisConfigStore implements ConfigStore {
  readonly name: string;
  readonly #redis: RedisClient;
  readonly #keys: ReturnType<typeof configKeys>;
  readonly #maxVersions: number;
  readonly #log: Logger;
  #sub: RedisClient | undefined;
  readonly #ownsSub: boolean;
  readonly #listeners = new Set<{ listener: (s: StoreState) => void; onError: (e: unknown) => void }>();
  #subscribed: Promise<unknown> | undefined;
  #reading = false;
  #dirty = false;
  #lastVersion = -1;
  #closed = false;
  #unwatch: (() => void) | undefined;

  constructor(options: RedisConfigStoreOptions) {
    this.#redis = guardRedis(options.redis, { commandTimeoutMs: options.commandTimeoutMs });
    this.#keys = configKeys(options.prefix ?? 'ballast', options.name);
    this.#maxVersions = options.maxVersions ?? 10;
    this.#sub = options.subscriber;
    this.#ownsSub = options.subscriber === undefined;
    this.name = `redis:${this.#keys.live}`;
    this.#log = childLogger(options.logger, { component: 'config-center', store: this.name });
  }

  /** The keys this store uses (for operators and tests). */
  get keys(): Readonly<ReturnType<typeof configKeys>> {
    return this.#keys;
  }

  async read(): Promise<StoreState> {
    let reply: [number, string[]];
    try {
      reply = await runScript<[number, string[]]>(this.#redis, READ, [this.#keys.live, this.#keys.version]);
    } catch (error) {
      // An outage is core's BackendUnavailableError (guardRedis raises it; a raw client's failure is turned into it);
      // anything else (a refused command) keeps naming this store.
      const typed = toBackendError(error, 'redis', `${this.name} read`);
      if (typed !== error || isBallastError(error)) throw typed;
      throw new RemoteUnavailableError(this.name, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
    const [version, flat] = reply;
    const entries: Record<string, unknown> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) entries[flat[i]!] = decodeRemoteValue(flat[i + 1]!);
    return { version: Number(version), entries };
  }

  async commit(expectedVersion: number, entries: Record<string, unknown>, meta: CommitMeta): Promise<VersionRecord> {
    const record: VersionRecord = { version: expectedVersion + 1, entries, at: meta.at };
    if (meta.rollbackOf !== undefined) record.rollbackOf = meta.rollbackOf;
    if (meta.message !== undefined) record.message = meta.message;
    const args: string[] = [
      String(expectedVersion),
      String(this.#maxVersions),
      JSON.stringify(record),
      this.#keys.changed,
    ];
    for (const [k, v] of Object.entries(entries)) args.push(k, JSON.stringify(v));
    const [version, current] = await runScript<[number, number]>(
      this.#redis,
      COMMIT,
      [this.#keys.live, this.#keys.version, this.#keys.versions],
      args,
    );
    if (version < 0) throw new ConfigConflictError(this.name, expectedVersion, current);
    return record;
  }

  async history(): Promise<VersionRecord[]> {
    const all = await this.#redis.hvals(this.#keys.versions);
    return all.map((r) => JSON.parse(r) as VersionRecord).sort((a, b) => b.version - a.version);
  }

  async getVersion(version: number): Promise<VersionRecord | undefined> {
    const r = await this.#redis.hget(this.#keys.versions, String(version));
    return r === null ? undefined : (JSON.parse(r) as VersionRecord);
  }

  watch(listener: (state: StoreState) => void, onError: (error: unknown) => void): Unsubscribe {
    const entry = { listener, onError };
    this.#listeners.add(entry);
    this.#ensureSubscribed();
    const off = () => void this.#listeners.delete(entry);
    return Object.assign(off, { dispose: off, [Symbol.dispose]: off });
  }

  /** Resolves once the change channel is subscribed (a commit published before that is not seen). */
  async subscribed(): Promise<void> {
    await this.#subscribed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unwatch?.();
    this.#sub?.on('error', () => {});
    this.#listeners.clear();
    if (this.#sub && this.#ownsSub) this.#sub.disconnect();
    else await this.#sub?.unsubscribe(this.#keys.changed).catch(() => {});
  }

  #ensureSubscribed(): void {
    if (this.#subscribed) return;
    if (!this.#sub) {
      this.#sub = duplicateClient(this.#redis, 'subscriber');
    }
    const sub = this.#sub;
    // One warning per outage, not one per reconnection attempt; after close() the connection is torn down on
    // purpose (possibly mid-handshake): nothing to warn about.
    this.#unwatch = watchConnection(sub, { logger: this.#log, backend: 'redis', connection: 'config subscriber' });
    sub.on('message', (channel: string) => {
      if (channel === this.#keys.changed) this.#refresh();
    });
    // After a reconnect (ioredis re-subscribes), re-read: a commit published while disconnected was lost. (The
    // first 'ready' may be the initial connection or already past: a read too many is harmless.)
    sub.on('ready', () => this.#refresh());
    this.#subscribed = sub.subscribe(this.#keys.changed).then(
      // A commit between the caller's first read and the SUBSCRIBE is not lost: read once more.
      () => this.#refresh(),
      (error: unknown) => {
        for (const l of this.#listeners) l.onError(error);
      },
    );
  }

  /** Reads and emits; calls that arrive during a read coalesce into one more read after it. */
  #refresh(): void {
    if (this.#closed) return;
    if (this.#reading) {
      this.#dirty = true;
      return;
    }
    this.#reading = true;
    this.read()
      .then((state) => {
        if (state.version !== this.#lastVersion) {
          this.#lastVersion = state.version;
          for (const l of [...this.#listeners]) l.listener(state);
        }
      })
      .catch((error: unknown) => {
        for (const l of [...this.#listeners]) l.onError(error);
      })
      .finally(() => {
        this.#reading = false;
        if (this.#dirty) {
          this.#dirty = false;
          this.#refresh();
        }
      });
  }
}
