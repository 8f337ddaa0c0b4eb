import type { Clock, TimerHandle } from '@ballast/core';
import type { StreamId, Transport } from './transport';

export interface LeasesArgs {
  transport: Transport;
  type: string;
  group: string;
  consumer: string;
  clock: Clock;
  idleTimeoutMs: number;
  renewIntervalMs: number;
  /** Where transport failures go (the consumer's error event). */
  report: (error: unknown, message: string) => void;
}

/** A failed entry whose backoff outlasts the idle timeout: held, its lease renewed, until it may be released. */
interface Parked {
  timer: TimerHandle;
  /** `clock.monotonic()` when it is due for redelivery. */
  dueAt: number;
}

/**
 * The leases a consumer holds on its pending entries, and their hand-back for redelivery. Held entries —
 * being handled, or parked for a long backoff — are re-claimed by their own consumer every
 * `renewIntervalMs` (XCLAIM … JUSTID), so no other consumer takes them over while this one is alive.
 */
export class Leases {
  readonly #a: LeasesArgs;
  readonly #held = new Set<StreamId>();
  readonly #parked = new Map<StreamId, Parked>();
  /** Redelivery scheduling started for parked entries: `releaseAll` waits for it. */
  readonly #background = new Set<Promise<void>>();
  #renewing: Promise<void> | undefined;
  #timer: TimerHandle | undefined;

  constructor(args: LeasesArgs) {
    this.#a = args;
  }

  start(): void {
    this.#timer = this.#a.clock.setInterval(() => this.#renew(), this.#a.renewIntervalMs);
    this.#timer.unref();
  }

  /** Stops renewing: what is still held lapses after the idle timeout (and is taken over). */
  stop(): void {
    if (this.#timer) this.#a.clock.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  hold(id: StreamId): void {
    this.#held.add(id);
  }

  /** Stops renewing `id` (acknowledged, dead-lettered, or about to be scheduled for retry). */
  drop(id: StreamId): void {
    this.#held.delete(id);
  }

  #renew(): void {
    if (this.#held.size === 0 || this.#renewing) return;
    const { transport, type, group, consumer } = this.#a;
    this.#renewing = transport
      .renew(type, group, consumer, [...this.#held])
      .catch((error: unknown) => this.#a.report(error, 'lease renewal failed'))
      .finally(() => {
        this.#renewing = undefined;
      });
  }

  /**
   * Schedules redelivery of `id` after `delayMs` (≤ idleTimeoutMs) and stops renewing it. A renewal already
   * sent finishes first: landing after the scheduling, it would reset the entry's idle time and delay the
   * retry by a whole idle timeout.
   */
  async retryLater(id: StreamId, delayMs: number): Promise<void> {
    this.#held.delete(id);
    await this.#renewing;
    const { transport, type, group, consumer, idleTimeoutMs } = this.#a;
    try {
      await transport.retryLater(type, group, consumer, id, Math.min(delayMs, idleTimeoutMs), idleTimeoutMs);
    } catch (error) {
      // Not fatal: the entry stays pending and is taken over after idleTimeoutMs.
      this.#a.report(error, 'scheduling redelivery failed');
    }
  }

  /**
   * A backoff longer than the idle timeout cannot be expressed as an idle time: the entry stays held (renewed,
   * so nobody claims it) until `delayMs - idleTimeoutMs` passed, then is released to become claimable one
   * idle timeout later — `delayMs` in all.
   */
  park(id: StreamId, delayMs: number): void {
    const { clock, idleTimeoutMs } = this.#a;
    this.#held.add(id);
    const timer = clock.setTimeout(() => this.#release(id), delayMs - idleTimeoutMs);
    timer.unref();
    this.#parked.set(id, { timer, dueAt: clock.monotonic() + delayMs });
  }

  /** Cancels a parked entry's hold without scheduling anything (it came back through a claim). */
  unpark(id: StreamId): void {
    const parked = this.#parked.get(id);
    if (!parked) return;
    this.#parked.delete(id);
    this.#a.clock.clearTimeout(parked.timer);
  }

  /** Ends a parked entry's hold: redelivered when its backoff is over (at most one idle timeout from now). */
  #release(id: StreamId): void {
    const parked = this.#parked.get(id);
    if (!parked) return;
    this.unpark(id);
    const remaining = Math.max(0, parked.dueAt - this.#a.clock.monotonic());
    const scheduling = this.retryLater(id, remaining).finally(() => this.#background.delete(scheduling));
    this.#background.add(scheduling);
  }

  /**
   * Hands an entry back at once, in the background (claimable by any consumer now): a read that returned
   * after `close()` began, whose entries this consumer will not handle.
   */
  handBack(id: StreamId): void {
    const scheduling = this.retryLater(id, 0).finally(() => this.#background.delete(scheduling));
    this.#background.add(scheduling);
  }

  /** Releases every parked entry (on close) and waits for all redelivery scheduling to finish. */
  async releaseAll(): Promise<void> {
    for (const id of [...this.#parked.keys()]) this.#release(id);
    await Promise.allSettled([...this.#background]);
  }
}
