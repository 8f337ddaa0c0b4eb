import { AbortedError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { BrokenCircuitError, ShedError, TimeoutError } from '../errors';
import { HttpStatusError } from './errors';
import {
  describeFailure,
  isBreakerFailure,
  isIdempotentRequest,
  isRetryableError,
  isRetryableStatus,
  networkErrorCode,
  parseRetryAfter,
  retryAfterDelay,
} from './semantics';

const status = (s: number, extra: Partial<ConstructorParameters<typeof HttpStatusError>[0]> = {}) =>
  new HttpStatusError({ service: 'users', method: 'GET', url: 'http://x/users', status: s, ...extra });

/** What undici's fetch rejects with: TypeError('fetch failed') with the socket error as cause. */
const fetchFailed = (cause: unknown) => new TypeError('fetch failed', { cause });
const sysError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });

describe('isIdempotentRequest', () => {
  it.each(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'get', 'delete'])('%s is idempotent', (method) => {
    expect(isIdempotentRequest(method)).toBe(true);
  });

  it.each(['POST', 'PATCH', 'post'])('%s is not, unless it carries an Idempotency-Key', (method) => {
    expect(isIdempotentRequest(method)).toBe(false);
    expect(isIdempotentRequest(method, new Headers({ 'X-Other': '1' }))).toBe(false);
    expect(isIdempotentRequest(method, new Headers({ 'idempotency-key': 'k-1' }))).toBe(true);
  });

  it('the caller can override either way', () => {
    expect(isIdempotentRequest('POST', undefined, true)).toBe(true);
    expect(isIdempotentRequest('GET', undefined, false)).toBe(false);
    expect(isIdempotentRequest('PATCH', new Headers({ 'Idempotency-Key': 'k' }), false)).toBe(false);
  });
});

describe('retryable statuses', () => {
  it('5xx, 429 and 408 are retried and count against the breaker', () => {
    for (const s of [500, 502, 503, 504, 599, 429, 408]) {
      expect(isRetryableStatus(s)).toBe(true);
      expect(isRetryableError(status(s))).toBe(true);
      expect(isBreakerFailure(status(s))).toBe(true);
    }
  });

  it('other 4xx are neither retried nor breaker failures', () => {
    for (const s of [400, 401, 403, 404, 409, 422, 499]) {
      expect(isRetryableStatus(s)).toBe(false);
      expect(isRetryableError(status(s))).toBe(false);
      expect(isBreakerFailure(status(s))).toBe(false);
    }
  });
});

describe('network errors', () => {
  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'])(
    '%s is retried, on the error or its cause',
    (code) => {
      expect(isRetryableError(sysError(code))).toBe(true);
      expect(isRetryableError(fetchFailed(sysError(code)))).toBe(true);
      expect(isRetryableError(fetchFailed(new Error('wrapped', { cause: sysError(code) })))).toBe(true);
    },
  );

  it("undici's UND_ERR_* codes on cause are retried, except argument errors and aborts", () => {
    const undici = (code: string) => fetchFailed(Object.assign(new Error('other side closed'), { code }));
    expect(isRetryableError(undici('UND_ERR_SOCKET'))).toBe(true);
    expect(isRetryableError(undici('UND_ERR_CONNECT_TIMEOUT'))).toBe(true);
    expect(isRetryableError(undici('UND_ERR_HEADERS_TIMEOUT'))).toBe(true);
    expect(isRetryableError(undici('UND_ERR_INVALID_ARG'))).toBe(false);
    expect(isRetryableError(undici('UND_ERR_ABORTED'))).toBe(false);
  });

  it('finds the code inside an AggregateError (several addresses tried)', () => {
    const aggregate = new AggregateError([sysError('ECONNREFUSED'), sysError('ECONNREFUSED')], 'connect failed');
    expect(networkErrorCode(fetchFailed(aggregate))).toBe('ECONNREFUSED');
    expect(isRetryableError(fetchFailed(aggregate))).toBe(true);
  });

  it('ENOTFOUND and errors without a network code are not retried, but do count against the breaker', () => {
    expect(isRetryableError(fetchFailed(sysError('ENOTFOUND')))).toBe(false);
    expect(isRetryableError(new Error('boom'))).toBe(false);
    expect(isRetryableError(Object.assign(new TypeError('bad url'), { code: 'ERR_INVALID_URL' }))).toBe(false);
    expect(networkErrorCode(Object.assign(new TypeError('bad url'), { code: 'ERR_INVALID_URL' }))).toBeUndefined();
    expect(isBreakerFailure(fetchFailed(sysError('ENOTFOUND')))).toBe(true);
    expect(isBreakerFailure(new TimeoutError(10_000))).toBe(true);
  });

  it('a cause cycle does not loop forever', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(networkErrorCode(a)).toBeUndefined();
  });
});

describe('never retried', () => {
  it('timeouts are retried; open breakers, shed calls and aborts are not', () => {
    expect(isRetryableError(new TimeoutError(100))).toBe(true);
    expect(isRetryableError(new BrokenCircuitError('users', 'open'))).toBe(false);
    expect(isRetryableError(new ShedError('users', 'full'))).toBe(false);
    expect(isRetryableError(new AbortedError(undefined, { cause: sysError('ECONNRESET') }))).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('1', now)).toBe(1_000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('reads an HTTP-date relative to now, and a past date as 0', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thursday, 01-Jan-26 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 12:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent and invalid values', () => {
    for (const v of [null, undefined, '', 'soon', '-1', '1.5', '10s', 'Foo 1', 'Mon, 99 Zzz 2026 99:99:99 GMT']) {
      expect(parseRetryAfter(v, now)).toBeUndefined();
    }
  });

  it('retryAfterDelay uses it, capped at maxMs, and only for status errors that carry one', () => {
    expect(retryAfterDelay(status(429, { retryAfterMs: 1_000 }), 30_000)).toBe(1_000);
    expect(retryAfterDelay(status(503, { retryAfterMs: 3_600_000 }), 30_000)).toBe(30_000);
    expect(retryAfterDelay(status(503), 30_000)).toBeUndefined();
    expect(retryAfterDelay(new TimeoutError(5), 30_000)).toBeUndefined();
  });
});

describe('describeFailure (seed 003 retry log)', () => {
  it('names codes, statuses and timeouts as the seed logs them', () => {
    expect(describeFailure(fetchFailed(sysError('ECONNREFUSED')))).toBe('ECONNREFUSED');
    expect(describeFailure(status(503, { statusText: 'Service Unavailable' }))).toBe('503 Service Unavailable');
    expect(describeFailure(status(503))).toBe('503 Service Unavailable');
    expect(describeFailure(status(520))).toBe('520');
    expect(describeFailure(new TimeoutError(10_000))).toBe('timeout of 10000ms exceeded');
    expect(describeFailure(new Error('boom'))).toBe('boom');
  });
});
