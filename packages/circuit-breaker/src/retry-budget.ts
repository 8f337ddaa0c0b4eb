import { type Clock, clockSchema, parseOptions, systemClock } from '@ballast/core';
import { z } from 'zod';

const budgetSchema = z
  .object({
    /** Retries allowed as a share of first attempts in the window (0.2 = retries ≤ 20 % of requests). */
    ratio: z.number().min(0).max(10).default(0.2),
    /** Retries always allowed per second, so a quiet client can still retry. */
    minRetriesPerSecond: z.number().min(0).default(10),
    /** Window the ratio is measured over. */
    windowMs: z.number().positive().default(10_000),
    clock: clockSchema().optional(),
  })
  .strict();

export type RetryBudgetOptions = z.input<typeof budgetSchema>;

const SLOTS = 10;

/**
 * A client-wide retry budget (Finagle's, gRPC's retry throttling): retries may not exceed `ratio` of
 * requests over the last `windowMs`, plus a small floor. When a dependency is down, every request fails, and
 * without a budget each would be retried N times — a fleet amplifying the outage N-fold. With it, load on
 * the dependency stays within (1 + ratio)× of normal.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #floor: number;
  readonly #slotMs: number;
  readonly #clock: Clock;
  readonly #requests = new Float64Array(SLOTS);
  readonly #retries = new Float64Array(SLOTS);
  #requestSum = 0;
  #retrySum = 0;
  #slot = 0;
  #slotStart: number;

  constructor(options: RetryBudgetOptions = {}) {
    const o = parseOptions(budgetSchema, options, 'RetryBudget');
    this.#ratio = o.ratio;
    this.#floor = (o.minRetriesPerSecond * o.windowMs) / 1000;
    this.#slotMs = o.windowMs / SLOTS;
    this.#clock = o.clock ?? systemClock;
    this.#slotStart = this.#clock.monotonic();
  }

  #advance(): void {
    const now = this.#clock.monotonic();
    const steps = Math.floor((now - this.#slotStart) / this.#slotMs);
    if (steps <= 0) return;
    this.#slotStart += steps * this.#slotMs;
    for (let i = 0; i < Math.min(steps, SLOTS); i++) {
      this.#slot = (this.#slot + 1) % SLOTS;
      this.#requestSum -= this.#requests[this.#slot]!;
      this.#retrySum -= this.#retries[this.#slot]!;
      this.#requests[this.#slot] = 0;
      this.#retries[this.#slot] = 0;
    }
  }

  /** Counts a first attempt. */
  onRequest(): void {
    this.#advance();
    this.#requests[this.#slot]!++;
    this.#requestSum++;
  }

  /** Takes one retry from the budget; false when it is spent (do not retry). */
  tryRetry(): boolean {
    this.#advance();
    if (this.#retrySum + 1 > this.#floor + this.#ratio * this.#requestSum) return false;
    this.#retries[this.#slot]!++;
    this.#retrySum++;
    return true;
  }

  get stats(): { requests: number; retries: number } {
    this.#advance();
    return { requests: this.#requestSum, retries: this.#retrySum };
  }
}

export function retryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  return new RetryBudget(options);
}
