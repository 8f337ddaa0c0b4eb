export type {
  AcquireOptions,
  AcquireResult,
  LockBackend,
  LockHolders,
  LockInspection,
  LockMode,
} from './backend';
export { MemoryLatchBackend } from './backends/latch-memory';
export { RedisLatchBackend, type RedisLatchBackendOptions } from './backends/latch-redis';
export { MemoryLockBackend } from './backends/memory';
export { RedisLockBackend, type RedisLockBackendOptions } from './backends/redis';
export { RedlockBackend, type RedlockBackendOptions, redlockOptionsSchema } from './backends/redlock';
export { MemorySemaphoreBackend } from './backends/semaphore-memory';
export { RedisSemaphoreBackend, type RedisSemaphoreBackendOptions } from './backends/semaphore-redis';
export { type LockKey, renderLockKey, WithLock, type WithLockOptions } from './decorators';
export * from './errors';
export { type FencedSetOptions, fencedSet } from './fencing';
export {
  type LockInfo,
  LockInspector,
  type LockInspectorOptions,
  type LockListOptions,
} from './inspect';
export { lockKeys } from './keys';
export { CountDownLatch, type CountDownLatchOptions, createCountDownLatch, type LatchAwaitOptions } from './latch';
export type { LatchBackend } from './latch-backend';
export type { Lease } from './lease';
export { createLockManager, getLockManager, LockManager, type LockStats, setLockManager } from './manager';
export {
  createMultiLock,
  type MultiAcquireOptions,
  type MultiLease,
  MultiLock,
  type MultiLockOptions,
} from './multi-lock';
export {
  type AcquireLockOptions,
  acquireOptionsSchema,
  type LockManagerOptions,
  managerOptionsSchema,
} from './options';
export { type SemaphoreSource, WithPermit, type WithPermitOptions } from './primitive-decorators';
export * from './primitive-errors';
export {
  createReadWriteLock,
  ReadWriteLock,
  type ReadWriteLockOptions,
  type RwAcquireOptions,
  type RwLease,
} from './rw-lock';
export { createSemaphore, type Permit, type PermitOptions, Semaphore, type SemaphoreOptions } from './semaphore';
export type { SemaphoreAttempt, SemaphoreBackend } from './semaphore-backend';
