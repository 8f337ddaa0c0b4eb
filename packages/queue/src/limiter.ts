import { BallastError, type BallastErrorOptions, type Clock, errorGuard } from '@ballast/core';
import { z } from 'zod';

/**
 * Rate-limited queues (§4): `limiter: { max, durationMs }` on the queue bounds how many jobs all its workers (in
 * every process) start: a GCRA token bucket of `max` tokens refilled at `max` per `durationMs`, kept where the
 * jobs are (one Lua script on Redis, on the server's clock). A worker takes up to a batch of tokens before each
 * fetch and gives back what it did not use. `worker.rateLimit(ms)`, or a handler throwing `RateLimitedError`
 * (an upstream answered 429), blocks the whole queue for that long.
 */

export const limiterSchema = z
  .object({
    /** Jobs started per `durationMs` (sustained), also the largest burst. */
    max: z.number().int().positive(),
    durationMs: z.number().int().positive(),
  })
  .strict();
export type LimiterOptions = z.input<typeof limiterSchema>;

/** The `groups` queue option (see groups.ts): `true`, or each group's own limit. */
export const groupsSchema = z.union([
  z.literal(true),
  z.object({ /** Each group's own limit. */ limiter: limiterSchema.optional() }).strict(),
]);
export type GroupsOptions = z.input<typeof groupsSchema>;

/** Where a backend keeps a queue's limiter state. */
export interface LimiterStore {
  /** Up to `want` tokens now, or none and how long until one is free (also while blocked). */
  take(want: number, max: number, durationMs: number): Promise<{ granted: number; waitMs: number }>;
  /** Gives back tokens taken but not used (the fetch found fewer jobs). */
  refund(count: number, max: number, durationMs: number): Promise<void>;
  /** No tokens for anyone for `ms` (a later, shorter block does not shorten it). */
  block(ms: number): Promise<void>;
}

/** In-process limiter (memory backend): the same GCRA on the backend's clock. */
export class MemoryLimiterStore implements LimiterStore {
  #tat = 0;
  #blockedUntil = 0;
  constructor(private readonly clock: Clock) {}

  async take(want: number, max: number, durationMs: number): Promise<{ granted: number; waitMs: number }> {
    const now = this.clock.now();
    if (this.#blockedUntil > now) return { granted: 0, waitMs: this.#blockedUntil - now };
    const interval = durationMs / max;
    const tat = Math.max(this.#tat, now);
    const granted = Math.min(want, Math.floor((now + durationMs - tat) / interval + 1e-9));
    if (granted <= 0) return { granted: 0, waitMs: Math.max(1, Math.ceil(tat + interval - durationMs - now)) };
    this.#tat = tat + granted * interval;
    return { granted, waitMs: 0 };
  }

  async refund(count: number, max: number, durationMs: number): Promise<void> {
    this.#tat = Math.max(this.clock.now(), this.#tat - (count * durationMs) / max);
  }

  async block(ms: number): Promise<void> {
    this.#blockedUntil = Math.max(this.#blockedUntil, this.clock.now() + ms);
  }
}

/**
 * Thrown by a handler whose upstream said "too many requests": the job goes back (delayed `retryAfterMs`,
 * no attempt spent) and the queue's workers (all processes) take no job for that long.
 */
export class RateLimitedError extends BallastError {
  static readonly code = 'RATE_LIMITED';
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number, options: BallastErrorOptions = {}) {
    const ms = Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? Math.ceil(retryAfterMs) : 0;
    super(new.target.code, `Rate limited: retry after ${ms} ms`, options);
    this.retryAfterMs = ms;
  }

  /**
   * From an HTTP `Retry-After` value (delta seconds or an HTTP date; `fallbackMs` when absent or unreadable),
   * e.g. `RateLimitedError.fromRetryAfter(res.headers.get('retry-after'))`.
   */
  static fromRetryAfter(
    value: string | number | null | undefined,
    fallbackMs = 1_000,
    now = Date.now(),
  ): RateLimitedError {
    // `this`, not the class's name: a self-reference makes the bundler rename the class (`_RateLimitedError`).
    return new this(retryAfterToMs(value, fallbackMs, now));
  }
}
export const isRateLimitedError = errorGuard<RateLimitedError>(RateLimitedError.code);

/** `Retry-After` (seconds or HTTP date) in ms from `now`; `fallbackMs` when absent or unreadable. */
export function retryAfterToMs(value: string | number | null | undefined, fallbackMs: number, now: number): number {
  if (value === null || value === undefined || value === '') return fallbackMs;
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : fallbackMs;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? fallbackMs : Math.max(0, at - now);
}

/**
 * A worker's gate before each fetch: how many jobs it may take now. With the queue's `limiter`: tokens from the
 * shared store (all workers, all processes); without: unlimited, but `block` (worker.rateLimit, a handler's
 * `RateLimitedError`) still pauses this worker.
 */
export class FetchGate {
  #blockedUntil = 0;
  constructor(
    private readonly clock: Clock,
    private readonly store: LimiterStore | undefined,
    private readonly limits: LimiterOptions | undefined,
  ) {}

  /** Tokens granted (≤ want), or 0 and how long to wait before asking again. */
  async take(want: number): Promise<{ granted: number; waitMs: number }> {
    const local = this.#blockedUntil - this.clock.now();
    if (local > 0) return { granted: 0, waitMs: local };
    if (!this.store || !this.limits) return { granted: want, waitMs: 0 };
    return this.store.take(want, this.limits.max, this.limits.durationMs);
  }

  refund(unused: number): Promise<void> {
    if (unused <= 0 || !this.store || !this.limits) return Promise.resolve();
    return this.store.refund(unused, this.limits.max, this.limits.durationMs);
  }

  async block(ms: number): Promise<void> {
    if (!(ms > 0)) return;
    this.#blockedUntil = Math.max(this.#blockedUntil, this.clock.now() + ms);
    if (this.store && this.limits) await this.store.block(ms);
  }
}
