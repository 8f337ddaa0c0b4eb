import { type Clock, clockSchema, parseOptions, systemClock } from '@ballast/core';
import { z } from 'zod';
import { asyncDispose, notAFunction, refuseCalls } from './closing';
import { PolicyClosedError } from './errors';
import type { Policy, PolicyFn } from './policy';
import { DeadlineQueue, runTimed } from './timed';

const timeoutSchema = z
  .object({
    timeoutMs: z.number().positive().finite(),
    /** Named in the `TimeoutError` message. */
    name: z.string().default('operation'),
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
  readonly #name: string;
  readonly #clock: Clock;
  readonly #queue: DeadlineQueue;
  #closed = false;

  constructor(options: TimeoutOptions) {
    const o = parseOptions(timeoutSchema, options, 'timeout');
    this.timeoutMs = o.timeoutMs;
    this.#name = o.name;
    this.#clock = o.clock ?? systemClock;
    this.#queue = new DeadlineQueue(this.#clock);
  }

  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(notAFunction('TimeoutPolicy.execute', fn));
    return runTimed(this.#clock, this.#queue, this.timeoutMs, this.#name, fn, signal, 0);
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

/** `timeout(5_000)` or `timeout({ timeoutMs: 5_000, name: 'users GET' })`. */
export function timeout(options: number | TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(typeof options === 'number' ? { timeoutMs: options } : options);
}
