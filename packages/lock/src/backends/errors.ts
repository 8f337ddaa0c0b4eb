import { BallastError, errorGuard } from '@ballast/core';

/** The lock backend was closed: no more acquisitions, extensions, releases or subscriptions through it. */
export class LockBackendClosedError extends BallastError {
  static readonly code = 'LOCK_BACKEND_CLOSED';
  constructor(
    readonly backend: string,
    readonly operation?: string,
  ) {
    super(
      new.target.code,
      operation === undefined ? `${backend} is closed` : `${backend} is closed: ${operation} rejected`,
    );
  }
}
export const isLockBackendClosedError = errorGuard<LockBackendClosedError>(LockBackendClosedError.code);
