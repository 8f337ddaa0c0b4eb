import { createLogger } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { CountDownLatch } from '../src/latch';
import { LockManager } from '../src/manager';
import { MultiLock } from '../src/multi-lock';
import { ReadWriteLock } from '../src/rw-lock';
import { Semaphore } from '../src/semaphore';
import { type PrimitiveWorld, primitivesContract } from './primitives.contract';

const fx = useRedisFixture({ name: 'lock-primitives' });
const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

primitivesContract('redis', async (): Promise<PrimitiveWorld> => {
  const { redis, prefix } = fx.current;
  const closers: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(x: T) => {
    closers.push(x);
    return x;
  };
  let n = 0;
  return {
    // Each client its own object (its own subscriber connection): another process, as far as Redis can tell.
    semaphore: (name, permits, o = {}) => track(new Semaphore({ name, permits, redis, prefix, logger, ...o })),
    latch: (name, o = {}) => track(new CountDownLatch({ name, redis, prefix, logger, ...o })),
    multi: (o = {}) => track(new MultiLock({ redis, prefix, logger, ...o })),
    rw: (o = {}) => track(new ReadWriteLock({ redis, prefix, logger, ...o })),
    manager: () => track(new LockManager({ redis, prefix, logger })),
    // Real leases on a real server: time has to pass for them to run out.
    pass: (ms) => sleep(ms),
    key: (name) => `${name}-${++n}`,
    sameSlotKeys: () => ['s1', 's2'],
    async close() {
      for (const c of closers.splice(0)) await c.close();
    },
  };
});
