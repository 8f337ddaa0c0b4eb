import { AbortedError } from './errors';

/** A timer handle. Node's `Timeout` satisfies it; fake clocks return their own. */
export interface TimerHandle {
  /** Lets the process exit while this timer is pending (background timers should). */
  unref(): unknown;
}

/**
 * Every timer in every Ballast package goes through a `Clock`, so tests drive time with a fake clock
 * (`@ballast/testkit`'s `FakeClock`) instead of sleeping.
 */
export interface Clock {
  /** Wall-clock time in ms since the epoch (for timestamps, TTLs, persisted dates). */
  now(): number;
  /** Monotonic time in ms, sub-millisecond resolution (for durations and latencies). */
  monotonic(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(callback: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/** Node fires a timer longer than 2³¹−1 ms (~24.8 days) after 1 ms; we cap it instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const timerMs = (ms: number) => Math.min(ms, MAX_TIMER_MS);

/** The real clock: `Date.now`, `performance.now` and Node's timers (delays capped at `MAX_TIMER_MS`). */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, timerMs(ms)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, timerMs(ms)),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/**
 * Resolves after `ms` on `clock`; rejects with `AbortedError` as soon as `signal` aborts (and clears the
 * timer, so an aborted sleep leaves nothing pending).
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError(undefined, { cause: signal.reason }));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(new AbortedError(undefined, { cause: signal?.reason }));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
