import type { Unsubscribe } from '@ballast/core';

/**
 * A remote config store (memory, Redis, Consul): flat entries keyed as seed 000 flattens them (`db/pool/max`),
 * values JSON-like, and a version number that every committed write increments.
 */
export interface StoreState {
  /** 0 when nothing was ever committed. */
  version: number;
  entries: Record<string, unknown>;
}

/** One committed version: the full set of entries it made current. */
export interface VersionRecord {
  version: number;
  entries: Record<string, unknown>;
  /** Wall-clock ms of the commit. */
  at: number;
  /** The version this one restored (`rollback`), when it is a rollback. */
  rollbackOf?: number;
  /** Free text given to the write: who or why. */
  message?: string;
}

export interface CommitMeta {
  at: number;
  rollbackOf?: number;
  message?: string;
}

export interface ConfigStore {
  /** Shown in errors and logs: `memory`, `redis:<key>`, `consul:<prefix>`. */
  readonly name: string;
  /** The current state (one consistent read). */
  read(signal?: AbortSignal): Promise<StoreState>;
  /**
   * Check-and-set: when the store is still at `expectedVersion`, makes `entries` current as version
   * `expectedVersion + 1` and records it; otherwise throws `ConfigConflictError` and writes nothing.
   */
  commit(expectedVersion: number, entries: Record<string, unknown>, meta: CommitMeta): Promise<VersionRecord>;
  /** Recorded versions, newest first (at most the store's `maxVersions`). */
  history(): Promise<VersionRecord[]>;
  /** One recorded version, or undefined when never written or trimmed. */
  getVersion(version: number): Promise<VersionRecord | undefined>;
  /**
   * Calls `listener` with the new state whenever the remote changes (this process's commits included). Errors of
   * the watch loop go to `onError`; the loop keeps retrying.
   */
  watch(listener: (state: StoreState) => void, onError: (error: unknown) => void): Unsubscribe;
  close(): Promise<void>;
}
