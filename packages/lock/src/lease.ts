import type { LockMode } from './backend';

/** What a holder of a lock gets. Release it (or `await using`) when done. */
export interface Lease extends AsyncDisposable {
  readonly key: string;
  readonly mode: LockMode;
  /** The holder's token (its owner id): what the compare-token scripts check. */
  readonly token: string;
  /**
   * Strictly greater than every fencing token handed out before for this key. Pass it to the protected
   * resource (`fencedSet`, or `… WHERE fence < $token` in SQL), which rejects writes carrying an older one.
   */
  readonly fencingToken: number;
  /** Reentrant depth after this acquisition (1 = outermost). */
  readonly count: number;
  /** Aborts (reason: `LockLostError`) when the lock is lost: expired, deleted or taken over. */
  readonly signal: AbortSignal;
  /**
   * Monotonic ms until which the lease is valid for sure: the start of the attempt (or of the last confirmed
   * extension) + ttl − the clock-drift allowance. The signal aborts then unless an extension moved it.
   */
  readonly validUntil: number;
  /** Extends now (the watchdog does it on its own every ttl/3). False when the lock was already lost. */
  extend(ttlMs?: number): Promise<boolean>;
  /** Releases one reentrant level; idempotent. */
  release(): Promise<void>;
}

/** `Symbol.asyncDispose`, also where the runtime predates it (then `await using` is unavailable anyway). */
export const ASYNC_DISPOSE: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ??
  (Symbol.for('Symbol.asyncDispose') as never);
