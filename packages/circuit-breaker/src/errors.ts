import { BallastError, errorGuard } from '@ballast/core';

/** The breaker is open (or half-open with every probe slot taken): the call was not attempted. */
export class BrokenCircuitError extends BallastError {
  static readonly code = 'BREAKER_OPEN';
  constructor(
    readonly breaker: string,
    readonly state: 'open' | 'half-open',
  ) {
    super(BrokenCircuitError.code, `Circuit breaker "${breaker}" is ${state}: call rejected`);
  }
}
export const isBrokenCircuitError = errorGuard<BrokenCircuitError>(BrokenCircuitError.code);

/** The call was shed: the breaker's `capacity` or a bulkhead's slots and queue were full. Not a failure. */
export class ShedError extends BallastError {
  static readonly code = 'SHED';
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(ShedError.code, message);
  }
}
export const isShedError = errorGuard<ShedError>(ShedError.code);

/** The call did not finish within its time limit. */
export class TimeoutError extends BallastError {
  static readonly code = 'TIMEOUT';
  constructor(
    readonly timeoutMs: number,
    what = 'operation',
  ) {
    super(TimeoutError.code, `${what} timed out after ${timeoutMs} ms`);
  }
}
export const isTimeoutError = errorGuard<TimeoutError>(TimeoutError.code);

/** A rate limit refused the call; `retryAfterMs` says when a slot frees up. */
export class RateLimitedError extends BallastError {
  static readonly code = 'RATE_LIMITED';
  constructor(
    readonly limiter: string,
    readonly retryAfterMs: number,
  ) {
    super(RateLimitedError.code, `Rate limit "${limiter}" exceeded; retry after ${retryAfterMs} ms`);
  }
}
export const isRateLimitedError = errorGuard<RateLimitedError>(RateLimitedError.code);
