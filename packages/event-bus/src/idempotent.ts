import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '@ballast/core';
import type { DedupeStore } from './dedupe';
import type { EventEnvelope } from './envelope';
import { EventInProgressError } from './errors';
import type { EventHandler, HandlerContext } from './handler';

export interface IdempotentOptions {
  store: DedupeStore;
  /** How long a handled event id is remembered: longer than any redelivery can take. Default 24 h. */
  ttlMs?: number;
  /**
   * Lease of the in-progress marker: renewed every `leaseMs / 3` while the handler runs, so it only expires
   * when the process died mid-handler (then another delivery may run it). Default 30 s.
   */
  leaseMs?: number;
  /**
   * Names this handler in the default key; needed when one group runs several idempotent handlers for a type
   * (each must remember on its own).
   */
  name?: string;
  /** Marker key of an event; default `keys.dedupe(type, group, event_id, name)` (with the transport's prefix). */
  key?: (event: EventEnvelope, context: HandlerContext) => string;
  /** Times the lease renewal. Default `systemClock`. */
  clock?: Clock;
}

/**
 * Wraps a handler with side effects so that an event delivered more than once (at-least-once) runs it once
 * per group: before running, it claims the event (an in-progress marker with a lease, SET NX PX); a handled
 * event (done marker) is acknowledged without running; while another delivery holds the claim, this one
 * fails with `EventInProgressError` and is retried after its backoff. On success the done marker is set for
 * `ttlMs`; on failure (a throw or `false`) the claim is released, so the redelivery runs the handler again.
 */
export function idempotent<T, K extends string>(
  handler: EventHandler<T, K>,
  options: IdempotentOptions,
): EventHandler<T, K> {
  const { store, name } = options;
  const ttlMs = options.ttlMs ?? 86_400_000;
  const leaseMs = options.leaseMs ?? 30_000;
  const clock = options.clock ?? systemClock;
  const keyOf =
    options.key ??
    ((e: EventEnvelope, ctx: HandlerContext) => ctx.keys.dedupe(e.event_type, ctx.group, e.event_id, name));
  return async (event, ctx) => {
    const key = keyOf(event as EventEnvelope, ctx);
    const token = randomUUID();
    const claim = await store.claim(key, token, leaseMs);
    if (claim === 'done') return;
    if (claim === 'busy') throw new EventInProgressError(event.event_type, event.event_id);
    // A failed extension is not fatal: at worst the lease lapses and a concurrent delivery runs too.
    const renew = clock.setInterval(
      () => void store.extend(key, token, leaseMs).catch(() => {}),
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    renew.unref();
    let succeeded = false;
    try {
      const result = await handler(event, ctx);
      succeeded = result !== false;
      return result;
    } finally {
      clock.clearInterval(renew);
      if (succeeded) {
        await store.complete(key, ttlMs);
      } else {
        // The handler's own failure is what the caller must see; a failed release only delays the retry until
        // the lease expires (the retry meanwhile gets EventInProgressError and backs off again).
        await store.release(key, token).catch(() => {});
      }
    }
  };
}
