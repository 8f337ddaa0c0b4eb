// A waiting writer's registration (writer preference), renewed for as long as it waits.
import type { Clock, Logger, TimerHandle } from '@ballast/core';
import type { LockBackend } from './backend';

/**
 * Registers `owner` as an exclusive waiter of `key` for `ttlMs` and renews the registration every ttl/3 until
 * the returned `stop` is called, so new readers stay out for the whole wait, however long — while a writer
 * that died still drops out within `ttlMs`. A renewal that fails is logged and retried at the next tick.
 * Resolves once the first registration is in place.
 */
export async function keepWaiterRegistered(
  backend: LockBackend,
  clock: Clock,
  log: Logger,
  key: string,
  owner: string,
  ttlMs: number,
  first: (registration: Promise<void>) => Promise<void>,
): Promise<() => Promise<void>> {
  await first(backend.addWaiter(key, owner, ttlMs));
  let timer: TimerHandle | undefined;
  let stopped = false;
  let inFlight: Promise<unknown> = Promise.resolve();
  const every = Math.max(1, Math.floor(ttlMs / 3));
  const renew = () => {
    timer = undefined;
    inFlight = backend.addWaiter(key, owner, ttlMs).then(
      () => {
        if (!stopped) arm();
      },
      (error: unknown) => {
        log.debug({ key, err: error }, 'renewing a waiting writer failed; retrying');
        if (!stopped) arm();
      },
    );
  };
  const arm = () => {
    timer = clock.setTimeout(renew, every);
    timer.unref?.();
  };
  arm();
  return async () => {
    stopped = true;
    if (timer) clock.clearTimeout(timer);
    await inFlight; // a renewal landing after the removal would keep readers out for nothing
    await backend.removeWaiter(key, owner).catch(() => {});
  };
}
