import { EventEmitter, systemClock, type Unsubscribe } from '@ballast/core';
import { ConfigConflictError } from '../errors';
import type { CommitMeta, ConfigStore, StoreState, VersionRecord } from '../store';
import { deepEqual } from '../tree';

export interface MemoryConfigStoreOptions {
  /** Entries of version 1 (flattened, `db/pool/max`); none: the store starts empty at version 0. */
  initial?: Record<string, unknown>;
  /** Versions kept for `history`/`rollback` (seed 002: `max_versions: 10`). */
  maxVersions?: number;
}

const clone = <T>(v: T): T => structuredClone(v);

/**
 * The in-process store: what `createConfig` uses when no remote source is given, so `set`, `history`,
 * `rollback` and the degraded-mode switch work in one process. Several configs may share one store.
 * Notifications are delivered asynchronously (a microtask later), as a remote store's would be.
 */
export class MemoryConfigStore implements ConfigStore {
  readonly name = 'memory';
  readonly #versions: VersionRecord[] = [];
  readonly #changed = new EventEmitter<StoreState>('config-memory-changed');
  readonly #maxVersions: number;
  #state: StoreState = { version: 0, entries: {} };

  constructor(options: MemoryConfigStoreOptions = {}) {
    this.#maxVersions = options.maxVersions ?? 10;
    if (options.initial) this.#apply(0, options.initial, { at: systemClock.now() });
  }

  async read(): Promise<StoreState> {
    return clone(this.#state);
  }

  async commit(expectedVersion: number, entries: Record<string, unknown>, meta: CommitMeta): Promise<VersionRecord> {
    if (this.#state.version !== expectedVersion) {
      throw new ConfigConflictError(this.name, expectedVersion, this.#state.version);
    }
    const record = this.#apply(expectedVersion, entries, meta);
    const state = clone(this.#state);
    queueMicrotask(() => this.#changed.emit(state));
    return clone(record);
  }

  async history(): Promise<VersionRecord[]> {
    return clone([...this.#versions].reverse());
  }

  async getVersion(version: number): Promise<VersionRecord | undefined> {
    const r = this.#versions.find((v) => v.version === version);
    return r && clone(r);
  }

  watch(listener: (state: StoreState) => void): Unsubscribe {
    let last = this.#state.version;
    return this.#changed.event((state) => {
      if (state.version === last && deepEqual(state.entries, this.#state.entries)) return;
      last = state.version;
      listener(clone(state));
    });
  }

  async close(): Promise<void> {
    this.#changed.clear();
  }

  #apply(expectedVersion: number, entries: Record<string, unknown>, meta: CommitMeta): VersionRecord {
    const record: VersionRecord = { version: expectedVersion + 1, entries: clone(entries), at: meta.at };
    if (meta.rollbackOf !== undefined) record.rollbackOf = meta.rollbackOf;
    if (meta.message !== undefined) record.message = meta.message;
    this.#state = { version: record.version, entries: clone(entries) };
    this.#versions.push(record);
    while (this.#versions.length > this.#maxVersions) this.#versions.shift();
    return record;
  }
}
