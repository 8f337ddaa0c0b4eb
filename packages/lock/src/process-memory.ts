import { MemoryLatchBackend } from './backends/latch-memory';
import { MemoryLockBackend } from './backends/memory';
import { MemorySemaphoreBackend } from './backends/semaphore-memory';

// The in-process backends the primitives use when given neither `redis` nor `backend` (nor `clock`): one of each
// per module instance, so every multi-lock and read/write lock of a process shares its locks, every semaphore of
// one name its permits, every latch of one name its count.
let locks: MemoryLockBackend | undefined;
let semaphores: MemorySemaphoreBackend | undefined;
let latches: MemoryLatchBackend | undefined;

export function processLocks(): MemoryLockBackend {
  locks ??= new MemoryLockBackend();
  return locks;
}
export function processSemaphores(): MemorySemaphoreBackend {
  semaphores ??= new MemorySemaphoreBackend();
  return semaphores;
}
export function processLatches(): MemoryLatchBackend {
  latches ??= new MemoryLatchBackend();
  return latches;
}
