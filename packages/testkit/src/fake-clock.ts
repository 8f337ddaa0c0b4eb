import type { Clock, TimerHandle } from '@ballast/core';

export interface PendingTimer {
  readonly id: number;
  /** When it fires, in the clock's `now()` ms. */
  readonly at: number;
  /** Repeat period for intervals. */
  readonly intervalMs: number | undefined;
}

interface Timer extends PendingTimer {
  at: number;
  seq: number;
  callback: () => void;
  handle: FakeTimerHandle;
}

class FakeTimerHandle implements TimerHandle {
  constructor(readonly id: number) {}
  unref(): this {
    return this;
  }
  ref(): this {
    return this;
  }
}

export interface FakeClockOptions {
  /** Starting `now()` in ms since the epoch. Default 2026-01-01T00:00:00Z. */
  now?: number;
}

export class FakeClockLoopError extends Error {
  override readonly name = 'FakeClockLoopError';
  constructor(limit: number) {
    super(`FakeClock.runAll ran ${limit} timers and more keep coming (an interval or a self-rescheduling timer?)`);
  }
}

// Captured at load so a test that fakes global timers cannot break the flush.
const realSetImmediate = globalThis.setImmediate;
const flushMicrotasks = () => new Promise<void>((resolve) => realSetImmediate(resolve));

/**
 * A `Clock` whose time moves only when the test says so. Timers fire in time order (ties in creation order);
 * after each callback the microtask queue is drained, so promise chains a timer starts (a retry loop, a
 * breaker's half-open probe) progress before the next timer fires.
 *
 * @example
 * const clock = new FakeClock();
 * const breaker = createBreaker({ clock, resetTimeoutMs: 30_000 });
 * await clock.advance(30_000); // now half-open, without waiting 30 s
 */
export class FakeClock implements Clock {
  #now: number;
  #monotonic = 0;
  #seq = 0;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();

  constructor(options: FakeClockOptions = {}) {
    this.#now = options.now ?? Date.UTC(2026, 0, 1);
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#monotonic;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.#add(callback, ms, undefined);
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.#add(callback, ms, Math.max(1, ms));
  }

  clearTimeout(handle: TimerHandle): void {
    if (handle instanceof FakeTimerHandle) this.#timers.delete(handle.id);
  }

  clearInterval(handle: TimerHandle): void {
    this.clearTimeout(handle);
  }

  /** Timers not yet fired (intervals count once), soonest first. */
  pendingTimers(): PendingTimer[] {
    return this.#ordered().map(({ id, at, intervalMs }) => ({ id, at, intervalMs }));
  }

  get pendingCount(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way at its own time, draining microtasks after
   * each. Timers scheduled by callbacks fire too if they fall inside the window.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance(ms) needs ms >= 0, got ${ms}`);
    const target = this.#monotonic + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.#ordered()[0];
      if (!next || this.#toMonotonic(next.at) > target) break;
      await this.#fire(next);
    }
    this.#moveTo(target);
    await flushMicrotasks();
  }

  /** Advances to the next pending timer and fires it (and any due at the same instant). Returns false if none. */
  async next(): Promise<boolean> {
    const first = this.#ordered()[0];
    if (!first) return false;
    await this.advance(this.#toMonotonic(first.at) - this.#monotonic);
    return true;
  }

  /** Fires timers until none is left. Throws after `limit` firings (an interval never ends). */
  async runAll(limit = 10_000): Promise<void> {
    let fired = 0;
    await flushMicrotasks();
    for (;;) {
      const next = this.#ordered()[0];
      if (!next) return;
      if (++fired > limit) throw new FakeClockLoopError(limit);
      await this.#fire(next);
    }
  }

  #add(callback: () => void, ms: number, intervalMs: number | undefined): TimerHandle {
    const id = this.#nextId++;
    const handle = new FakeTimerHandle(id);
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.#timers.set(id, { id, at: this.#now + delay, intervalMs, seq: this.#seq++, callback, handle });
    return handle;
  }

  #ordered(): Timer[] {
    return [...this.#timers.values()].sort((a, b) => a.at - b.at || a.seq - b.seq);
  }

  #toMonotonic(at: number): number {
    return this.#monotonic + (at - this.#now);
  }

  #moveTo(monotonicTarget: number): void {
    this.#now += monotonicTarget - this.#monotonic;
    this.#monotonic = monotonicTarget;
  }

  async #fire(timer: Timer): Promise<void> {
    this.#moveTo(Math.max(this.#monotonic, this.#toMonotonic(timer.at)));
    if (timer.intervalMs === undefined) {
      this.#timers.delete(timer.id);
    } else {
      timer.at = this.#now + timer.intervalMs;
      timer.seq = this.#seq++;
    }
    timer.callback();
    await flushMicrotasks();
  }
}
