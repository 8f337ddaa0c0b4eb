import type { Clock } from '@ballast/core';
import { isTimeoutError } from './errors';

/** opossum's `cacheTransport`: where successful results are kept. `expiresAt` is wall-clock ms, 0 = never. */
export interface CacheTransport {
  get(key: string): unknown;
  set(key: string, value: unknown, expiresAt: number): void;
  flush(): void;
  delete?(key: string): void;
}

export interface KeyedCallOptions {
  readonly cache: boolean;
  readonly cacheTTL: number;
  readonly cacheSize: number | undefined;
  readonly cacheGetKey: ((...args: unknown[]) => string) | undefined;
  readonly cacheTransport: CacheTransport | undefined;
  readonly coalesce: boolean;
  readonly coalesceTTL: number;
  readonly coalesceSize: number | undefined;
  readonly coalesceResetOn: readonly ('error' | 'success' | 'timeout')[];
}

/** opossum's cache/coalesce counters (its field names). */
export interface KeyedCounts {
  cacheHits: number;
  cacheMisses: number;
  coalesceCacheHits: number;
  coalesceCacheMisses: number;
}

const MAX_MAP = 2 ** 24 - 1;

/** opossum's `MemoryCache` on a Ballast clock: a Map with expiry instants, the oldest entry evicted when full. */
export class MemoryCache implements CacheTransport {
  readonly #map = new Map<string, { value: unknown; expiresAt: number }>();
  constructor(
    private readonly clock: Clock,
    private readonly maxEntries = MAX_MAP,
  ) {}

  get size(): number {
    return this.#map.size;
  }

  get(key: string): unknown {
    const e = this.#map.get(key);
    if (!e) return undefined;
    if (e.expiresAt === 0 || e.expiresAt > this.clock.now()) return e.value;
    this.#map.delete(key);
    return undefined;
  }

  set(key: string, value: unknown, expiresAt: number): void {
    if (!this.#map.has(key) && this.#map.size >= this.maxEntries) {
      const oldest = this.#map.keys().next().value;
      if (oldest !== undefined) this.#map.delete(oldest);
    }
    this.#map.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  flush(): void {
    this.#map.clear();
  }
}

const defaultKey = (...args: unknown[]) => JSON.stringify(args);

/**
 * opossum's `cache` and `coalesce` in front of a breaker: a cached success answers at once (no call, nothing
 * counted by the breaker, as in opossum); concurrent calls with the same key share one execution for
 * `coalesceTTL` (its failure included, unless `coalesceResetOn` drops it first).
 */
export class KeyedCalls {
  readonly counts: KeyedCounts = { cacheHits: 0, cacheMisses: 0, coalesceCacheHits: 0, coalesceCacheMisses: 0 };
  readonly #cache: CacheTransport | undefined;
  readonly #coalesce: MemoryCache | undefined;
  readonly #key: (...args: unknown[]) => string;

  constructor(
    private readonly o: KeyedCallOptions,
    private readonly clock: Clock,
  ) {
    this.#cache = o.cache ? (o.cacheTransport ?? new MemoryCache(clock, o.cacheSize)) : undefined;
    this.#coalesce = o.coalesce ? new MemoryCache(clock, o.coalesceSize) : undefined;
    this.#key = o.cacheGetKey ?? defaultKey;
  }

  run<T>(args: unknown[], exec: () => Promise<T>): Promise<T> {
    const key = this.#key(...args);
    const cache = this.#cache;
    if (cache) {
      const hit = cache.get(key);
      if (hit !== undefined) {
        this.counts.cacheHits++;
        return Promise.resolve(hit as T);
      }
      this.counts.cacheMisses++;
    }
    const shared = this.#coalesce;
    if (shared) {
      const running = shared.get(key);
      if (running !== undefined) {
        this.counts.coalesceCacheHits++;
        return running as Promise<T>;
      }
      this.counts.coalesceCacheMisses++;
    }
    const resetOn = this.o.coalesceResetOn;
    const p = exec().then(
      (value) => {
        if (cache) cache.set(key, value, this.o.cacheTTL > 0 ? this.clock.now() + this.o.cacheTTL : 0);
        if (shared && resetOn.includes('success')) shared.delete(key);
        return value;
      },
      (error: unknown) => {
        if (shared && resetOn.includes(isTimeoutError(error) ? 'timeout' : 'error')) shared.delete(key);
        throw error;
      },
    );
    if (shared) shared.set(key, p, this.o.coalesceTTL > 0 ? this.clock.now() + this.o.coalesceTTL : 0);
    return p;
  }

  /** opossum's `clearCache()`: forgets cached results and shared executions. */
  clear(): void {
    this.#cache?.flush();
    this.#coalesce?.flush();
  }
}
