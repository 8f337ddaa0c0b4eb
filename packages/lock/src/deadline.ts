import { type BackendName, type BackendUnavailableError, boundBackendCall, type Clock } from '@ballast/core';

/**
 * A backend call cut short by the caller's deadline (`waitMs`, on `clock`) or signal: with Redis down,
 * `acquire(k, { waitMs: 1000 })` fails with `BackendUnavailableError` after ~1 s, not after the command
 * timeout. A deadline already passed leaves the call to the command timeout (one last attempt is still made).
 * `onTimeout` replaces the error of a passed deadline (a wait for a lock seen taken ends in `LockTimeoutError`).
 */
export function withinDeadline<T>(
  call: Promise<T>,
  clock: Clock,
  deadline: number,
  signal: AbortSignal | undefined,
  backend: BackendName,
  onTimeout?: (error: BackendUnavailableError) => unknown,
): Promise<T> {
  const left = deadline - clock.monotonic();
  const timeoutMs = left > 0 ? left : Number.POSITIVE_INFINITY;
  if (timeoutMs === Number.POSITIVE_INFINITY && !signal) return call;
  return boundBackendCall(call, {
    backend,
    operation: 'lock.acquire',
    timeoutMs,
    timeoutReason: 'the time left of waitMs',
    signal,
    clock,
    ...(onTimeout ? { onTimeout } : {}),
  });
}
