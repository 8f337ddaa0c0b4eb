/**
 * Where a counting semaphore's permits live. Each holder (one `acquire`) has an id, a number of permits and a
 * lease that expires `ttlMs` after its grant or last extension: a holder that dies gives its permits back when
 * its lease runs out. `MemorySemaphoreBackend` (one process) and `RedisSemaphoreBackend` (Lua, one round trip
 * per operation) implement it; one contract suite proves they behave the same.
 */
export type SemaphoreAttempt = { acquired: true; left: number } | { acquired: false; retryAfterMs: number };

export interface SemaphoreBackend {
  /** Names the backend in `BackendUnavailableError`s. */
  readonly kind: string;
  /** Grants `permits` to `holder` if `limit` − (live holders' permits) ≥ `permits`. A holder id is used once. */
  tryAcquire(name: string, holder: string, permits: number, limit: number, ttlMs: number): Promise<SemaphoreAttempt>;
  /** Pushes the holder's lease to now + ttlMs; false when it no longer holds. */
  extend(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the holder's permits back and wakes waiters; false when its lease had already run out. */
  release(name: string, holder: string): Promise<boolean>;
  /** Permits free now out of `limit`. */
  available(name: string, limit: number): Promise<number>;
  /** Calls `listener` whenever permits of `name` are given back; `ready` resolves once that is live. */
  onRelease(name: string, listener: () => void): { off: () => void; ready?: Promise<void> };
  close(): Promise<void>;
}
