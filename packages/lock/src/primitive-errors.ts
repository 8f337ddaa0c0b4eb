// Typed errors of the lock package's primitives (semaphore, latch, multi-lock, read/write conversion). Kept beside
// errors.ts (the exclusive lock's) so each primitive's failures are named by what failed.
import { BallastError, errorGuard } from '@ballast/core';

/** `waitMs` passed before `permits` permits of semaphore `name` were free. `cause`: a `BackendUnavailableError`. */
export class SemaphoreTimeoutError extends BallastError {
  static readonly code = 'SEMAPHORE_TIMEOUT';
  constructor(
    readonly semaphore: string,
    readonly permits: number,
    readonly waitedMs: number,
    cause?: unknown,
  ) {
    super(new.target.code, `Could not acquire ${permits} permit(s) of semaphore "${semaphore}" within ${waitedMs} ms`, {
      cause,
    });
  }
}
export const isSemaphoreTimeoutError = errorGuard<SemaphoreTimeoutError>(SemaphoreTimeoutError.code);

/** A request for more permits than the semaphore has (it could never be granted), or fewer than one. */
export class InvalidPermitsError extends BallastError {
  static readonly code = 'INVALID_PERMITS';
  constructor(
    readonly semaphore: string,
    readonly permits: unknown,
    readonly limit: number,
  ) {
    super(
      new.target.code,
      `semaphore "${semaphore}": permits must be an integer from 1 to its limit ${limit}, got ${String(permits)}`,
    );
  }
}
export const isInvalidPermitsError = errorGuard<InvalidPermitsError>(InvalidPermitsError.code);

/** `await` on a latch gave up: `timeoutMs` passed while its count was still above zero. */
export class LatchTimeoutError extends BallastError {
  static readonly code = 'LATCH_TIMEOUT';
  constructor(
    readonly latch: string,
    readonly waitedMs: number,
    cause?: unknown,
  ) {
    super(new.target.code, `Latch "${latch}" did not reach zero within ${waitedMs} ms`, { cause });
  }
}
export const isLatchTimeoutError = errorGuard<LatchTimeoutError>(LatchTimeoutError.code);

/**
 * A read lock could not be upgraded to a write lock: other readers hold the key (`readers` of them), or the
 * lease is no longer held. Upgrades never wait (two readers both waiting to upgrade would wait for each other
 * forever): the read lock is still held; release it and acquire the write lock instead.
 */
export class LockUpgradeError extends BallastError {
  static readonly code = 'LOCK_UPGRADE_REFUSED';
  constructor(
    readonly key: string,
    readonly readers: number,
    reason: string,
  ) {
    super(new.target.code, `Cannot upgrade the read lock on "${key}" to a write lock: ${reason}`);
  }
}
export const isLockUpgradeError = errorGuard<LockUpgradeError>(LockUpgradeError.code);

/** The primitive (semaphore, latch, multi-lock, read/write lock) was closed: no more operations through it. */
export class PrimitiveClosedError extends BallastError {
  static readonly code = 'LOCK_PRIMITIVE_CLOSED';
  constructor(
    readonly primitive: string,
    readonly operation: string,
  ) {
    super(new.target.code, `${primitive} is closed: ${operation} rejected`);
  }
}
export const isPrimitiveClosedError = errorGuard<PrimitiveClosedError>(PrimitiveClosedError.code);
