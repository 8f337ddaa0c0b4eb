export {
  type BackendCallOptions,
  type BackendName,
  BackendTimeoutError,
  BackendUnavailableError,
  boundBackendCall,
  DEFAULT_COMMAND_TIMEOUT_MS,
  isBackendFailure,
  isBackendUnavailableError,
  toBackendError,
} from './backend';
export {
  type Backoff,
  type BackoffOptions,
  backoffDelay,
  backoffFromResolved,
  backoffOptionsSchema,
  createBackoff,
  type Jitter,
  type ResolvedBackoffOptions,
} from './backoff';
export {
  type BlockingQueryLoopOptions,
  nextBlockingIndex,
  RateLimiter,
  runBlockingQueryLoop,
} from './blocking-query';
export { type Clock, MAX_TIMER_MS, sleep, systemClock, type TimerHandle } from './clock';
export {
  type ConnectionEvents,
  type OutageLog,
  outageLog,
  type WatchConnectionOptions,
  watchConnection,
} from './connection-watch';
export {
  type ConsulEndpoint,
  type ConsulTlsOptions,
  DEFAULT_CONSUL_ADDR,
  InvalidConsulConfigError,
  type ResolveConsulEndpointOptions,
  resolveConsulEndpoint,
} from './consul';
export {
  type AnyMethod,
  createMethodDecorator,
  type DecoratedMethod,
  DecoratorTargetError,
  type DualMethodDecorator,
  inheritMethodIdentity,
} from './decorators';
export {
  AbortedError,
  abortedError,
  BallastError,
  type BallastErrorOptions,
  errorGuard,
  InvalidOptionsError,
  isAbortedError,
  isBallastError,
  isInvalidOptionsError,
  type OptionIssue,
  throwIfAborted,
} from './errors';
export {
  type Event,
  EventEmitter,
  type ListenerErrorHandler,
  setListenerErrorHandler,
  type Unsubscribe,
} from './events';
export {
  createKeyBuilder,
  hashSlot,
  hashTag,
  InvalidKeyError,
  type KeyBuilder,
  type KeyBuilderOptions,
  keyPrefix,
  prefixKey,
} from './keys';
export {
  type Closeable,
  type CloseFn,
  getShutdownRegistry,
  handleSignals,
  type RegisterOptions,
  ShutdownRegistry,
  type ShutdownRegistryOptions,
  type ShutdownReport,
  type ShutdownStep,
  ShutdownTimeoutError,
  type SignalHandlingOptions,
  setShutdownRegistry,
} from './lifecycle';
export {
  type CreateLoggerOptions,
  childLogger,
  createLogger,
  DEFAULT_REDACT_PATHS,
  getDefaultLogger,
  type Logger,
  redactUrl,
  setDefaultLogger,
} from './logger';
export {
  createScriptBatcher,
  defineScript,
  type LuaScript,
  loadScripts,
  runScript,
  type ScriptArg,
  type ScriptBatcher,
  type ScriptClient,
} from './lua';
export {
  clockSchema,
  customCheck,
  describeIssues,
  describeValue,
  formatPath,
  functionSchema,
  loggerSchema,
  objectSchema,
  optionsOrEmpty,
  parseOptions,
} from './options';
export { type ProcessSlot, processSlot } from './process-wide';
export {
  Cluster,
  type ClusterOptions,
  coalesceWrites,
  createRedis,
  duplicateClient,
  InvalidRedisUrlError,
  isCluster,
  parseRedisUrl,
  Redis,
  type RedisClient,
  type RedisClusterClient,
  type RedisConnectionOptions,
  type RedisEndpoint,
  type RedisNodeClient,
  type RedisOptions,
  type RedisPipeline,
} from './redis';
export { blockingMs, type GuardRedisOptions, guardRedis, isThenable, unguardedRedis } from './redis-guard';
export { type WaitForReplicasOptions, waitForReplicas } from './redis-wait';
export { globEscape, scanKeys } from './scan';
export {
  type Attributes,
  extractTraceContext,
  getMeter,
  getTracer,
  injectTraceContext,
  type Meter,
  metricName,
  type Span,
  type TraceCarrier,
  type Tracer,
  withSpan,
} from './telemetry';
export { type TimeoutEntry, TimeoutQueue } from './timeout-queue';
