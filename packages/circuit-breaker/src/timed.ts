import type { Clock } from '@ballast/core';
import { abortedBy, LazySignalContext } from './call-context';
import { type Deadline, DeadlineQueue } from './deadlines';
import { TimeoutError } from './errors';
import { callerSignal, type PolicyFn } from './policy';

/**
 * One call raced against its deadline and its caller's signal: whichever settles first wins, the others are
 * ignored. On timeout the function's signal aborts with the `TimeoutError`; on the caller's abort it aborts
 * with the caller's reason and the call rejects with `AbortedError`; when the policy closes, both happen with
 * its `PolicyClosedError`.
 */
class TimedCall<T> implements Deadline {
  at: number;
  prev: Deadline | undefined = undefined;
  next: Deadline | undefined = undefined;
  queued = false;
  #settled = false;
  readonly ctx: LazySignalContext;

  constructor(
    private readonly queue: DeadlineQueue | undefined,
    private readonly timeoutMs: number,
    private readonly what: string,
    private readonly callerSignal: AbortSignal | undefined,
    attempt: number,
    private readonly resolve: (value: T) => void,
    private readonly reject: (error: unknown) => void,
    now: number,
  ) {
    this.at = now + timeoutMs;
    this.ctx = new LazySignalContext(callerSignal, attempt);
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.queue?.remove(this);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
    this.ctx.release();
    return true;
  }

  readonly ok = (value: T): void => {
    if (this.#finish()) this.resolve(value);
  };

  readonly fail = (error: unknown): void => {
    if (this.#finish()) this.reject(error);
  };

  expire(): void {
    if (!this.#finish()) return;
    const error = new TimeoutError(this.timeoutMs, this.what);
    this.ctx.abort(error);
    this.reject(error);
  }

  /** The policy closed with this call pending: reject with `reason`, and abort the function's signal with it. */
  close(reason: unknown): void {
    if (!this.#finish()) return;
    this.ctx.abort(reason);
    this.reject(reason);
  }

  readonly onCallerAbort = (): void => {
    if (!this.#finish()) return;
    const signal = this.callerSignal!;
    this.ctx.abort(signal.reason);
    this.reject(abortedBy(signal));
  };
}

/**
 * Runs `fn` with a deadline (`timeoutMs`, or none when `queue` is undefined) and the caller's `signal`.
 * Costs one promise and one small object per call; no timer per call (see `DeadlineQueue`).
 */
export function runTimed<T>(
  clock: Clock,
  queue: DeadlineQueue | undefined,
  timeoutMs: number,
  what: string,
  fn: PolicyFn<T>,
  outerSignal: AbortSignal | undefined,
  attempt: number,
): Promise<T> {
  const signal = callerSignal(outerSignal);
  if (signal?.aborted) return Promise.reject(abortedBy(signal));
  return new Promise<T>((resolve, reject) => {
    const call = new TimedCall<T>(queue, timeoutMs, what, signal, attempt, resolve, reject, clock.monotonic());
    queue?.add(call);
    signal?.addEventListener('abort', call.onCallerAbort, { once: true });
    let result: PromiseLike<T> | T;
    try {
      result = fn(call.ctx);
    } catch (error) {
      call.fail(error);
      return;
    }
    if (result !== null && typeof (result as PromiseLike<T>)?.then === 'function') {
      (result as PromiseLike<T>).then(call.ok, call.fail);
    } else {
      call.ok(result as T);
    }
  });
}

export { DeadlineQueue };
