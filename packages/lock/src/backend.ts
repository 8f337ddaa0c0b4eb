/**
 * The seam between the lock manager and where locks live. `RedisLockBackend` (Lua compare-token scripts, one
 * round trip per operation) and `MemoryLockBackend` (in-process) implement it; one contract suite proves they
 * behave the same.
 *
 * A resource is held either by one exclusive holder or by any number of shared holders. A holder is named by
 * its token (unique per owner); acquiring again with a token that already holds the resource in the same
 * mode is reentrant and counted. Every holder has its own expiry (ttlMs from the acquisition or the last
 * extension); an expired holder no longer counts. Every successful acquisition — reentrant ones included —
 * returns the resource's next fencing token: a number strictly greater than any returned before for it.
 */
export type LockMode = 'exclusive' | 'shared';

export type AcquireResult =
  | { acquired: true; fencingToken: number; count: number }
  | {
      acquired: false;
      /** When the current holders' leases run out at the latest, in ms (a hint for the retry timer). */
      retryAfterMs: number;
    };

export interface AcquireOptions {
  /**
   * Writer preference: while an exclusive waiter is registered (`addWaiter`), new shared acquisitions are
   * refused, so a stream of readers cannot starve a writer. On an exclusive request it only means: drop the
   * caller's own waiter registration atomically with the grant.
   */
  writerPreference?: boolean;
}

export interface LockHolders {
  mode: LockMode | undefined;
  /** token → reentrant count */
  holders: Record<string, number>;
}

export interface LockBackend {
  tryAcquire(
    resource: string,
    token: string,
    mode: LockMode,
    ttlMs: number,
    options?: AcquireOptions,
  ): Promise<AcquireResult>;
  /** Pushes the holder's expiry to now + ttlMs. False when `token` does not hold it (expired, released, taken). */
  extend(resource: string, token: string, mode: LockMode, ttlMs: number): Promise<boolean>;
  /**
   * Releases one level of `token`'s hold: returns the remaining reentrant count (0 = released), or -1 when
   * `token` did not hold the resource (the lease was lost). Wakes waiters when the resource becomes free.
   */
  release(resource: string, token: string, mode: LockMode): Promise<number>;
  /** Registers an exclusive waiter (writer preference) for `ttlMs`; `removeWaiter` when it stops waiting. */
  addWaiter(resource: string, token: string, ttlMs: number): Promise<void>;
  removeWaiter(resource: string, token: string): Promise<void>;
  /** Calls `listener` whenever a holder of `resource` releases (pub/sub): waiters retry then, not by polling. */
  onRelease(resource: string, listener: () => void): () => void;
  holders(resource: string): Promise<LockHolders>;
  close(): Promise<void>;
}
