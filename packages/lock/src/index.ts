export type { AcquireOptions, AcquireResult, LockBackend, LockHolders, LockMode } from './backend';
export { MemoryLockBackend } from './backends/memory';
export { RedisLockBackend, type RedisLockBackendOptions } from './backends/redis';
export { RedlockBackend, type RedlockBackendOptions, redlockOptionsSchema } from './backends/redlock';
export { type LockKey, renderLockKey, WithLock, type WithLockOptions } from './decorators';
export * from './errors';
export { type FencedSetOptions, fencedSet } from './fencing';
export { lockKeys } from './keys';
export type { Lease } from './lease';
export { createLockManager, getLockManager, LockManager, type LockStats, setLockManager } from './manager';
export {
  type AcquireLockOptions,
  acquireOptionsSchema,
  type LockManagerOptions,
  managerOptionsSchema,
} from './options';
