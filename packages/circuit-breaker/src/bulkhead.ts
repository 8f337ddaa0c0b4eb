import { EventEmitter, parseOptions } from '@ballast/core';
import { z } from 'zod';
import { abortedBy } from './call-context';
import { asyncDispose, notAFunction, refuseCalls } from './closing';
import { PolicyClosedError, ShedError } from './errors';
import { callerSignal, contextOf, type Policy, type PolicyFn } from './policy';

const bulkheadSchema = z
  .object({
    /** Calls running at once. */
    maxConcurrent: z.number().int().positive(),
    /** Calls waiting for a slot; more are shed with `ShedError`. */
    maxQueued: z.number().int().min(0).default(0),
    name: z.string().default('bulkhead'),
  })
  .strict();

export type BulkheadOptions = z.input<typeof bulkheadSchema>;

interface Waiter {
  start: () => void;
  cancel: (error: unknown) => void;
}

/**
 * Limits concurrency so one slow dependency cannot take every socket, worker or connection. Waiting calls
 * run first-in first-out; a waiting call whose signal aborts leaves the queue at once.
 */
export class BulkheadPolicy implements Policy {
  readonly options: z.output<typeof bulkheadSchema>;
  #running = 0;
  readonly #queue: Waiter[] = [];
  readonly #shed = new EventEmitter<{ name: string; running: number; queued: number }>('shed');
  readonly onShed = this.#shed.event;
  #closed = false;

  constructor(options: BulkheadOptions) {
    this.options = parseOptions(bulkheadSchema, options, 'bulkhead');
  }

  get running(): number {
    return this.#running;
  }
  get queued(): number {
    return this.#queue.length;
  }

  execute<T>(fn: PolicyFn<T>, outerSignal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(notAFunction('BulkheadPolicy.execute', fn));
    const signal = callerSignal(outerSignal);
    if (signal?.aborted) return Promise.reject(abortedBy(signal));
    if (this.#running < this.options.maxConcurrent) return this.#run(fn, signal);
    if (this.#queue.length >= this.options.maxQueued) {
      this.#shed.emit({ name: this.options.name, running: this.#running, queued: this.#queue.length });
      return Promise.reject(
        new ShedError(
          this.options.name,
          `Bulkhead "${this.options.name}" is full (${this.options.maxConcurrent} running, ${this.#queue.length} queued): call shed`,
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => waiter.cancel(abortedBy(signal!));
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#run(fn, signal).then(resolve, reject);
        },
        cancel: (error) => {
          signal?.removeEventListener('abort', onAbort);
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(error);
        },
      };
      this.#queue.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Shuts the bulkhead down: calls waiting in its queue reject with `PolicyClosedError`, later calls are
   * refused with it; calls already running finish as they would. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const closed = () => new PolicyClosedError('Bulkhead', this.options.name);
      refuseCalls(this, closed);
      for (const waiter of this.#queue.splice(0)) waiter.cancel(closed());
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

  async #run<T>(fn: PolicyFn<T>, signal: AbortSignal | undefined): Promise<T> {
    this.#running++;
    try {
      return await fn(contextOf(signal));
    } finally {
      this.#running--;
      this.#queue.shift()?.start();
    }
  }
}

export function bulkhead(options: BulkheadOptions | number): BulkheadPolicy {
  return new BulkheadPolicy(typeof options === 'number' ? { maxConcurrent: options } : options);
}
