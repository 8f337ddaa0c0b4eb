import { createLogger } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { MemoryLatchBackend } from '../src/backends/latch-memory';
import { MemoryLockBackend } from '../src/backends/memory';
import { MemorySemaphoreBackend } from '../src/backends/semaphore-memory';
import { CountDownLatch } from '../src/latch';
import { LockManager } from '../src/manager';
import { MultiLock } from '../src/multi-lock';
import { ReadWriteLock } from '../src/rw-lock';
import { Semaphore } from '../src/semaphore';
import { type PrimitiveWorld, primitivesContract } from './primitives.contract';

const logger = createLogger({ level: 'silent' });

primitivesContract('memory (fake clock)', async (): Promise<PrimitiveWorld> => {
  const clock = new FakeClock();
  const locks = new MemoryLockBackend({ clock });
  const semaphores = new MemorySemaphoreBackend({ clock });
  const latches = new MemoryLatchBackend({ clock });
  const closers: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(x: T) => {
    closers.push(x);
    return x;
  };
  let n = 0;
  return {
    semaphore: (name, permits, o = {}) =>
      track(new Semaphore({ name, permits, backend: semaphores, clock, logger, ...o })),
    latch: (name, o = {}) => track(new CountDownLatch({ name, backend: latches, clock, logger, ...o })),
    multi: (o = {}) => track(new MultiLock({ backend: locks, clock, logger, ...o })),
    rw: (o = {}) => track(new ReadWriteLock({ backend: locks, clock, logger, ...o })),
    manager: () => track(new LockManager({ backend: locks, clock, logger })),
    pass: (ms) => clock.advance(ms),
    key: (name) => `${name}-${++n}`,
    async close() {
      for (const c of closers.splice(0)) await c.close();
    },
  };
});
