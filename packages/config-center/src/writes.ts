// Writes to a remote layer as new versions: validated first, check-and-set with retries, then held until the
// watch stream shows the commit, so the caller's next read sees it.
import { type Clock, throwIfAborted } from '@ballast/core';
import { ConfigClosedError, ConfigConflictError, ConfigValidationError } from './errors';
import type { Built, Layer } from './snapshot';
import type { RemoteSource } from './sources';
import type { VersionRecord } from './store';
import { type Tree, unflatten } from './tree';

/** Options of a write. */
export interface WriteOptions {
  /** The remote source to write to (its name); default: the first remote source. */
  source?: string;
  /** Fail with `ConfigConflictError` unless the remote is still at this version (no retry). */
  expectedVersion?: number;
  /** Recorded with the version: who or why. */
  message?: string;
  /** Aborts the write between its steps (`AbortedError`); a commit already sent is not undone. */
  signal?: AbortSignal;
}

/** The new entries of a remote from its current ones (and, for a rollback, the version it restores). */
export type WriteChange = (entries: Record<string, unknown>) => {
  entries: Record<string, unknown>;
  rollbackOf?: number;
};

/** What a write needs from its config. */
export interface WriteTarget {
  isClosed(): boolean;
  readonly clock: Clock;
  readonly casRetries: number;
  remoteLayer(name?: string): Layer;
  /** The config's layers with `layer` replaced by `tree`, parsed by the schema; nothing is swapped. */
  validate(layer: Layer, tree: Tree): Built<unknown>;
  /** Resolves once the local snapshot shows `version` of `layer` (see `CommitWaiters.wait`). */
  awaitCommit(layer: Layer, version: number, entries: Record<string, unknown>): Promise<void>;
}

/**
 * Reads the remote, applies `change`, validates the result against every layer and commits it as a new version
 * if the remote is still at the version read; on a conflict, starts over (up to `casRetries` times) unless the
 * caller pinned `expectedVersion`. `what` names the write in a `ConfigValidationError`.
 */
export async function writeVersion(
  target: WriteTarget,
  options: WriteOptions,
  what: string,
  change: WriteChange,
): Promise<VersionRecord> {
  if (target.isClosed()) throw new ConfigClosedError();
  const layer = target.remoteLayer(options.source);
  const store = (layer.source as RemoteSource).store;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal);
    const state = await store.read(options.signal);
    if (options.expectedVersion !== undefined && state.version !== options.expectedVersion) {
      throw new ConfigConflictError(store.name, options.expectedVersion, state.version);
    }
    const next = change(state.entries);
    const tree = unflatten(next.entries);
    const built = target.validate(layer, tree);
    if (!built.ok) throw new ConfigValidationError(what, built.issues);
    try {
      const meta = { at: target.clock.now(), ...(options.message !== undefined ? { message: options.message } : {}) };
      const record = await store.commit(
        state.version,
        next.entries,
        next.rollbackOf !== undefined ? { ...meta, rollbackOf: next.rollbackOf } : meta,
      );
      await target.awaitCommit(layer, record.version, next.entries);
      return record;
    } catch (error) {
      const retry =
        error instanceof ConfigConflictError && options.expectedVersion === undefined && attempt < target.casRetries;
      if (!retry) throw error;
    }
  }
}

interface CommitWaiter {
  version: number;
  resolve: () => void;
}

/** Writers waiting for the watch stream of their remote layer to deliver the version they committed. */
export class CommitWaiters {
  readonly #waiters = new Map<Layer, Set<CommitWaiter>>();
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Resolves once the watch stream delivered `version` (so the snapshot shows the write in stream order), or
   * after `startupTimeoutMs`, when the write is applied directly (`apply`) unless something newer arrived.
   */
  wait(layer: Layer, version: number, apply: () => void): Promise<void> {
    // Closed while the commit was on its way: no notification will come, and no timer may be left running.
    if (this.#closed || ((layer.version ?? 0) >= version && !layer.stale)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let set = this.#waiters.get(layer);
      if (!set) {
        set = new Set();
        this.#waiters.set(layer, set);
      }
      const waiter = {
        version,
        resolve: () => {
          this.#clock.clearTimeout(timer);
          resolve();
        },
      };
      const timer = this.#clock.setTimeout(() => {
        set.delete(waiter);
        if ((layer.version ?? 0) < version || layer.stale) apply();
        resolve();
      }, this.#timeoutMs);
      set.add(waiter);
    });
  }

  /** The watch stream of `layer` delivered `version`: wakes the writers waiting for it or an older one. */
  delivered(layer: Layer, version: number): void {
    const waiting = this.#waiters.get(layer);
    if (!waiting) return;
    for (const w of [...waiting]) {
      if (version >= w.version) {
        waiting.delete(w);
        w.resolve();
      }
    }
  }

  /** Wakes every waiter, and every later one at once (the config is closing). */
  releaseAll(): void {
    this.#closed = true;
    for (const set of this.#waiters.values()) for (const w of set) w.resolve();
    this.#waiters.clear();
  }
}
