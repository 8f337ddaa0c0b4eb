import { type AbortedError, abortedError } from '@ballast/core';
import type { PolicyContext } from './policy';

/**
 * The context handed to a protected function under a timeout. Its `signal` is created on first read: a
 * function that never looks at it costs no AbortController. It aborts when the caller's signal aborts or
 * when `abort()` is called (the timeout fired).
 */
export class LazySignalContext implements PolicyContext {
  #controller: AbortController | undefined;
  #aborted: unknown;
  #isAborted = false;
  #onCallerAbort: (() => void) | undefined;

  constructor(
    protected readonly callerSignal: AbortSignal | undefined,
    readonly attempt: number,
  ) {}

  get signal(): AbortSignal {
    if (!this.#controller) {
      const c = new AbortController();
      this.#controller = c;
      if (this.#isAborted) c.abort(this.#aborted);
      const caller = this.callerSignal;
      if (caller && !c.signal.aborted) {
        if (caller.aborted) c.abort(caller.reason);
        else {
          this.#onCallerAbort = () => c.abort(caller.reason);
          caller.addEventListener('abort', this.#onCallerAbort, { once: true });
        }
      }
    }
    return this.#controller.signal;
  }

  /** Detaches from the caller's signal once the call is over (long-lived caller signals must not pile up listeners). */
  release(): void {
    if (this.#onCallerAbort) this.callerSignal?.removeEventListener('abort', this.#onCallerAbort);
    this.#onCallerAbort = undefined;
  }

  abort(reason: unknown): void {
    if (this.#isAborted) return;
    this.#isAborted = true;
    this.#aborted = reason;
    this.#controller?.abort(reason);
  }
}

/** `AbortedError` for a caller's signal, with its reason as cause. */
export const abortedBy: (signal: AbortSignal) => AbortedError = abortedError;
