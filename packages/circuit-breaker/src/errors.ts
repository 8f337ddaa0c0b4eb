import { BallastError, errorGuard } from '@ballast/core';

/** The breaker is open (or half-open with every probe slot taken): the call was not attempted. */
export class BrokenCircuitError extends BallastError {
  static readonly code = 'BREAKER_OPEN';
  constructor(
    readonly breaker: string,
    readonly state: 'open' | 'half-open',
  ) {
    super(new.target.code, `Circuit breaker "${breaker}" is ${state}: call rejected`);
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
    super(new.target.code, message);
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
    super(new.target.code, `${what} timed out after ${timeoutMs} ms`);
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
    super(new.target.code, `Rate limit "${limiter}" exceeded; retry after ${retryAfterMs} ms`);
  }
}
export const isRateLimitedError = errorGuard<RateLimitedError>(RateLimitedError.code);

/**
 * `registry.get(name, options)` for a breaker that exists with other options: they would be ignored (the
 * breaker is made once), so the call is refused. `options` names the differing keys.
 */
export class BreakerOptionsConflictError extends BallastError {
  static readonly code = 'BREAKER_OPTIONS_CONFLICT';
  constructor(
    readonly breaker: string,
    readonly options: readonly string[],
  ) {
    super(
      new.target.code,
      `Breaker "${breaker}" already exists with other options (${options.join(', ')}): get it without options, or use another name`,
    );
  }
}
export const isBreakerOptionsConflictError = errorGuard<BreakerOptionsConflictError>(BreakerOptionsConflictError.code);

/**
 * The server asked to wait longer (`Retry-After`, or any `delayFor` override) than the caller allows
 * (`maxRetryAfterMs`): the retry gave up at once rather than retry before the server said. `cause` is the
 * error that carried the wait (an `HttpStatusError` with its `retryAfterMs`).
 */
export class RetryAfterTooLongError extends BallastError {
  static readonly code = 'RETRY_AFTER_TOO_LONG';
  constructor(
    /** What the server asked for, ms from when the answer came. */
    readonly retryAfterMs: number,
    readonly maxRetryAfterMs: number,
    cause: unknown,
  ) {
    super(
      new.target.code,
      `the server asked to retry after ${retryAfterMs} ms, more than maxRetryAfterMs (${maxRetryAfterMs} ms): gave up`,
      { cause },
    );
  }
}
export const isRetryAfterTooLongError = errorGuard<RetryAfterTooLongError>(RetryAfterTooLongError.code);

/**
 * A policy was handed something it cannot run: `execute(42)`, `wrap(undefined)`. Thrown (or rejected with)
 * before anything else happens — nothing is counted, retried or timed.
 */
export class InvalidArgumentError extends BallastError {
  static readonly code = 'INVALID_ARGUMENT';
  constructor(
    /** Who was called, e.g. `CircuitBreaker.execute`. */
    readonly where: string,
    /** The argument's name, e.g. `fn`. */
    readonly argument: string,
    readonly expected: string,
    /** The value received, described (`number 42`). */
    readonly received: string,
  ) {
    super(new.target.code, `${where}: ${argument} must be ${expected}, received ${received}`);
  }
}
export const isInvalidArgumentError = errorGuard<InvalidArgumentError>(InvalidArgumentError.code);

/**
 * The policy was closed (`close()`, a registry's or the process's shutdown): a call made afterwards is
 * refused, and a call still waiting on one of its timers (a timeout, a backoff, a bulkhead queue) is
 * settled with this error, its signal aborted with it.
 */
export class PolicyClosedError extends BallastError {
  static readonly code = 'POLICY_CLOSED';
  constructor(
    /** Which kind of policy: `Circuit breaker`, `Timeout`, `Bulkhead`, … */
    readonly policy: string,
    /** Its name, when it has one. */
    readonly policyName?: string,
  ) {
    super(
      new.target.code,
      `${policy}${policyName === undefined ? '' : ` "${policyName}"`} has been closed (shut down): call refused`,
    );
  }
}
export const isPolicyClosedError = errorGuard<PolicyClosedError>(PolicyClosedError.code);
