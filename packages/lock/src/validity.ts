// Lease validity, enforced: a held lease whose `validUntil` passes without a confirmed extension is lost.
import type { Clock, TimerHandle } from '@ballast/core';

/** What the validity timer needs of a held lease. */
export interface Valid {
  /** Monotonic ms: the start of the attempt (or confirmed extension) + ttl − drift. */
  validUntil: number;
  /** Its place in the timer's heap; -1 when not watched. */
  slot: number;
}

/**
 * Every held lease sits in one min-heap by `validUntil`, and ONE timer is armed for the earliest: when it
 * fires, each lease past its validity is handed to `onExpired` (the manager aborts its signal), whatever
 * Redis does — a frozen link keeps an extension unanswered, but it cannot keep the lease valid. Adding,
 * moving and removing a lease cost O(log n); the timer is re-armed only when a lease becomes the earliest
 * (a removed head leaves the timer armed: it fires, finds nothing due, and re-arms for the new head).
 */
export class ValidityTimer<T extends Valid> {
  readonly #clock: Clock;
  readonly #onExpired: (item: T) => void;
  readonly #heap: T[] = [];
  #timer: TimerHandle | undefined;
  #armedFor = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(clock: Clock, onExpired: (item: T) => void) {
    this.#clock = clock;
    this.#onExpired = onExpired;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Starts watching `item` (or re-sorts it after its `validUntil` changed). */
  watch(item: T): void {
    if (this.#closed) return;
    if (item.slot < 0) {
      item.slot = this.#heap.length;
      this.#heap.push(item);
      this.#up(item.slot);
    } else {
      this.#down(this.#up(item.slot));
    }
    const head = this.#heap[0]!;
    if (head.validUntil < this.#armedFor) this.#arm(head.validUntil);
  }

  unwatch(item: T): void {
    const i = item.slot;
    if (i < 0) return;
    item.slot = -1;
    const last = this.#heap.pop()!;
    if (i === this.#heap.length) return;
    this.#heap[i] = last;
    last.slot = i;
    this.#down(this.#up(i));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const item of this.#heap) item.slot = -1;
    this.#heap.length = 0;
  }

  #arm(at: number): void {
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#armedFor = at;
    // Rounded up: a timer never fires before `at` (one that fires early would only re-arm, but costs a wake-up).
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(0, Math.ceil(at - this.#clock.monotonic())));
    this.#timer.unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = this.#clock.monotonic();
    while (!this.#closed && this.#heap.length > 0 && this.#heap[0]!.validUntil <= now) {
      const item = this.#heap[0]!;
      this.unwatch(item);
      this.#onExpired(item);
    }
    const head = this.#heap[0];
    if (head && !this.#closed) this.#arm(head.validUntil);
  }

  #up(i: number): number {
    const heap = this.#heap;
    const item = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.validUntil <= item.validUntil) break;
      heap[i] = parent;
      parent.slot = i;
      i = p;
    }
    heap[i] = item;
    item.slot = i;
    return i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && heap[c + 1]!.validUntil < heap[c]!.validUntil) c++;
      const child = heap[c]!;
      if (child.validUntil >= item.validUntil) break;
      heap[i] = child;
      child.slot = i;
      i = c;
    }
    heap[i] = item;
    item.slot = i;
  }
}
