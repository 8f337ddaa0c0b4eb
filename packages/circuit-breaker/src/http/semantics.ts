/**
 * HTTP retry semantics (seed 003's API gateway), as pure functions: which requests may be retried, which
 * failures are worth retrying, which count against a service's breaker, and how long `Retry-After` asks to
 * wait. No I/O, no clock: the client passes `now`.
 */
import { isAbortedError } from '@ballast/core';
import { isBrokenCircuitError, isShedError, isTimeoutError } from '../errors';
import { isHttpStatusError } from './errors';

/** Methods HTTP defines as idempotent (seed 003: GET, HEAD, OPTIONS, PUT, DELETE): retried by default. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Request header that makes a POST or PATCH safe to retry (the server deduplicates by it). */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/**
 * Transient socket and resolver errors: the request may not have reached the service, or the connection
 * broke; another try (possibly on another instance) can succeed. `ENOTFOUND` is deliberately absent: it is
 * a definitive "no such host" answer that a retry 500 ms later will not change (a temporary resolver failure
 * is `EAI_AGAIN`). It still counts as a breaker failure.
 */
export const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * undici errors (`UND_ERR_*`) are retryable except these: a bad argument or an unsupported feature fails the
 * same way every time, and an abort is the caller's decision.
 */
const NON_RETRYABLE_UNDICI_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_INVALID_RETURN_VALUE',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_ABORTED',
]);

/** The method upper-cased, as `fetch` normalises it; GET when absent. */
export function normalizeMethod(method: string | undefined): string {
  return method ? method.toUpperCase() : 'GET';
}

/**
 * Whether a request may be sent more than once: `override` (the caller's `idempotent`) when given; else
 * idempotent methods; POST/PATCH (and any other method) only with an `Idempotency-Key` header.
 */
export function isIdempotentRequest(method: string, headers?: Headers, override?: boolean): boolean {
  if (override !== undefined) return override;
  if (IDEMPOTENT_METHODS.has(normalizeMethod(method))) return true;
  return headers?.has(IDEMPOTENCY_KEY_HEADER) === true;
}

/** Statuses worth another try and counted as the service's failure: 5xx, 429 Too Many Requests, 408. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * The error code of a network failure. undici's `fetch` rejects with `TypeError('fetch failed')` and puts
 * the socket error on `cause` (`cause.code`), sometimes one level deeper, or in an `AggregateError`'s
 * `errors` (several addresses tried). Searches the error itself first, then its causes.
 */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && isNetworkCode(code)) return code;
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors)) {
      for (const inner of errors) {
        const innerCode = (inner as { code?: unknown } | null)?.code;
        if (typeof innerCode === 'string' && isNetworkCode(innerCode)) return innerCode;
      }
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** errno-style codes (`ECONNRESET`, `EAI_AGAIN`) and undici's; not Node's `ERR_*` API codes. */
function isNetworkCode(code: string): boolean {
  return (/^E[A-Z0-9_]+$/.test(code) && !code.startsWith('ERR_')) || code.startsWith('UND_ERR_');
}

/** True for codes a retry can fix (see `RETRYABLE_NETWORK_CODES`, and undici's `UND_ERR_*`). */
export function isRetryableNetworkCode(code: string): boolean {
  if (RETRYABLE_NETWORK_CODES.has(code)) return true;
  return code.startsWith('UND_ERR_') && !NON_RETRYABLE_UNDICI_CODES.has(code);
}

/**
 * Seed 003's `isRetryableError`: network errors, timeouts, 5xx, 429 and 408. Never other 4xx, an open or
 * saturated breaker (retrying would defeat it), or an aborted call.
 */
export function isRetryableError(error: unknown): boolean {
  if (isHttpStatusError(error)) return isRetryableStatus(error.status);
  if (isTimeoutError(error)) return true;
  if (isBrokenCircuitError(error) || isShedError(error) || isAbortedError(error)) return false;
  const code = networkErrorCode(error);
  return code !== undefined && isRetryableNetworkCode(code);
}

/**
 * Whether a failed try counts against the service's breaker: a status only when it is the service's fault
 * (5xx, 429, 408); every other error (network, timeout) does. A 404 or 422 is the caller's problem.
 */
export function isBreakerFailure(error: unknown): boolean {
  if (isHttpStatusError(error)) return isRetryableStatus(error.status);
  return true;
}

const DELTA_SECONDS = /^\d+$/;
/** IMF-fixdate, RFC 850 and asctime all start with a day name. */
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s/;

/**
 * `Retry-After` in ms from `now`: delta-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`;
 * a date in the past means 0). Undefined when absent or not valid (a negative or fractional number, junk).
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (DELTA_SECONDS.test(v)) return Number(v) * 1000;
  if (!HTTP_DATE.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * The delay a failed try asks for: its `Retry-After`, capped at `maxMs`; undefined to keep the backoff.
 * Used as the retry policy's `delayFor`.
 */
export function retryAfterDelay(error: unknown, maxMs: number): number | undefined {
  if (!isHttpStatusError(error) || error.retryAfterMs === undefined) return undefined;
  return Math.min(error.retryAfterMs, maxMs);
}

const REASONS: Record<number, string> = {
  408: 'Request Timeout',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * What failed, as seed 003's retry log shows it: `ECONNREFUSED`, `503 Service Unavailable`,
 * `timeout of 10000ms exceeded`; otherwise the error's message.
 */
export function describeFailure(error: unknown): string {
  if (isHttpStatusError(error)) {
    const reason = error.statusText || REASONS[error.status];
    return reason ? `${error.status} ${reason}` : String(error.status);
  }
  if (isTimeoutError(error)) return `timeout of ${error.timeoutMs}ms exceeded`;
  const code = networkErrorCode(error);
  if (code !== undefined) return code;
  if (error instanceof Error) return error.message;
  return String(error);
}
