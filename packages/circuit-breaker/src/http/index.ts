export { createHttpClient, HttpClient } from './client';
export {
  HttpClientClosedError,
  HttpStatusError,
  type HttpStatusErrorInit,
  InvalidResponseError,
  isHttpClientClosedError,
  isHttpStatusError,
  isInvalidResponseError,
} from './errors';
export {
  type HttpBreakerOptions,
  type HttpClientOptions,
  type HttpRequestInit,
  type HttpRetryEvent,
  type HttpTarget,
  httpClientOptionsSchema,
} from './options';
export {
  describeFailure,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_METHODS,
  isBreakerFailure,
  isIdempotentRequest,
  isRetryableError,
  isRetryableNetworkCode,
  isRetryableStatus,
  networkErrorCode,
  parseRetryAfter,
  RETRYABLE_NETWORK_CODES,
  retryAfterDelay,
} from './semantics';
