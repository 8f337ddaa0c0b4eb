/**
 * `@ballast/circuit-breaker/http`: the resilient HTTP client on its own, for browsers as much as for Node.
 * Its module graph has no Node builtin, no ioredis and no pino: bundlers targeting the browser pick a build
 * (`dist/http.browser.js`) on `@ballast/core/base` whose default logger is the console; Node gets the same
 * code on `@ballast/core`. Everything here is also exported by the main entry.
 */

export type { BreakerState, CircuitBreaker } from './breaker';
export {
  BrokenCircuitError,
  InvalidArgumentError,
  isBrokenCircuitError,
  isInvalidArgumentError,
  isPolicyClosedError,
  isShedError,
  isTimeoutError,
  PolicyClosedError,
  ShedError,
  TimeoutError,
} from './errors';
export * from './http/index';
export type { BreakerOptions } from './options';
export { type BreakerStats, statsOf } from './registry';
export { RetryBudget, type RetryBudgetOptions, retryBudget } from './retry-budget';
