import { type Clock, MAX_TIMER_MS, type TimerHandle } from '@ballast/core';

/** One pending deadline; `expire` runs if it is still queued when its time comes. */
export interface Deadline {
  at: number;
  expire(): void;
  /** The queue was closed with the deadline pending: settle with `reason`. */
  close(reason: unknown): void;
  /** @internal linked-list links */
  prev: Deadline | undefined;
  next: Deadline | undefined;
  queued: boolean;
}

/**
 * Many deadlines, one timer. Calls under one timeout policy get deadlines in arrival order, so adding is an
 * append and finishing is an unlink — O(1), no `setTimeout`/`clearTimeout` per call (cockatiel arms and
 * clears a timer for every call). The single timer is armed for the head and re-armed lazily when it fires.
 * The timer is unref'd: a pending deadline alone does not keep the process alive.
 */
export class DeadlineQueue {
  #head: Deadline | undefined;
  #tail: Deadline | undefined;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: Clock) {}

  add(d: Deadline): void {
    d.queued = true;
    // Usually the latest deadline: append. Otherwise walk back from the tail to keep the list sorted.
    let after = this.#tail;
    while (after && after.at > d.at) after = after.prev;
    d.prev = after;
    d.next = after ? after.next : this.#head;
    if (d.next) d.next.prev = d;
    else this.#tail = d;
    if (after) after.next = d;
    else this.#head = d;
    if (d.at < this.#timerAt) this.#arm(d.at);
  }

  remove(d: Deadline): void {
    if (!d.queued) return;
    d.queued = false;
    if (d.prev) d.prev.next = d.next;
    else this.#head = d.next;
    if (d.next) d.next.prev = d.prev;
    else this.#tail = d.prev;
    d.prev = undefined;
    d.next = undefined;
  }

  get isEmpty(): boolean {
    return this.#head === undefined;
  }

  /**
   * Clears the timer and unlinks every pending deadline, then tells each it was closed (`close(reason)`), so
   * nothing waits on a timer that will never fire. The queue stays usable: a deadline finishing later unlinks
   * as a no-op, and a new one re-arms the timer.
   */
  close(reason: unknown): void {
    if (this.#timer) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const pending: Deadline[] = [];
    for (let d = this.#head; d; ) {
      const next = d.next;
      d.queued = false;
      d.prev = undefined;
      d.next = undefined;
      pending.push(d);
      d = next;
    }
    this.#head = undefined;
    this.#tail = undefined;
    for (const d of pending) d.close(reason);
  }

  #arm(at: number): void {
    if (this.#timer) this.clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    // Capped at Node's timer limit; #fire re-arms if it wakes before the head is due.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.clock.monotonic()));
    this.#timer = this.clock.setTimeout(() => this.#fire(), delay);
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.monotonic();
    // Re-read the head each time: an expire() may remove other due deadlines, which must not expire.
    for (let d = this.#head; d && d.at <= now; d = this.#head) {
      this.remove(d);
      d.expire();
    }
    if (this.#head) this.#arm(this.#head.at);
  }
}
