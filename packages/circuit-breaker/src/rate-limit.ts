/**
 * A local (in-process) token bucket: `limit` tokens every `intervalMs`, at most `burst` saved up. No timers:
 * the bucket refills lazily from `clock.monotonic()` whenever it is asked, so each call is O(1) and an idle
 * limiter costs nothing. For a limit shared by every instance of a service, use `redisRateLimit`.
 */
import { type Clock, parseOptions, systemClock, throwIfAborted } from '@ballast/core';
import { z } from 'zod';
import { asyncDispose, notAFunction, refuseCalls } from './closing';
import { PolicyClosedError, RateLimitedError } from './errors';
import { contextOf, type Policy, type PolicyFn } from './policy';

export interface RateLimitOptions {
  /** Shown in `RateLimitedError`. Default `'rate-limit'`. */
  name?: string;
  /** Tokens added every `intervalMs` (an integer > 0). Required. */
  limit: number;
  /** The refill period in ms. Default 1000: `limit` is then a per-second rate. */
  intervalMs?: number;
  /** Bucket capacity: how many calls may run back to back after an idle spell (integer > 0). Default `limit`. */
  burst?: number;
  /** Where time comes from. Default `systemClock`; tests pass `@ballast/testkit`'s `FakeClock`. */
  clock?: Clock;
}

const isClock = (value: unknown): value is Clock =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Partial<Clock>).monotonic === 'function' &&
  typeof (value as Partial<Clock>).now === 'function';

export const rateLimitOptionsSchema = z
  .object({
    name: z.string().min(1).default('rate-limit'),
    limit: z.number().int().positive(),
    intervalMs: z.number().positive().default(1000),
    burst: z.number().int().positive().optional(),
    clock: z.custom<Clock>(isClock, { message: 'a Clock (an object with now() and monotonic())' }).default(systemClock),
  })
  .strict();

export interface ResolvedRateLimitOptions {
  readonly name: string;
  readonly limit: number;
  readonly intervalMs: number;
  readonly burst: number;
  readonly clock: Clock;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Whole tokens left after this decision. */
  readonly remaining: number;
  /** 0 when allowed; otherwise how long until the requested tokens are available. */
  readonly retryAfterMs: number;
}

export class TokenBucketLimiter implements Policy {
  readonly name: string;
  readonly options: ResolvedRateLimitOptions;
  readonly #clock: Clock;
  readonly #limit: number;
  readonly #intervalMs: number;
  // The bucket is kept in "token·ms" units, one token = intervalMs units, refilled at `limit` units per ms,
  // so integer times and options give exact integer arithmetic (no drift from a fractional per-ms rate).
  readonly #capacity: number;
  #units: number;
  #last: number;
  /** Largest grant `tryAcquire` accepts: `burst`, or 0 once closed (so the check it already makes refuses). */
  #maxTokens: number;

  constructor(options: ResolvedRateLimitOptions) {
    this.options = options;
    this.name = options.name;
    this.#clock = options.clock;
    this.#limit = options.limit;
    this.#intervalMs = options.intervalMs;
    this.#capacity = options.burst * options.intervalMs;
    this.#units = this.#capacity; // starts full
    this.#last = options.clock.monotonic();
    this.#maxTokens = options.burst;
  }

  /**
   * Takes `tokens` (an integer from 1 to `burst`) if they are all available; takes nothing otherwise.
   * @throws RangeError when `tokens` could never be granted; PolicyClosedError after `close()`.
   */
  tryAcquire(tokens = 1): RateLimitDecision {
    if (!Number.isInteger(tokens) || tokens < 1 || tokens > this.#maxTokens) {
      if (this.#maxTokens === 0) throw new PolicyClosedError('Rate limit', this.name);
      throw new RangeError(
        `rateLimit "${this.name}": tokens must be an integer from 1 to burst (${this.options.burst}), got ${tokens}`,
      );
    }
    this.#refill();
    const need = tokens * this.#intervalMs;
    if (this.#units >= need) {
      this.#units -= need;
      return { allowed: true, remaining: Math.floor(this.#units / this.#intervalMs), retryAfterMs: 0 };
    }
    return {
      allowed: false,
      remaining: Math.floor(this.#units / this.#intervalMs),
      retryAfterMs: Math.ceil((need - this.#units) / this.#limit),
    };
  }

  /** Whole tokens available right now, without taking any. */
  available(): number {
    this.#refill();
    return Math.floor(this.#units / this.#intervalMs);
  }

  /**
   * Runs `fn` if a token is available; otherwise rejects with `RateLimitedError` (carrying `retryAfterMs`)
   * without calling it. An already aborted `signal` rejects with `AbortedError` and takes no token.
   */
  async execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function') throw notAFunction('TokenBucketLimiter.execute', fn);
    throwIfAborted(signal);
    const decision = this.tryAcquire(1);
    if (!decision.allowed) throw new RateLimitedError(this.name, decision.retryAfterMs);
    return await fn(contextOf(signal));
  }

  /** Shuts the limiter: later calls (and `tryAcquire`) are refused with `PolicyClosedError`. It holds no timer. */
  close(): Promise<void> {
    if (this.#maxTokens !== 0) {
      this.#maxTokens = 0;
      refuseCalls(this, () => new PolicyClosedError('Rate limit', this.name));
    }
    return Promise.resolve();
  }

  /** Alias of `close()`. */
  dispose(): Promise<void> {
    return this.close();
  }

  [asyncDispose](): Promise<void> {
    return this.close();
  }

  #refill(): void {
    const now = this.#clock.monotonic();
    const elapsed = now - this.#last;
    this.#last = now;
    if (elapsed > 0 && this.#units < this.#capacity) {
      this.#units = Math.min(this.#capacity, this.#units + elapsed * this.#limit);
    }
  }
}

/**
 * A local token bucket policy.
 *
 * @example
 * const limiter = rateLimit({ limit: 100 }); // 100 calls a second, bursts of 100
 * await limiter.execute(() => fetch(url)); // RateLimitedError when over the limit
 */
export function rateLimit(options: RateLimitOptions): TokenBucketLimiter {
  const parsed = parseOptions(rateLimitOptionsSchema, options, 'rateLimit');
  return new TokenBucketLimiter({ ...parsed, burst: parsed.burst ?? parsed.limit });
}
