/** @ballast/discovery: registry + health checks + cached, watched discovery with a fallback chain. */
export {
  type CheckDefinition,
  type DiscoveryBackend,
  type InstanceStatus,
  instanceUrl,
  type QueryOptions,
  type QueryResult,
  type RegistrationSpec,
  type ServiceInstance,
} from './backend';
export { ConsulBackend, type ConsulBackendOptions, checkIdFor } from './backends/consul';
export { MemoryBackend, type MemoryBackendOptions } from './backends/memory';
export { RedisBackend, type RedisBackendOptions } from './backends/redis';
export { type ConsulClient, type ConsulConnection, type ConsulHealthEntry, createConsulClient } from './consul-client';
export {
  createDiscovery,
  Discovery,
  defaultEnvVar,
  type LookupOptions,
  type LookupResult,
  type LookupSource,
} from './discovery';
export {
  DiscoveryBackendError,
  isDiscoveryBackendError,
  isRegistrationLostError,
  isServiceUnavailableError,
  RegistrationLostError,
  ServiceUnavailableError,
} from './errors';
export {
  aggregate,
  type CheckOutcome,
  type CheckResult,
  createHealthChecker,
  type HealthCheck,
  type HealthChecker,
  type HealthCheckFn,
  type HealthReport,
  type HealthStatus,
  httpCheck,
  redisCheck,
  type StatusChangeListener,
} from './health';
export type { DiscoveryOptions, HealthCheckerOptions, RegisterOptions } from './options';
export { Picker, type PickStrategy, routable } from './pickers';
export type { Registration } from './registry';
export { runningWatches } from './shared';
export { nextIndex, RateLimiter, ServiceWatch, type WatchSnapshot } from './watch';
