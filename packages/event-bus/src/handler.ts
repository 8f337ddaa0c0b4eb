import { isThenable } from '@ballast/core';
import type { EventEnvelope } from './envelope';
import type { EventKeys } from './keys';

export interface HandlerContext {
  /** Aborts when the subscription is closed and the drain timeout passed. */
  signal: AbortSignal;
  /** 1 on first delivery. */
  deliveries: number;
  /** The entry's stream id. */
  entryId: string;
  /** The consumer group handling the event. */
  group: string;
  /** The transport's key names (with its prefix): `idempotent` builds its default marker key with them. */
  keys: EventKeys;
}

/**
 * Handles one event. Throwing, or returning (resolving to) `false` — seed 000's
 * `success = await handler.handle(event)` signal — is a failure: the entry is redelivered after a backoff,
 * then dead-lettered after `maxDeliveries`. Anything else is success.
 */
export type EventHandler<T, K extends string = string> = (
  event: EventEnvelope<T, K>,
  context: HandlerContext,
) => unknown;

export interface DeadLetterEvent {
  type: string;
  group: string;
  entryId: string;
  reason: string;
  deliveries: number;
}

/**
 * One handler registered on a consumer, with its running invocations tracked, so removing it (its
 * subscription's `close()`) can wait for them.
 */
export class HandlerRegistration {
  readonly #running = new Set<Promise<unknown>>();

  constructor(readonly handler: EventHandler<unknown>) {}

  /**
   * Runs the handler: its value, or a promise of it (a handler that returns no promise settled at once, and
   * nothing is tracked for it). A synchronous throw comes back as a rejection.
   */
  run(event: EventEnvelope, context: HandlerContext): unknown {
    let result: unknown;
    try {
      result = this.handler(event, context);
      // Inside the try: reading a result's `then` can throw too (a getter, a proxy) — a failure like any.
      if (!isThenable(result)) return result;
    } catch (error) {
      return Promise.reject(error);
    }
    const running = Promise.resolve(result);
    this.#running.add(running);
    const forget = () => void this.#running.delete(running);
    running.then(forget, forget);
    return running;
  }

  /** Settles once every invocation running now has settled. */
  idle(): Promise<unknown> {
    return Promise.allSettled([...this.#running]);
  }
}
