import type { Clock, Logger } from '@ballast/core';

export interface RenewalOptions {
  clock: Clock;
  ttlMs: number;
  /** Share of the ttl assumed lost to clock drift (+2 ms), as the lock manager's `driftFactor`. */
  driftFactor: number;
  /** Extend every ttl/3 while held; false: the lease simply runs out at its validity. */
  autoExtend: boolean;
  /** `clock.monotonic()` when the acquire attempt that granted the lease started. */
  attemptStart: number;
  /** Pushes the lease's expiry to now + ttl: true, or false when it is no longer held. */
  extend(): Promise<boolean>;
  /** Called once, when the lease is gone or could not be confirmed before its validity ran out. */
  onLost(reason: string): void;
  logger: Logger;
}

/**
 * Keeps one lease of a primitive (permits, a multi-lock, a read/write lease) alive: extends it every ttl/3, and
 * declares it lost as soon as its validity — the start of the last confirmed acquire/extend attempt + ttl −
 * drift — passes without a confirmed extension, whatever the backend does (a frozen connection cannot keep a
 * holder believing it holds).
 */
export class Renewal {
  readonly #o: RenewalOptions;
  #validUntil: number;
  #expiry: unknown;
  #tick: unknown;
  #stopped = false;

  constructor(o: RenewalOptions) {
    this.#o = o;
    this.#validUntil = this.#valid(o.attemptStart);
    this.#armExpiry();
    if (o.autoExtend) this.#scheduleTick();
  }

  #valid(start: number): number {
    return start + this.#o.ttlMs - (this.#o.ttlMs * this.#o.driftFactor + 2);
  }

  #armExpiry(): void {
    const { clock } = this.#o;
    if (this.#expiry) clock.clearTimeout(this.#expiry as never);
    const t = clock.setTimeout(
      () => this.#lose('its validity ran out before an extension was confirmed'),
      Math.max(0, this.#validUntil - clock.monotonic()),
    );
    t.unref();
    this.#expiry = t;
  }

  #scheduleTick(): void {
    const t = this.#o.clock.setTimeout(() => void this.#renew(), Math.max(1, this.#o.ttlMs / 3));
    t.unref();
    this.#tick = t;
  }

  async #renew(): Promise<void> {
    if (this.#stopped) return;
    const start = this.#o.clock.monotonic();
    try {
      const ok = await this.#o.extend();
      if (this.#stopped) return;
      if (!ok) return this.#lose('it was gone or taken when extending it');
      this.#validUntil = this.#valid(start);
      this.#armExpiry();
    } catch (error) {
      if (this.#stopped) return;
      this.#o.logger.warn({ err: error }, 'lease extension failed; retrying while the lease is valid');
    }
    this.#scheduleTick();
  }

  #lose(reason: string): void {
    if (this.#stopped) return;
    this.stop();
    this.#o.onLost(reason);
  }

  /** Whether the lease is still surely valid now. */
  get valid(): boolean {
    return !this.#stopped && this.#o.clock.monotonic() < this.#validUntil;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#expiry) this.#o.clock.clearTimeout(this.#expiry as never);
    if (this.#tick) this.#o.clock.clearTimeout(this.#tick as never);
  }
}
