// The watchdog that keeps auto-extended leases alive: one timer per extension interval, not one per lease.
import type { Clock, TimerHandle } from '@ballast/core';
import type { Held, LeaseOps } from './held-lease';

/**
 * Every auto-extended lease of one extension interval (ttl/3) sits in one insertion-ordered set, due times
 * ascending (each is re-added at the tail when extended), so ONE timer per interval — armed at the head's due
 * time — serves them all: taking and dropping a lease costs a set insert and delete, not a timer of its own.
 */
export interface WatchGroup {
  interval: number;
  leases: Set<Held>;
  timer: TimerHandle | undefined;
}

export class Watchdog {
  readonly #clock: Clock;
  readonly #ops: LeaseOps;
  readonly #groups = new Map<number, WatchGroup>(); // extension interval → leases
  #closed = false;

  /** `ops.extend` is what extends a due lease: it must never reject. */
  constructor(clock: Clock, ops: LeaseOps) {
    this.#clock = clock;
    this.#ops = ops;
  }

  /** Puts `h` at the tail of its interval's watchdog group (due one interval from `now`). */
  watch(h: Held, now: number): void {
    const interval = Math.max(1, Math.floor(h.ttlMs / 3));
    let g = this.#groups.get(interval);
    if (!g) {
      g = { interval, leases: new Set(), timer: undefined };
      this.#groups.set(interval, g);
    }
    h.group = g;
    h.due = now + interval;
    g.leases.add(h);
    if (!g.timer) this.#arm(g, interval);
  }

  unwatch(h: Held): void {
    h.group?.leases.delete(h);
    h.group = undefined;
  }

  /** Called once `h.ttlMs` has changed: a new ttl means a new extension interval. */
  ttlChanged(h: Held): void {
    if (h.group && h.group.interval !== Math.max(1, Math.floor(h.ttlMs / 3))) {
      this.unwatch(h);
      this.watch(h, this.#clock.monotonic());
    }
  }

  /** Stops every timer; a group armed after this (an extension in flight changed its ttl) never extends. */
  close(): void {
    this.#closed = true;
    for (const g of this.#groups.values()) if (g.timer) this.#clock.clearTimeout(g.timer);
    this.#groups.clear();
  }

  #arm(g: WatchGroup, delay: number): void {
    g.timer = this.#clock.setTimeout(() => this.#tick(g), Math.max(1, delay));
    g.timer.unref?.();
  }

  /** Extends every lease of `g` that is due, moves it to the tail, and re-arms for the new head. */
  #tick(g: WatchGroup): void {
    g.timer = undefined;
    if (this.#closed) return;
    const now = this.#clock.monotonic();
    const due: Held[] = [];
    for (const h of g.leases) {
      if (h.due > now) break;
      due.push(h);
    }
    for (const h of due) {
      g.leases.delete(h);
      h.due = now + g.interval;
      g.leases.add(h);
      // The manager's extend never rejects: failures are logged and, past validity, turn into a lost lease.
      void this.#ops.extend(h, h.ttlMs);
    }
    for (const head of g.leases) {
      this.#arm(g, head.due - now);
      return;
    }
    this.#groups.delete(g.interval);
  }
}
