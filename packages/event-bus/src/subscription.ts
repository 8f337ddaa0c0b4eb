import type { Event, Unsubscribe } from '@ballast/core';
import type { Consumer } from './consumer';
import type { DeadLetterEvent, EventHandler, HandlerRegistration } from './handler';
import type { OrderedConsumer } from './ordered';

export type { DeadLetterEvent, EventHandler, HandlerContext } from './handler';

/**
 * One handler subscribed to an event type in a consumer group, as `bus.subscribe` returns it. Handlers of
 * the same (type, group) on one bus share one consumer — every handler runs for every event, and the entry is
 * acknowledged once all succeeded — so `consumer`, `inFlight`, `onDeadLetter` and `onError` describe that
 * shared consumer. `close()` unregisters this handler (the last one's close drains the consumer).
 */
export class Subscription {
  readonly type: string;
  readonly group: string;
  /** The consumer's name in the group. */
  readonly consumer: string;
  readonly #consumer: Consumer | OrderedConsumer;
  readonly #registration: HandlerRegistration;
  readonly #listeners = new Set<Unsubscribe>();
  #closing: Promise<void> | undefined;
  /** Entries moved to the DLQ by this subscription's consumer. */
  readonly onDeadLetter: Event<DeadLetterEvent>;
  /** Transport errors of the consumer's background loop (it keeps going after a pause). */
  readonly onError: Event<{ type: string; error: unknown }>;

  constructor(consumer: Consumer | OrderedConsumer, handler: EventHandler<unknown>) {
    this.type = consumer.type;
    this.group = consumer.group;
    this.consumer = consumer.name;
    this.#consumer = consumer;
    this.#registration = consumer.add(handler);
    this.onDeadLetter = this.#own(consumer.onDeadLetter);
    this.onError = this.#own(consumer.onError);
  }

  /** Listeners added through this subscription are removed when it closes. */
  #own<T>(event: Event<T>): Event<T> {
    return (listener) => {
      const off = event(listener);
      this.#listeners.add(off);
      return off;
    };
  }

  /** Entries the consumer is handling now. */
  get inFlight(): number {
    return this.#consumer.inFlight;
  }

  /** Runs the consumer's housekeeping now: group-aware trim, removal of idle consumers holding nothing. */
  maintain(): Promise<{ trimmed: number; removedConsumers: string[] }> {
    return this.#consumer.maintain();
  }

  /**
   * Stops running this handler: resolves when its running invocations finished. When it is the consumer's
   * last handler, this is the graceful drain: stop reading, finish in-flight entries (up to
   * `drainTimeoutMs`), acknowledge. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#consumer.remove(this.#registration).finally(() => {
      for (const off of this.#listeners) off();
      this.#listeners.clear();
    });
    return this.#closing;
  }
}
