import {
  type BackoffOptions,
  backoffFromResolved,
  backoffOptionsSchema,
  type Clock,
  clockSchema,
  EventEmitter,
  isAbortedError,
  optionsOrEmpty,
  parseOptions,
  systemClock,
} from '@ballast/core';
import { z } from 'zod';
import { abortedBy } from './call-context';
import { asyncDispose, notAFunction, refuseCalls } from './closing';
import {
  isBrokenCircuitError,
  isInvalidArgumentError,
  isPolicyClosedError,
  PolicyClosedError,
  RetryAfterTooLongError,
} from './errors';
import { callerSignal, NEVER_ABORTED, type Policy, type PolicyContext, type PolicyFn } from './policy';
import { RetryBudget } from './retry-budget';

const retrySchema = z
  .object({
    /** Retries after the first try (seed 003: 3). */
    maxRetries: z.number().int().min(0).optional(),
    /** Total tries, first included; the alternative to `maxRetries`. */
    maxAttempts: z.number().int().min(1).optional(),
    /** Delays between tries; `false` retries at once. Default 500 ms · 2ⁿ, full jitter, capped at 30 s. */
    backoff: z.union([backoffOptionsSchema, z.literal(false)]),
    /** Which errors to retry (default: all but an open breaker, an aborted call, a closed policy, a bad argument). */
    retryOn: z.custom<(error: unknown, attempt: number) => boolean>((v) => typeof v === 'function').optional(),
    /**
     * Overrides the backoff for one error, e.g. from a `Retry-After` header: the retry waits exactly that long
     * (never less). Return undefined to keep the backoff.
     */
    delayFor: z
      .custom<(error: unknown, attempt: number) => number | undefined>((v) => typeof v === 'function')
      .optional(),
    /**
     * The longest `delayFor` wait honoured; a longer one gives up at once with `RetryAfterTooLongError` (the
     * server's time attached) instead of retrying early. Default: the backoff's `maxMs` (30 s), else no limit.
     */
    maxRetryAfterMs: z.number().min(0).optional(),
    /** A budget shared by many retry policies (a client, a service). */
    budget: z.custom<RetryBudget>((v) => v instanceof RetryBudget).optional(),
    clock: clockSchema().optional(),
    random: z.custom<() => number>((v) => typeof v === 'function').optional(),
  })
  .strict()
  .refine((o) => o.maxRetries === undefined || o.maxAttempts === undefined, {
    message: 'give maxRetries or maxAttempts, not both',
    path: ['maxAttempts'],
  });

export type RetryOptions = Omit<z.input<typeof retrySchema>, 'backoff'> & { backoff?: BackoffOptions | false };

export interface RetryEvent {
  /** 1 for the first retry. */
  attempt: number;
  maxRetries: number;
  delayMs: number;
  error: unknown;
}

/** The first try's context when the caller gave no signal: shared (contexts are read-only). */
const FIRST_TRY: PolicyContext = Object.freeze({ signal: NEVER_ABORTED, attempt: 0 });

const defaultBackoff = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 'full' } as const;

/**
 * By default everything is retried except what retrying cannot fix or must not touch: an open breaker, an
 * aborted call, a closed policy, a bad argument.
 */
function defaultRetryOn(error: unknown): boolean {
  return (
    !isBrokenCircuitError(error) &&
    !isAbortedError(error) &&
    !isPolicyClosedError(error) &&
    !isInvalidArgumentError(error)
  );
}

/**
 * Retries `fn` with exponential backoff and jitter (core's backoff). The caller's signal stops it at once,
 * also between tries. The last error is rethrown as it was.
 */
export class RetryPolicy implements Policy {
  readonly maxRetries: number;
  readonly #options: z.output<typeof retrySchema>;
  readonly #backoff: z.output<typeof backoffOptionsSchema> | false;
  readonly #clock: Clock;
  readonly #maxRetryAfterMs: number;
  readonly #retried = new EventEmitter<RetryEvent>('retry');
  readonly #gaveUp = new EventEmitter<RetryEvent>('giveUp');
  /** Before each retry: `Retry 1/3 after 500ms`. */
  readonly onRetry = this.#retried.event;
  /** When the last error is rethrown (exhausted, not retryable, or budget spent). */
  readonly onGiveUp = this.#gaveUp.event;
  /** Backoff waits in progress, by their cancel function (close() ends them). */
  readonly #waiting = new Set<(error: unknown) => void>();
  #closed = false;

  constructor(input: RetryOptions = {}) {
    const options = optionsOrEmpty(input, 'retry');
    const o = parseOptions(
      retrySchema,
      { ...options, backoff: options.backoff === false ? false : { ...defaultBackoff, ...options.backoff } },
      'retry',
    );
    this.#options = o;
    this.maxRetries = o.maxRetries ?? (o.maxAttempts !== undefined ? o.maxAttempts - 1 : 3);
    this.#backoff = o.backoff;
    this.#clock = o.clock ?? systemClock;
    this.#maxRetryAfterMs = o.maxRetryAfterMs ?? (this.#backoff ? this.#backoff.maxMs : Number.POSITIVE_INFINITY);
  }

  /** A usable `delayFor` override (a finite number ≥ 0), else undefined. */
  #override(override: number | undefined): number | undefined {
    return override === undefined || !Number.isFinite(override) || override < 0 ? undefined : override;
  }

  execute<T>(fn: PolicyFn<T>, outerSignal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(notAFunction('RetryPolicy.execute', fn));
    const signal = callerSignal(outerSignal);
    this.#options.budget?.onRequest();
    if (signal?.aborted) return Promise.reject(abortedBy(signal));
    // The first try outside an async function: most calls succeed at once, and then cost no async frame —
    // the first try's own promise is chained once, to catch its failure.
    let first: PromiseLike<T> | T;
    try {
      first = fn(signal ? { signal, attempt: 0 } : FIRST_TRY);
    } catch (error) {
      return this.#retryAfter(fn, signal, error);
    }
    if (first instanceof Promise) {
      return (first as Promise<T>).then(undefined, (error: unknown) => this.#retryAfter(fn, signal, error));
    }
    return Promise.resolve(first).then(undefined, (error: unknown) => this.#retryAfter(fn, signal, error));
  }

  /** Tries after the first one failed with `firstError`: backoff, events, and the last error rethrown. */
  async #retryAfter<T>(fn: PolicyFn<T>, signal: AbortSignal | undefined, firstError: unknown): Promise<T> {
    const o = this.#options;
    // Made on the first failure: most calls succeed at once and never need a schedule.
    let backoff: ReturnType<typeof backoffFromResolved> | undefined;
    let error = firstError;
    for (let attempt = 0; ; attempt++) {
      // `error` is try `attempt`'s (0 = the first try).
      const retryable =
        attempt < this.maxRetries &&
        !signal?.aborted &&
        !this.#closed &&
        (o.retryOn ? o.retryOn(error, attempt + 1) : defaultRetryOn(error)) &&
        (o.budget ? o.budget.tryRetry() : true);
      if (!retryable) {
        if (this.#gaveUp.size > 0) {
          this.#gaveUp.emit({ attempt: attempt + 1, maxRetries: this.maxRetries, delayMs: 0, error });
        }
        throw error;
      }
      if (this.#backoff && !backoff) backoff = backoffFromResolved(this.#backoff, o.random);
      const planned = backoff ? backoff.next() : 0;
      const override = this.#override(o.delayFor?.(error, attempt + 1));
      if (override !== undefined && override > this.#maxRetryAfterMs) {
        // Never before the server said: give up now, with its time attached.
        const tooLong = new RetryAfterTooLongError(override, this.#maxRetryAfterMs, error);
        if (this.#gaveUp.size > 0) {
          this.#gaveUp.emit({ attempt: attempt + 1, maxRetries: this.maxRetries, delayMs: 0, error: tooLong });
        }
        throw tooLong;
      }
      const event: RetryEvent = {
        attempt: attempt + 1,
        maxRetries: this.maxRetries,
        delayMs: override ?? planned,
        error,
      };
      this.#retried.emit(event);
      if (event.delayMs > 0) await this.#wait(event.delayMs, signal);
      if (signal?.aborted) throw abortedBy(signal);
      try {
        return await fn({ signal: signal ?? NEVER_ABORTED, attempt: attempt + 1 });
      } catch (next) {
        error = next;
      }
    }
  }

  /**
   * Shuts the policy down: backoff waits in progress end at once, their calls rejecting with
   * `PolicyClosedError`; a try still running is not retried; later calls are refused. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const closed = () => new PolicyClosedError('Retry policy');
      refuseCalls(this, closed);
      for (const cancel of [...this.#waiting]) cancel(closed());
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

  /** `ms` on the clock; ends early (rejecting) when `signal` aborts or the policy closes. No timer left after. */
  #wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortedBy(signal));
      const done = () => {
        this.#waiting.delete(cancel);
        signal?.removeEventListener('abort', onAbort);
      };
      const timer = this.#clock.setTimeout(() => {
        done();
        resolve();
      }, ms);
      const cancel = (error: unknown) => {
        this.#clock.clearTimeout(timer);
        done();
        reject(error);
      };
      const onAbort = () => cancel(abortedBy(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.add(cancel);
    });
  }
}

export function retry(options: RetryOptions = {}): RetryPolicy {
  return new RetryPolicy(options);
}
