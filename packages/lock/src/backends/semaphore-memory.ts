import { type Clock, systemClock } from '@ballast/core';
import type { SemaphoreAttempt, SemaphoreBackend } from '../semaphore-backend';
import { LockBackendClosedError } from './errors';
import { MemoryWakeups } from './memory-wakeups';

interface Holder {
  permits: number;
  expiresAt: number;
}

/**
 * In-process semaphores with the Redis backend's rules (the semaphore-*.lua scripts): every operation first
 * drops holders whose lease ran out (`clock.now()`), then decides synchronously. Release wake-ups are delivered
 * on a microtask, as pub/sub delivers them later too. Share one instance between the semaphores of a process.
 */
export class MemorySemaphoreBackend implements SemaphoreBackend {
  readonly kind = 'memory semaphore backend';
  readonly #clock: Clock;
  readonly #sems = new Map<string, Map<string, Holder>>();
  readonly #wakeups = new MemoryWakeups();
  #closed = false;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  #live(name: string, operation: string): Map<string, Holder> {
    if (this.#closed) throw new LockBackendClosedError('MemorySemaphoreBackend', operation);
    const now = this.#clock.now();
    let holders = this.#sems.get(name);
    if (!holders) {
      holders = new Map();
      this.#sems.set(name, holders);
    }
    for (const [id, h] of holders) if (h.expiresAt <= now) holders.delete(id);
    return holders;
  }

  #tidy(name: string, holders: Map<string, Holder>): void {
    if (holders.size === 0) this.#sems.delete(name);
  }

  async tryAcquire(
    name: string,
    holder: string,
    permits: number,
    limit: number,
    ttlMs: number,
  ): Promise<SemaphoreAttempt> {
    const holders = this.#live(name, 'tryAcquire');
    const now = this.#clock.now();
    let used = 0;
    let first = Number.POSITIVE_INFINITY;
    for (const h of holders.values()) {
      used += h.permits;
      first = Math.min(first, h.expiresAt);
    }
    if (holders.has(holder)) throw new Error(`semaphore holder id "${holder}" is in use`);
    if (used + permits > limit) {
      this.#tidy(name, holders);
      return { acquired: false, retryAfterMs: first === Number.POSITIVE_INFINITY ? 0 : first - now };
    }
    holders.set(holder, { permits, expiresAt: now + Math.ceil(ttlMs) });
    return { acquired: true, left: limit - used - permits };
  }

  async extend(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const holders = this.#live(name, 'extend');
    const h = holders.get(holder);
    this.#tidy(name, holders);
    if (!h) return false;
    h.expiresAt = this.#clock.now() + Math.ceil(ttlMs);
    return true;
  }

  async release(name: string, holder: string): Promise<boolean> {
    const holders = this.#live(name, 'release');
    const held = holders.delete(holder);
    this.#tidy(name, holders);
    // A holder whose lease ran out was dropped above: its permits were free already, and waiters were woken
    // by nobody — wake them now too, as the Redis script publishes on every release of a known holder.
    this.#wake(name);
    return held;
  }

  async available(name: string, limit: number): Promise<number> {
    const holders = this.#live(name, 'available');
    let used = 0;
    for (const h of holders.values()) used += h.permits;
    this.#tidy(name, holders);
    return Math.max(0, limit - used);
  }

  onRelease(name: string, listener: () => void): { off: () => void } {
    if (this.#closed) throw new LockBackendClosedError('MemorySemaphoreBackend', 'onRelease');
    return this.#wakeups.on(name, listener);
  }

  #wake(name: string): void {
    this.#wakeups.wake(name);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#sems.clear();
    this.#wakeups.clear();
  }
}
