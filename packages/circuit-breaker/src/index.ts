export {
  type BreakerState,
  type CallEvent,
  CircuitBreaker,
  circuitBreaker,
  type FailureEvent,
  type OpenReason,
  type OpossumStats,
  type RejectEvent,
  type ShedEvent,
  type StateChange,
} from './breaker';
export { type BulkheadOptions, BulkheadPolicy, bulkhead } from './bulkhead';
export {
  BreakerOptionsConflictError,
  BrokenCircuitError,
  InvalidArgumentError,
  isBreakerOptionsConflictError,
  isBrokenCircuitError,
  isInvalidArgumentError,
  isPolicyClosedError,
  isRateLimitedError,
  isRetryAfterTooLongError,
  isShedError,
  isTimeoutError,
  PolicyClosedError,
  RateLimitedError,
  RetryAfterTooLongError,
  ShedError,
  TimeoutError,
} from './errors';
export { type FallbackOptions, FallbackPolicy, type FallbackValue, fallback } from './fallback';
export { type FleetLink, type FleetMessage, RedisFleet, type RedisFleetOptions, redisFleet } from './fleet';
export { LatencyHistogram } from './histogram';
export {
  createHttpClient,
  describeFailure,
  type HttpBreakerOptions,
  HttpClient,
  HttpClientClosedError,
  type HttpClientOptions,
  type HttpRequestInit,
  type HttpRetryEvent,
  HttpStatusError,
  type HttpStatusErrorInit,
  type HttpTarget,
  httpClientOptionsSchema,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_METHODS,
  InvalidResponseError,
  isBreakerFailure,
  isHttpClientClosedError,
  isHttpStatusError,
  isIdempotentRequest,
  isInvalidResponseError,
  isRetryableError,
  isRetryableNetworkCode,
  isRetryableStatus,
  networkErrorCode,
  parseRetryAfter,
  RETRYABLE_NETWORK_CODES,
  retryAfterDelay,
} from './http/index';
export { type CacheTransport, MemoryCache } from './keyed';
export { type FromOpossumOptions, fromOpossum, type OpossumLike, type OpossumSource } from './opossum';
export {
  type BreakerOptions,
  breakerOptionsSchema,
  OPOSSUM_ALIASES,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
} from './options';
export type { Policy, PolicyContext, PolicyFn } from './policy';
export {
  type RateLimitDecision,
  type RateLimitOptions,
  type ResolvedRateLimitOptions,
  rateLimit,
  rateLimitOptionsSchema,
  TokenBucketLimiter,
} from './rate-limit';
export {
  type RedisRateLimitDecision,
  RedisRateLimiter,
  type RedisRateLimitOptions,
  redisRateLimit,
  redisRateLimitOptionsSchema,
} from './redis-rate-limit';
export {
  BreakerRegistry,
  type BreakerStats,
  getBreakerRegistry,
  type StatsSnapshot,
  type StatsSource,
  setBreakerRegistry,
  statsOf,
} from './registry';
export { type RetryEvent, type RetryOptions, RetryPolicy, retry } from './retry';
export { RetryBudget, type RetryBudgetOptions, retryBudget } from './retry-budget';
export type { TimeoutStrategy } from './timed';
export { type TimeoutOptions, TimeoutPolicy, timeout } from './timeout';
export type { OutcomeName, WindowCounts } from './window';
export { PolicyWrap, wrap } from './wrap';
