/**
 * `@ballast/core/base`: the part of core that runs anywhere — browsers, workers, edge runtimes, Node.
 * Errors, typed options, backoff, clock, events, decorators, key building and the OTel telemetry helpers;
 * no Node builtin, no ioredis, no pino. Browser bundles (such as `@ballast/circuit-breaker/http`'s browser
 * build) import this entry; Node code imports `@ballast/core`, which exports all of this and more.
 *
 * There is no default logger here (core's is pino, for Node): code built on this entry takes a `Logger`
 * (any pino-compatible object) or brings its own default.
 */
export * from './backoff';
export * from './clock';
export * from './decorators';
export * from './errors';
export * from './events';
export * from './keys';
export type { Logger } from './logger';
export * from './options';
export * from './process-wide';
export * from './telemetry';
