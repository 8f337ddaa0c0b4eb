// Remote layers: which one a call targets, their startup read (bounded by `startupTimeoutMs`, falling back to
// the disk cache when the remote cannot be read) and the disk cache of their last-known-good states.
import {
  type BackendName,
  BackendTimeoutError,
  BackendUnavailableError,
  type Clock,
  isBallastError,
  type Logger,
  toBackendError,
} from '@ballast/core';
import { type CacheContent, writeCache } from './cache';
import { NoRemoteSourceError, RemoteUnavailableError } from './errors';
import type { Layer } from './snapshot';
import type { RemoteSource } from './sources';
import type { StoreState } from './store';
import { flatten, unflatten } from './tree';

/** The remote layer named `name`, or the first one; `NoRemoteSourceError` when there is none. */
export function findRemoteLayer(layers: readonly Layer[], name?: string): Layer {
  const remotes = layers.filter((l) => l.source.kind === 'remote');
  const layer = name === undefined ? remotes[0] : remotes.find((l) => l.source.name === name);
  if (!layer) {
    throw new NoRemoteSourceError(
      name === undefined
        ? 'This config has no remote source to write to'
        : `No remote source "${name}"; configured: ${remotes.map((l) => l.source.name).join(', ') || 'none'}`,
    );
  }
  return layer;
}

/** `[source name, version]` of every remote layer (0 before any write), for the version gauge. */
export function* remoteVersions(layers: readonly Layer[]): Iterable<[string, number]> {
  for (const l of layers) if (l.source.kind === 'remote') yield [l.source.name, l.version ?? 0];
}

/** What the startup read of a remote layer needs from its config. */
export interface RemoteLoadOptions {
  startupTimeoutMs: number;
  log: Logger;
  /** Told when the remote was unreadable and the layer is served from the disk cache. */
  onError: (error: Error) => void;
}

/**
 * Loads `layer` from its remote, giving up after `startupTimeoutMs`. An unreadable remote with a cached state
 * is served from the cache (`layer.stale`); without one, the typed error is thrown.
 */
export async function loadRemoteLayer(
  layer: Layer,
  source: RemoteSource,
  cache: CacheContent | undefined,
  options: RemoteLoadOptions,
): Promise<void> {
  const timeout = AbortSignal.timeout(options.startupTimeoutMs);
  try {
    const state = await Promise.race([
      source.store.read(timeout),
      new Promise<never>((_, reject) => {
        const onAbort = () => reject(startupTimeout(source, options.startupTimeoutMs));
        if (timeout.aborted) onAbort();
        timeout.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    layer.tree = unflatten(state.entries);
    layer.version = state.version;
  } catch (caught) {
    // Whatever failed (a timeout abort, a driver error), the caller sees a typed error naming the remote.
    // An outage is core's BackendUnavailableError; any other failure a RemoteUnavailableError naming the remote.
    const asBackend = isBallastError(caught)
      ? caught
      : timeout.aborted
        ? startupTimeout(source, options.startupTimeoutMs)
        : toBackendError(caught, backendOf(source), `${source.name} read`);
    const error = isBallastError(asBackend)
      ? asBackend
      : new RemoteUnavailableError(source.name, String((caught as Error)?.message ?? caught), { cause: caught });
    const cached = cache?.remotes[source.name];
    if (!cached) throw error;
    layer.tree = unflatten(cached.entries);
    layer.version = cached.version;
    layer.stale = true;
    options.log.warn(
      { err: error, source: source.name, version: cached.version, savedAt: cache?.savedAt },
      `remote ${source.name} unreadable at start: serving its last-known-good version ${cached.version} from the disk cache`,
    );
    options.onError(error);
  }
}

/** The backend a remote source's store talks to, from the store's name (`redis:<key>`, `consul:<prefix>`, `memory`). */
function backendOf(source: RemoteSource): BackendName {
  const store = source.store.name;
  const colon = store.indexOf(':');
  return colon > 0 ? store.slice(0, colon) : store;
}

/** The remote gave no answer within `startupTimeoutMs`: an outage, in core's terms. */
function startupTimeout(source: RemoteSource, startupTimeoutMs: number): BackendUnavailableError {
  return new BackendUnavailableError(
    backendOf(source),
    `${source.name} read at start`,
    new BackendTimeoutError(`${source.name} read`, startupTimeoutMs, 'startupTimeoutMs'),
  );
}

/** Writes the remote layers' accepted states to the disk cache, one write after another. */
export class CacheWriter {
  readonly #path: string | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  #pending: Promise<void> = Promise.resolve();

  readonly #redact: readonly string[];
  readonly #key: string | Uint8Array | undefined;

  /**
   * `path` undefined: no disk cache, `save` does nothing. `redact`: dotted keys left out of the file. `key`:
   * the file is sealed with AES-256-GCM.
   */
  constructor(
    path: string | undefined,
    clock: Clock,
    log: Logger,
    redact: readonly string[] = [],
    key?: string | Uint8Array,
  ) {
    this.#path = path;
    this.#key = key;
    this.#redact = redact.map((k) => k.split('.').join('/'));
    this.#clock = clock;
    this.#log = log;
  }

  /**
   * Queues a write of every remote layer's state. A stale layer (its remote down since start) is written with
   * the last-known-good state it was served from: leaving it out dropped it from the file, and the next start
   * with that remote still down failed instead of falling back to the cache.
   */
  save(layers: readonly Layer[]): void {
    const path = this.#path;
    if (!path) return;
    const remotes: Record<string, StoreState> = {};
    for (const l of layers) {
      if (l.source.kind === 'remote') {
        const entries = flatten(l.tree);
        for (const key of Object.keys(entries)) {
          if (this.#redact.some((r) => key === r || key.startsWith(`${r}/`))) delete entries[key];
        }
        remotes[l.source.name] = { version: l.version ?? 0, entries };
      }
    }
    if (Object.keys(remotes).length === 0) return;
    this.#pending = this.#pending
      .then(() => writeCache(path, { savedAt: this.#clock.now(), remotes }, { key: this.#key }))
      .catch((error: unknown) => this.#log.warn({ err: error, file: path }, 'config disk cache write failed'));
  }

  /** Settles once every queued write is done (a failed one was logged). */
  idle(): Promise<void> {
    return this.#pending;
  }
}
