// The Config class: the live snapshot of the merged layers, validate-then-swap on every update (file reload,
// remote watch, write), typed reads, feature flags and degraded mode. Writes, watchers and the remote layers'
// startup and disk cache live in their own files; this one wires them together.
import {
  type Clock,
  childLogger,
  EventEmitter,
  type Logger,
  parseOptions,
  systemClock,
  type Unsubscribe,
} from '@ballast/core';
import type { z } from 'zod';
import { readCache } from './cache';
import { ConfigValidationError, RemoteResetError, UnknownVersionError } from './errors';
import { watchFile } from './file-watch';
import { loadFileLayer } from './layers';
import { configInstruments } from './metrics';
import { type ConfigOptions, configOptionsSchema } from './options';
import type { ConfigPath, ConfigValue, DeepReadonly } from './paths';
import { CacheWriter, findRemoteLayer, loadRemoteLayer, remoteVersions } from './remote-layer';
import { type Built, buildSnapshot, type Layer } from './snapshot';
import { LAYER_RANK, memoryStore, type RemoteSource, type Source } from './sources';
import type { StoreState, VersionRecord } from './store';
import { deepEqual, flatten, getPath, isPlainObject, type Tree, toRemoteKey, unflatten } from './tree';
import { type ConfigChange, Watchers } from './watchers';
import { CommitWaiters, type WriteChange, type WriteOptions, type WriteTarget, writeVersion } from './writes';

export interface CreateConfigOptions<S extends z.ZodType> extends ConfigOptions {
  /** The zod schema every snapshot must pass (validate-then-swap). */
  schema: S;
  /** Layers, merged defaults < file < remote < env whatever the order given. None: `[memoryStore()]`. */
  sources?: Source[];
}

/** The small interface a health checker flips (seed 002: degraded mode on unhealthy, off on healthy). */
export interface DegradedModeSwitch {
  readonly degraded: boolean;
  setDegraded(on: boolean, reason?: string): Promise<unknown>;
}

/**
 * A layered, typed config. Create it with `createConfig`; read with `get()` (a frozen snapshot) or
 * `get('db.pool.max')`; `watch` a path; write the remote with `set` (check-and-set); `history`/`rollback`.
 */
export class Config<S extends z.ZodType> implements DegradedModeSwitch {
  readonly #schema: S;
  readonly #layers: Layer[];
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #env: NodeJS.ProcessEnv;
  readonly #options: ReturnType<typeof parseOptions<typeof configOptionsSchema>>;
  readonly #watchers = new Watchers();
  readonly #cleanups: (() => void)[] = [];
  readonly #changed = new EventEmitter<ConfigChange<z.output<S>>>('config-change');
  readonly #errors = new EventEmitter<Error>('config-error');
  readonly #metrics: ReturnType<typeof configInstruments>;
  readonly #commits: CommitWaiters;
  readonly #cache: CacheWriter;
  readonly #writeTarget: WriteTarget;
  #snapshot!: DeepReadonly<z.output<S>>;
  #raw: Tree = {};
  #paths = new Map<string, unknown>();
  #closed = false;

  /** Every accepted new snapshot. */
  readonly onChange = this.#changed.event;
  /** Rejected updates (`ConfigValidationError`, `ConfigParseError`, `MissingEnvVarError`) and remote failures. */
  readonly onError = this.#errors.event;

  /** @internal use `createConfig`. */
  constructor(schema: S, sources: Source[], options: ConfigOptions) {
    this.#schema = schema;
    this.#options = parseOptions(configOptionsSchema, options, 'createConfig');
    this.#clock = this.#options.clock ?? systemClock;
    this.#env = this.#options.env ?? process.env;
    this.#log = childLogger(this.#options.logger, { component: 'config-center' });
    this.#layers = sources
      .map((source, i) => ({ source, i }))
      .sort((a, b) => LAYER_RANK[a.source.kind] - LAYER_RANK[b.source.kind] || a.i - b.i)
      .map(({ source }) => ({ source, tree: {} }));
    this.#metrics = configInstruments(() => remoteVersions(this.#layers));
    this.#commits = new CommitWaiters(this.#clock, this.#options.startupTimeoutMs);
    this.#cache = new CacheWriter(
      this.#options.cacheFile,
      this.#clock,
      this.#log,
      this.#options.cache.redact,
      this.#options.cache.key,
    );
    this.#writeTarget = {
      isClosed: () => this.#closed,
      clock: this.#clock,
      casRetries: this.#options.casRetries,
      remoteLayer: (name) => this.#remoteLayer(name),
      validate: (layer, tree) => this.#validate(layer, tree),
      awaitCommit: (layer, version, entries) =>
        this.#commits.wait(layer, version, () => this.#offer(layer, unflatten(entries), layer.source.name, version)),
    };
  }

  /** @internal loads every layer, validates, starts the watches. */
  async start(): Promise<this> {
    const file = this.#options.cacheFile;
    const cache = file
      ? await readCache(file, { key: this.#options.cache.key }, (reason) =>
          this.#log.error({ file }, `config disk cache not used: ${reason}`),
        )
      : undefined;
    for (const layer of this.#layers) {
      const s = layer.source;
      if (s.kind === 'defaults') layer.tree = s.values;
      else if (s.kind === 'file') layer.tree = await loadFileLayer(s, this.#env);
      else if (s.kind === 'remote') {
        await loadRemoteLayer(layer, s, cache, {
          startupTimeoutMs: this.#options.startupTimeoutMs,
          log: this.#log,
          onError: (error) => this.#errors.emit(error),
        });
      }
    }
    // A remote that went back while this service was down (wiped, restored from an old backup): the cache holds
    // a newer state. Refused unless acceptRemoteReset, as the watch refuses it at run time.
    for (const layer of this.#layers) {
      const cached = layer.source.kind === 'remote' ? cache?.remotes[layer.source.name] : undefined;
      if (!cached || layer.stale || this.#options.acceptRemoteReset) continue;
      const held = cached.version;
      const remote = layer.version ?? 0;
      if (remote < held) {
        this.#fallBack(layer, cached, new RemoteResetError(layer.source.name, held, remote));
      }
    }
    let built = buildSnapshot(this.#schema, this.#layers, this.#env);
    if (!built.ok) {
      // The remote's current state is invalid (another writer committed it): start from the last-known-good in the
      // disk cache, flagged stale, rather than crash-loop; without a cached state the start fails.
      const invalid = new ConfigValidationError('startup', built.issues);
      let fellBack = false;
      for (const layer of this.#layers) {
        const cached = layer.source.kind === 'remote' ? cache?.remotes[layer.source.name] : undefined;
        if (!cached || layer.stale) continue;
        this.#fallBack(layer, cached, invalid);
        fellBack = true;
      }
      if (fellBack) built = buildSnapshot(this.#schema, this.#layers, this.#env);
      if (!built.ok) throw invalid;
    }
    this.#snapshot = built.snapshot;
    this.#raw = built.raw;
    for (const layer of this.#layers) {
      if (layer.source.kind === 'file' && layer.source.watch) {
        const reload = () => void this.#reloadFile(layer);
        this.#cleanups.push(watchFile(layer.source.path, layer.source.debounceMs, this.#clock, this.#log, reload));
      }
      if (layer.source.kind === 'remote') this.#watchRemote(layer, layer.source);
    }
    this.#cache.save(this.#layers);
    return this;
  }

  /** The whole snapshot (frozen), or the value at a dotted path, typed by the schema. */
  get(): DeepReadonly<z.output<S>>;
  get<P extends ConfigPath<z.output<S>>>(path: P): DeepReadonly<ConfigValue<z.output<S>, P>>;
  get(path?: string): unknown {
    if (path === undefined) return this.#snapshot;
    // Path reads are memoised per snapshot (snapshots are immutable; the cache is dropped on every swap).
    const cached = this.#paths.get(path);
    if (cached !== undefined || this.#paths.has(path)) return cached;
    const value = getPath(this.#snapshot, path);
    if (this.#paths.size < 10_000) this.#paths.set(path, value);
    return value;
  }

  /**
   * Calls `cb(value, previous)` when the value at `path` changed (deep comparison), or `cb(snapshot, previous)`
   * on any change. Returns the unsubscribe function (seed 004's `watchConfiguration`).
   */
  watch<P extends ConfigPath<z.output<S>>>(
    path: P,
    cb: (value: DeepReadonly<ConfigValue<z.output<S>, P>>, previous: DeepReadonly<ConfigValue<z.output<S>, P>>) => void,
  ): Unsubscribe;
  watch(cb: (snapshot: DeepReadonly<z.output<S>>, previous: DeepReadonly<z.output<S>>) => void): Unsubscribe;
  watch(pathOrCb: string | ((...args: never[]) => void), maybeCb?: (...args: never[]) => void): Unsubscribe {
    return this.#watchers.add(pathOrCb, maybeCb);
  }

  /** The version of a remote source (default: the first); 0 before any write. */
  version(source?: string): number {
    return this.#remoteLayer(source).version ?? 0;
  }

  /** True while a remote layer is served from the disk cache because its remote could not be read. */
  get stale(): boolean {
    return this.#layers.some((l) => l.stale);
  }

  /**
   * Writes one key (dotted: `db.pool.max`) to a remote source as a new version, with check-and-set: the new
   * snapshot is validated first (an invalid write throws `ConfigValidationError` and writes nothing). A value
   * that is a mapping replaces the whole subtree. Resolves once the local snapshot shows the write.
   *
   * Typed by path: with a schema, `key` must be one of its paths and `value` of the (input) type there —
   * `set('db.pool.max', 'many')` and `set('db.pool.maxx', 1)` do not compile; an untyped config takes any.
   */
  async set<P extends ConfigPath<z.input<S>>>(
    key: P,
    value: ConfigValue<z.input<S>, P>,
    options: WriteOptions = {},
  ): Promise<VersionRecord> {
    return this.#set(key, value, options);
  }

  #set(key: string, value: unknown, options: WriteOptions): Promise<VersionRecord> {
    return this.#write(options, 'set', (entries) => {
      const base = toRemoteKey(key);
      const next: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(entries)) if (k !== base && !k.startsWith(`${base}/`)) next[k] = v;
      if (isPlainObject(value)) Object.assign(next, flatten(value, base));
      else if (value !== undefined) next[base] = value;
      return { entries: next };
    });
  }

  /** Writes a nested object's leaves (flattened as seed 000's `load_from_file`) as one new version. */
  async setMany(values: Tree, options: WriteOptions = {}): Promise<VersionRecord> {
    return this.#write(options, 'set', (entries) => ({ entries: { ...entries, ...flatten(values) } }));
  }

  /**
   * Seed 000's `load_from_file`: reads a JSON/YAML/TOML file (interpolated), flattens it and writes every leaf
   * to the remote as ONE new version (validated first, check-and-set).
   */
  async loadFromFile(path: string, options: WriteOptions = {}): Promise<VersionRecord> {
    const doc = await loadFileLayer(
      {
        kind: 'file',
        name: `file:${path}`,
        path,
        format: undefined,
        optional: false,
        watch: false,
        debounceMs: 0,
        interpolate: true,
      },
      this.#env,
    );
    return this.setMany(doc, { message: `load_from_file ${path}`, ...options });
  }

  /** Versions of a remote source, newest first. */
  async history(source?: string): Promise<VersionRecord[]> {
    const layer = this.#remoteLayer(source);
    return (layer.source as RemoteSource).store.history();
  }

  /** Makes a recorded version current again, as a new version (`rollbackOf` says which). */
  async rollback(version: number, options: WriteOptions = {}): Promise<VersionRecord> {
    const store = (this.#remoteLayer(options.source).source as RemoteSource).store;
    const record = await store.getVersion(version);
    if (!record) throw new UnknownVersionError(store.name, version);
    return this.#write(options, 'rollback', () => ({ entries: record.entries, rollbackOf: version }));
  }

  /** True when the feature flag `<flagsPath>.<name>` is truthy. */
  isEnabled(name: string): boolean {
    return Boolean(getPath(this.#raw, `${this.#options.flagsPath}.${name}`));
  }

  /** The degraded-mode switch (`<degradedPath>`, seed 002's `service.degraded_mode`). */
  get degraded(): boolean {
    return Boolean(getPath(this.#raw, this.#options.degradedPath));
  }

  /** Flips degraded mode on the remote (every instance sees it): what a health checker calls. */
  async setDegraded(on: boolean, reason?: string): Promise<VersionRecord> {
    return this.#set(this.#options.degradedPath, on, { message: reason ?? `degraded mode ${on ? 'on' : 'off'}` });
  }

  /** Re-reads every file and remote layer now (hot reload without waiting for a notification). */
  async reload(): Promise<void> {
    for (const layer of this.#layers) {
      const s = layer.source;
      if (s.kind === 'file') await this.#reloadFile(layer);
      if (s.kind === 'remote') this.#offerRemote(layer, await s.store.read());
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#cleanups.splice(0)) c();
    this.#commits.releaseAll();
    this.#metrics.dispose();
    for (const layer of this.#layers) {
      if (layer.source.kind === 'remote' && layer.source.owned) await layer.source.store.close();
    }
    await this.#cache.idle();
    this.#watchers.clear();
  }

  // --- internals -------------------------------------------------------------------------------------------

  #remoteLayer(name?: string): Layer {
    return findRemoteLayer(this.#layers, name);
  }

  /**
   * Validate-then-swap: the layers with `layer` replaced by `tree` become live only if the schema accepts
   * them. Otherwise the last-known-good stays, an error event and a log line name the keys and why.
   */
  #offer(layer: Layer, tree: Tree, origin: string, version?: number): boolean {
    if (this.#closed) return false;
    const built = this.#validate(layer, tree);
    if (!built.ok) {
      const error = new ConfigValidationError(origin, built.issues);
      this.#metrics.rejected.add(1, { source: origin });
      this.#log.error(
        { origin, version, issues: built.issues },
        `config update from ${origin} rejected, last-known-good kept: ${error.message}`,
      );
      this.#errors.emit(error);
      return false;
    }
    layer.tree = tree;
    if (version !== undefined) layer.version = version;
    if (layer.source.kind === 'remote') {
      layer.stale = false;
      this.#cache.save(this.#layers);
    }
    const previous = this.#snapshot;
    this.#raw = built.raw;
    if (deepEqual(previous, built.snapshot)) return true;
    this.#snapshot = built.snapshot;
    this.#paths = new Map();
    this.#metrics.reloads.add(1, { source: origin });
    this.#log.debug({ origin, version }, 'config reloaded');
    this.#watchers.notify(built.snapshot, previous, this.#log);
    this.#changed.emit({ snapshot: built.snapshot, previous, origin });
    return true;
  }

  /** The layers with `layer` replaced by `tree`, merged and parsed by the schema; nothing is swapped. */
  #validate(layer: Layer, tree: Tree): Built<z.output<S>> {
    return buildSnapshot(
      this.#schema,
      this.#layers.map((l) => (l === layer ? { ...l, tree } : l)),
      this.#env,
    );
  }

  /**
   * A state from the store's watch stream. The stream is ordered, so it is taken as is (a version that goes
   * back means the remote was reset, and the remote is the truth); writers waiting to see their commit wake.
   */
  #offerRemote(layer: Layer, state: StoreState): void {
    const held = layer.version ?? 0;
    const emptied = state.version === 0 && Object.keys(state.entries).length === 0;
    if (!this.#options.acceptRemoteReset && held > 0 && (state.version < held || emptied)) {
      const error = new RemoteResetError(layer.source.name, held, state.version);
      this.#metrics.fallbacks.add(1, { source: layer.source.name, reason: 'reset' });
      this.#log.error({ err: error, source: layer.source.name, held, remote: state.version }, error.message);
      this.#errors.emit(error);
      return;
    }
    this.#offer(layer, unflatten(state.entries), layer.source.name, state.version);
    this.#commits.delivered(layer, state.version);
  }

  /** Serves `layer` from its cached last-known-good state (stale), with a metric, an error log and an event. */
  #fallBack(layer: Layer, cached: StoreState, why: Error): void {
    layer.tree = unflatten(cached.entries);
    layer.version = cached.version;
    layer.stale = true;
    this.#metrics.fallbacks.add(1, { source: layer.source.name, reason: why.name });
    this.#log.error(
      { err: why, source: layer.source.name, version: cached.version },
      `remote ${layer.source.name} refused at start (${why.message}): serving its last-known-good version ${cached.version} from the disk cache`,
    );
    this.#errors.emit(why);
  }

  #write(options: WriteOptions, what: string, change: WriteChange): Promise<VersionRecord> {
    return writeVersion(this.#writeTarget, options, what, change);
  }

  #watchRemote(layer: Layer, source: RemoteSource): void {
    const off = source.store.watch(
      (state) => this.#offerRemote(layer, state),
      (error) => {
        this.#log.warn({ err: error, source: source.name }, `watch of ${source.name} failed; retrying`);
        this.#errors.emit(error instanceof Error ? error : new Error(String(error)));
      },
    );
    this.#cleanups.push(off);
  }

  async #reloadFile(layer: Layer): Promise<void> {
    if (layer.source.kind !== 'file') return;
    try {
      const tree = await loadFileLayer(layer.source, this.#env);
      this.#offer(layer, tree, layer.source.name);
    } catch (error) {
      this.#metrics.rejected.add(1, { source: layer.source.name });
      this.#log.error(
        { err: error, file: layer.source.path },
        `reload of ${layer.source.path} failed, last-known-good kept: ${(error as Error).message}`,
      );
      this.#errors.emit(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/**
 * Creates and loads a config: every layer read, the merge validated (an invalid start throws
 * `ConfigValidationError`; an unreadable remote falls back to the disk cache), watches started.
 *
 * @example
 * const config = await createConfig({
 *   schema,
 *   sources: [defaults({ db: { pool: { max: 10 } } }), file('config.yaml'), consulKv({ prefix: 'services/user-service/' }), env({ prefix: 'USER_SERVICE_' })],
 * });
 * config.get('db.pool.max'); // number
 */
export async function createConfig<S extends z.ZodType>(options: CreateConfigOptions<S>): Promise<Config<S>> {
  const { schema, sources, ...rest } = options;
  const config = new Config(schema, sources ?? [memoryStore()], rest);
  try {
    return await config.start();
  } catch (error) {
    await config.close();
    throw error;
  }
}
