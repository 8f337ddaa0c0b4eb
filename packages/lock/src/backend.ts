/**
 * The seam between the lock manager and where locks live. `RedisLockBackend` (Lua compare-token scripts, one
 * round trip per operation) and `MemoryLockBackend` (in-process) implement it; one contract suite proves they
 * behave the same.
 *
 * A resource is held either by one exclusive holder or by any number of shared holders. A holder is named by
 * its token (unique per owner); acquiring again with a token that already holds the resource in the same
 * mode is reentrant and counted. Every holder has its own expiry (ttlMs from the acquisition or the last
 * extension); an expired holder no longer counts. Every new hold gets the resource's next fencing token: a
 * number strictly greater than any returned before for it. A reentrant acquisition returns its hold's token
 * (one token for the whole hold) and never shortens the hold's expiry.
 *
 * Fair mode (`tryAcquireFair`, exclusive only): refused callers queue in FIFO order; a release hands the lock
 * to the oldest live waiter in the same atomic step and announces it to `onRelease` listeners (a `FairGrant`),
 * so the waiter holds the lock without asking again. A queue entry lives `queueMs` from its last refresh: a
 * waiter that died is skipped once its entry expired.
 */
export type LockMode = 'exclusive' | 'shared';

export type AcquireResult =
  | {
      acquired: true;
      fencingToken: number;
      count: number;
      /** Ms left on the hold as the backend granted it (a hold handed over may be shorter than asked). */
      ttlMs?: number;
    }
  | {
      acquired: false;
      /** When the current holders' leases run out at the latest, in ms (a hint for the retry timer). */
      retryAfterMs: number;
      /** The backend's clock (ms) at the refusal, when the caller was queued (fair mode). */
      serverTime?: number;
    };

/** A fair hand-off: the lock was given to `token` at `serverTime` (backend clock, ms) for `ttlMs`. */
export interface FairGrant {
  token: string;
  fencingToken: number;
  ttlMs: number;
  serverTime: number;
}

export interface FairAcquireOptions {
  /** > 0: a refused caller joins the queue, or refreshes its entry, which then lives this long (ms). */
  queueMs: number;
  /** The caller is a queued waiter: a hold it has was handed to it (returned as is), not a re-entry. */
  waiting?: boolean;
}

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

/** What an operator sees of one lock (`inspect`): every live holder and waiter with the time it has left. */
export interface LockInspection {
  mode: LockMode | undefined;
  holders: {
    token: string;
    /** Reentrant count. */
    count: number;
    /** The hold's fencing token. */
    fencingToken: number;
    /** Ms until the hold expires unless extended. */
    ttlMs: number;
  }[];
  /**
   * Waiters, oldest first: fair-mode queue entries (`queued: true`) and exclusive waiters registered for writer
   * preference, each with the ms its registration has left.
   */
  waiters: { token: string; ttlMs: number; queued: boolean }[];
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
  /**
   * Calls `listener` whenever a holder of `resource` releases (pub/sub): waiters retry then, not by polling.
   * When the release handed the lock to a queued waiter, the listener gets that `FairGrant`.
   */
  onRelease(resource: string, listener: (grant?: FairGrant) => void): () => void;
  /**
   * Fair exclusive acquire: granted when the lock is free and nobody live queued first (or on re-entry);
   * otherwise refused, and queued when `options.queueMs` > 0. Optional: a backend without it is not fair.
   */
  tryAcquireFair?(resource: string, token: string, ttlMs: number, options: FairAcquireOptions): Promise<AcquireResult>;
  /** Drops `token`'s queue entry; a hold handed to it meanwhile is released (and handed on). True then. */
  leaveQueue?(resource: string, token: string): Promise<boolean>;
  holders(resource: string): Promise<LockHolders>;
  /** A read-only view of the lock for operators (a snapshot, not one atomic read on Redis). Optional. */
  inspect?(resource: string): Promise<LockInspection>;
  close(): Promise<void>;
}
