import { type Clock, clockSchema, parseOptions, systemClock } from '@ballast/core';
import { z } from 'zod';
import { asyncDispose, notAFunction, refuseCalls } from './closing';
import { PolicyClosedError } from './errors';
import type { Policy, PolicyFn } from './policy';
import { DeadlineQueue, runTimed, type TimeoutStrategy, ZombieTracker } from './timed';

const timeoutSchema = z
  .object({
    timeoutMs: z.number().positive().finite(),
    /** Named in the `TimeoutError` message. */
    name: z.string().default('operation'),
    /**
     * `aggressive` (default): reject at the deadline, the function may run on (counted in `zombieCalls`);
     * `cooperative`: abort the function's signal at the deadline and settle when it does — an outer bulkhead
     * or breaker keeps its slot until the work has really stopped (cockatiel's `TimeoutStrategy`).
     */
    strategy: z.enum(['aggressive', 'cooperative']).default('aggressive'),
    clock: clockSchema().optional(),
  })
  .strict();

export type TimeoutOptions = z.input<typeof timeoutSchema>;

/**
 * Rejects with `TimeoutError` when `fn` has not settled within `timeoutMs`, and aborts the signal `fn` was
 * given (created only if `fn` reads it). The caller's own signal is honoured too. Deadlines share one timer.
 */
export class TimeoutPolicy implements Policy {
  readonly timeoutMs: number;
  readonly strategy: TimeoutStrategy;
  readonly #zombies = new ZombieTracker();
  readonly #name: string;
  readonly #clock: Clock;
  readonly #queue: DeadlineQueue;
  #closed = false;

  constructor(options: TimeoutOptions) {
    const o = parseOptions(timeoutSchema, options, 'timeout');
    this.timeoutMs = o.timeoutMs;
    this.strategy = o.strategy;
    this.#name = o.name;
    this.#clock = o.clock ?? systemClock;
    this.#queue = new DeadlineQueue(this.#clock);
  }

  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(notAFunction('TimeoutPolicy.execute', fn));
    return runTimed(
      this.#clock,
      this.#queue,
      this.timeoutMs,
      this.#name,
      fn,
      signal,
      0,
      this.strategy === 'cooperative',
      this.#zombies,
    );
  }

  /** Calls that timed out (aggressive) whose function has not settled yet. */
  get zombieCalls(): number {
    return this.#zombies.count;
  }

  /**
   * Shuts the policy down: its timer is cleared, calls still running reject with `PolicyClosedError` (their
   * signal aborted with it) and later calls are refused with it. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const closed = () => new PolicyClosedError('Timeout', this.#name);
      refuseCalls(this, closed);
      this.#queue.close(closed());
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
}

/**
 * `timeout(5_000)`, `timeout(5_000, 'cooperative')` (cockatiel's spelling) or
 * `timeout({ timeoutMs: 5_000, name: 'users GET', strategy: 'cooperative' })`.
 */
export function timeout(options: number | TimeoutOptions, strategy?: TimeoutStrategy): TimeoutPolicy {
  const o = typeof options === 'number' ? { timeoutMs: options } : options;
  return new TimeoutPolicy(strategy === undefined ? o : { ...o, strategy });
}
