import {
  abortedError,
  type BackendName,
  type BackendUnavailableError,
  boundBackendCall,
  type Clock,
} from '@ballast/core';

export type Attempt<T> = { done: true; value: T } | { done: false; retryAfterMs: number };

export interface WaitLoopOptions<T> {
  clock: Clock;
  /** `clock.monotonic()` time the wait gives up at (`Infinity`: never). */
  deadline: number;
  signal?: AbortSignal | undefined;
  backend: BackendName;
  /** Names a call cut short in its `BackendUnavailableError`, e.g. `semaphore.acquire`. */
  operation: string;
  /** Upper bound of the safety-net re-check between wake-ups. */
  maxRetryDelayMs: number;
  random: () => number;
  /** One atomic try (one script on Redis). */
  attempt(): Promise<Attempt<T>>;
  /**
   * Subscribes to what may make the next attempt succeed (a release, a count reaching zero); `ready` resolves
   * once the subscription is live. Returns the unsubscribe.
   */
  subscribe(wake: () => void): { off: () => void; ready?: Promise<void> | undefined };
  /** The error a passed deadline rejects with (a typed timeout), given the backend error it interrupted, if any. */
  timedOut(cause?: BackendUnavailableError): Error;
}

/**
 * Waits without polling: subscribe, attempt once more (a wake-up may have been published before the subscription
 * was live), then sleep until a wake-up, the holders' expiry hint or the safety-net delay, whichever is first, and
 * attempt again. So a missed message costs at most `maxRetryDelayMs`, never a hang. Every backend call is bounded
 * by the deadline and the signal.
 */
export async function waitLoop<T>(o: WaitLoopOptions<T>): Promise<T> {
  const { clock, signal, deadline } = o;
  const bounded = <R>(call: Promise<R>): Promise<R> => {
    const left = deadline - clock.monotonic();
    if (left === Number.POSITIVE_INFINITY && !signal) return call;
    return boundBackendCall(call, {
      backend: o.backend,
      operation: o.operation,
      timeoutMs: left > 0 ? left : 1,
      timeoutReason: 'the time left of the wait',
      signal,
      clock,
      onTimeout: (e) => o.timedOut(e),
    });
  };
  let woken = false;
  let wake: (() => void) | undefined;
  const sub = o.subscribe(() => {
    woken = true;
    wake?.();
  });
  try {
    if (sub.ready) await bounded(sub.ready);
    for (;;) {
      if (signal?.aborted) throw abortedError(signal);
      woken = false;
      const r = await bounded(o.attempt());
      if (r.done) return r.value;
      const left = deadline - clock.monotonic();
      if (left <= 0) throw o.timedOut();
      if (woken) continue;
      const cap = Math.min(Math.max(r.retryAfterMs, 1), o.maxRetryDelayMs, left);
      const delay = cap / 2 + (o.random() * cap) / 2;
      await new Promise<void>((resolve) => {
        const done = () => {
          clock.clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        const timer = clock.setTimeout(done, delay);
        wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    sub.off();
  }
}

/** A single backend call bounded by a deadline and a signal, as inside `waitLoop`. */
export function boundedCall<R>(
  call: Promise<R>,
  clock: Clock,
  deadline: number,
  signal: AbortSignal | undefined,
  backend: BackendName,
  operation: string,
): Promise<R> {
  const left = deadline - clock.monotonic();
  if ((left === Number.POSITIVE_INFINITY || left <= 0) && !signal) return call;
  return boundBackendCall(call, {
    backend,
    operation,
    timeoutMs: left > 0 ? left : Number.POSITIVE_INFINITY,
    timeoutReason: 'the time left of the wait',
    signal,
    clock,
  });
}
