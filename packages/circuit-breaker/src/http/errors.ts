import { BallastError, errorGuard } from '@ballast/core';

/** Longest response body text an `HttpStatusError` keeps (its message shows less). */
export const MAX_ERROR_BODY_CHARS = 2_048;
const MESSAGE_BODY_CHARS = 200;

export interface HttpStatusErrorInit {
  service: string;
  method: string;
  url: string;
  status: number;
  statusText?: string;
  /** Response body text, already truncated by the caller (`truncateBody`). */
  body?: string;
  /** From the response's `Retry-After`, when it had a valid one. */
  retryAfterMs?: number;
  /** The unread response, while the client still owns it (inside a try). Not enumerable. */
  response?: Response;
}

/**
 * A service answered with a non-2xx status. The JSON helpers (`get`, `post`, …) throw it with the body text
 * (truncated); `request()` returns the `Response` instead, as `fetch` does. Inside a try it is also how a
 * status reaches the breaker's `isFailure` and the retry policy, with the unread `response` attached.
 */
export class HttpStatusError extends BallastError {
  static readonly code = 'HTTP_STATUS';
  readonly service: string;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly statusText: string;
  readonly body: string | undefined;
  readonly retryAfterMs: number | undefined;
  declare readonly response: Response | undefined;

  constructor(init: HttpStatusErrorInit) {
    const status = `${init.status}${init.statusText ? ` ${init.statusText}` : ''}`;
    const body = init.body
      ? `: ${init.body.slice(0, MESSAGE_BODY_CHARS)}${init.body.length > MESSAGE_BODY_CHARS ? '…' : ''}`
      : '';
    super(new.target.code, `${init.method} ${init.url} (service "${init.service}") failed with ${status}${body}`);
    this.service = init.service;
    this.method = init.method;
    this.url = init.url;
    this.status = init.status;
    this.statusText = init.statusText ?? '';
    this.body = init.body;
    this.retryAfterMs = init.retryAfterMs;
    // Not enumerable: a Response does not belong in logged or serialised errors.
    Object.defineProperty(this, 'response', { value: init.response, enumerable: false, writable: false });
  }
}
export const isHttpStatusError = errorGuard<HttpStatusError>(HttpStatusError.code);

/** A 2xx response whose body was not the JSON a helper (`get`, `post`, …) expected. */
export class InvalidResponseError extends BallastError {
  static readonly code = 'HTTP_INVALID_RESPONSE';
  constructor(
    readonly service: string,
    readonly url: string,
    cause: unknown,
  ) {
    super(new.target.code, `Response from ${url} (service "${service}") is not valid JSON`, { cause });
  }
}
export const isInvalidResponseError = errorGuard<InvalidResponseError>(InvalidResponseError.code);

/** `text` cut to `max` characters, marked with `…` when cut. */
export function truncateBody(text: string, max = MAX_ERROR_BODY_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A request was made after `client.close()`, or was still running when it was called. */
export class HttpClientClosedError extends BallastError {
  static readonly code = 'HTTP_CLIENT_CLOSED';
  constructor() {
    super(new.target.code, 'The HTTP client is closed');
  }
}
export const isHttpClientClosedError = errorGuard<HttpClientClosedError>(HttpClientClosedError.code);
