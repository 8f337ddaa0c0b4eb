import { type Clock, systemClock } from '@ballast/core';
import type { LatchBackend } from '../latch-backend';
import { LockBackendClosedError } from './errors';
import { MemoryWakeups } from './memory-wakeups';

/** In-process latches with the Redis backend's rules; wake-ups on a microtask. Share one instance in a process. */
export class MemoryLatchBackend implements LatchBackend {
  readonly kind = 'memory latch backend';
  readonly #clock: Clock;
  readonly #counts = new Map<string, { count: number; expiresAt: number }>();
  readonly #wakeups = new MemoryWakeups();
  #closed = false;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  #get(name: string, operation: string) {
    if (this.#closed) throw new LockBackendClosedError('MemoryLatchBackend', operation);
    const e = this.#counts.get(name);
    if (e && e.expiresAt <= this.#clock.now()) {
      this.#counts.delete(name);
      return undefined;
    }
    return e;
  }

  async trySetCount(name: string, count: number, ttlMs: number): Promise<boolean> {
    if (this.#get(name, 'trySetCount')) return false;
    this.#counts.set(name, {
      count,
      expiresAt: ttlMs > 0 ? this.#clock.now() + ttlMs : Number.POSITIVE_INFINITY,
    });
    return true;
  }

  async countDown(name: string): Promise<number> {
    const e = this.#get(name, 'countDown');
    if (!e) return 0;
    e.count--;
    if (e.count > 0) return e.count;
    this.#counts.delete(name);
    this.#wakeups.wake(name);
    return 0;
  }

  async getCount(name: string): Promise<number> {
    return this.#get(name, 'getCount')?.count ?? 0;
  }

  onOpen(name: string, listener: () => void): { off: () => void } {
    if (this.#closed) throw new LockBackendClosedError('MemoryLatchBackend', 'onOpen');
    return this.#wakeups.on(name, listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#counts.clear();
    this.#wakeups.clear();
  }
}
