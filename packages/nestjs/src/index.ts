/** @ballast/nestjs: BallastModule (DI), auto-registration of Ballast's decorators, ordered shutdown, health. */
export { ballastQueue } from './current';
export {
  BallastHealthCheckError,
  BallastNotConfiguredError,
  isBallastHealthCheckError,
  isBallastNotConfiguredError,
  isQueueNotRegisteredError,
  QueueNotRegisteredError,
} from './errors';
export { BallastExplorer, type Found, type FoundHandler, type FoundTask } from './explorer';
export { BallastHealthIndicator, type BallastHealthResult, type QueueHealthOptions } from './health';
export {
  InjectBreakers,
  InjectBus,
  InjectConfig,
  InjectDiscovery,
  InjectLockManager,
  InjectQueue,
  InjectRedis,
  InjectSagas,
} from './inject';
export { BallastLifecycle, SHUTDOWN_STEPS } from './lifecycle';
export { BallastModule } from './module';
export {
  type BallastModuleAsyncOptions,
  type BallastModuleOptions,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  type QueueRegistration,
  type RedisInput,
} from './options';
export { BallastResources } from './resources';
export { BALLAST_OPTIONS, getQueueToken, getRedisToken } from './tokens';
