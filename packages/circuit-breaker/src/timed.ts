import type { Clock } from '@ballast/core';
import { abortedBy, LazySignalContext } from './call-context';
import { type Deadline, DeadlineQueue } from './deadlines';
import { TimeoutError } from './errors';
import { callerSignal, type PolicyFn } from './policy';

/**
 * What a timeout does when its deadline passes (cockatiel's `TimeoutStrategy`):
 * - `aggressive`: the call rejects with `TimeoutError` at once and the function's signal aborts; the function
 *   may keep running (a "zombie") until it notices;
 * - `cooperative`: the function's signal aborts, but the call settles only when the function does — with its
 *   value if it still succeeds, else with the `TimeoutError` — so whatever slot it holds stays held.
 */
export type TimeoutStrategy = 'aggressive' | 'cooperative';

/**
 * Counts aggressive timeouts whose function is still running, and hears when each one finally settles (a
 * breaker holding its capacity slot until then releases it there).
 */
export class ZombieTracker {
  count = 0;
  constructor(readonly onSettled: (() => void) | undefined = undefined) {}
}

const STILL_RUNNING = Symbol('ballast.stillRunning');
/** True for a `TimeoutError` whose function was still running when it was thrown (and is tracked). */
export function stillRunning(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { [STILL_RUNNING]?: boolean })[STILL_RUNNING] === true
  );
}

/**
 * One call raced against its deadline and its caller's signal: whichever settles first wins, the others are
 * ignored. On timeout the function's signal aborts with the `TimeoutError`; on the caller's abort it aborts
 * with the caller's reason and the call rejects with `AbortedError`; when the policy closes, both happen with
 * its `PolicyClosedError`.
 */
class TimedCall<T> extends LazySignalContext implements Deadline {
  at: number;
  prev: Deadline | undefined = undefined;
  next: Deadline | undefined = undefined;
  queued = false;
  #settled = false;
  /** The function itself has settled (its promise, or a synchronous return/throw). */
  #fnDone = false;
  #timedOut: TimeoutError | undefined;
  #zombie = false;

  constructor(
    private readonly queue: DeadlineQueue | undefined,
    private readonly timeoutMs: number,
    private readonly what: string,
    callerSignal: AbortSignal | undefined,
    attempt: number,
    private readonly resolve: (value: T) => void,
    private readonly reject: (error: unknown) => void,
    now: number,
    private readonly cooperative: boolean,
    private readonly zombies: ZombieTracker | undefined,
  ) {
    // The call is its function's context too (one object per call, not two).
    super(callerSignal, attempt);
    this.at = now + timeoutMs;
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.queue?.remove(this);
    if (this.onCallerAbort) this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
    this.release();
    return true;
  }

  #fnSettled(): void {
    this.#fnDone = true;
    if (this.#zombie) {
      this.#zombie = false;
      const z = this.zombies!;
      z.count--;
      z.onSettled?.();
    }
  }

  readonly ok = (value: T): void => {
    this.#fnSettled();
    if (this.#finish()) this.resolve(value);
  };

  readonly fail = (error: unknown): void => {
    this.#fnSettled();
    if (!this.#finish()) return;
    // Cooperative: the deadline passed and the function gave up (or failed) since: that is the timeout.
    this.reject(this.#timedOut ?? error);
  };

  expire(): void {
    if (this.#settled || this.#timedOut) return;
    const error = new TimeoutError(this.timeoutMs, this.what);
    if (this.cooperative && !this.#fnDone) {
      // Out of the queue, signal aborted; the call settles when the function does.
      this.#timedOut = error;
      this.queue?.remove(this);
      this.abort(error);
      return;
    }
    if (!this.#finish()) return;
    if (!this.#fnDone && this.zombies) {
      this.#zombie = true;
      this.zombies.count++;
      (error as unknown as Record<symbol, boolean>)[STILL_RUNNING] = true;
    }
    this.abort(error);
    this.reject(error);
  }

  /** The policy closed with this call pending: reject with `reason`, and abort the function's signal with it. */
  close(reason: unknown): void {
    if (!this.#finish()) return;
    this.abort(reason);
    this.reject(reason);
  }

  /** The listener on the caller's signal: made only when there is one (most calls have none). */
  onCallerAbort: (() => void) | undefined = undefined;

  callerAborted(): void {
    if (!this.#finish()) return;
    const signal = this.callerSignal!;
    this.abort(signal.reason);
    this.reject(abortedBy(signal));
  }
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
  cooperative = false,
  zombies: ZombieTracker | undefined = undefined,
): Promise<T> {
  const signal = callerSignal(outerSignal);
  if (signal?.aborted) return Promise.reject(abortedBy(signal));
  const promise = new Promise<T>(captureResolvers);
  const call = new TimedCall<T>(
    queue,
    timeoutMs,
    what,
    signal,
    attempt,
    capturedResolve as (value: T) => void,
    capturedReject!,
    clock.monotonic(),
    cooperative,
    zombies,
  );
  queue?.add(call);
  if (signal) {
    call.onCallerAbort = () => call.callerAborted();
    signal.addEventListener('abort', call.onCallerAbort, { once: true });
  }
  let result: PromiseLike<T> | T;
  try {
    result = fn(call);
  } catch (error) {
    call.fail(error);
    return promise;
  }
  if (result !== null && typeof (result as PromiseLike<T>)?.then === 'function') {
    (result as PromiseLike<T>).then(call.ok, call.fail);
  } else {
    call.ok(result as T);
  }
  return promise;
}

/**
 * `new Promise(captureResolvers)` hands its resolve/reject here, synchronously: the caller reads them right
 * after, with no executor closure allocated per call.
 */
let capturedResolve: ((value: unknown) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
function captureResolvers(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve as (value: unknown) => void;
  capturedReject = reject;
}

export { DeadlineQueue };
