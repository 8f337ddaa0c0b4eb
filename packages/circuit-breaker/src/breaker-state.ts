import type { Clock, Logger, TimerHandle } from '@ballast/core';
import type { BreakerEvents, BreakerState, OpenReason, StateChange } from './breaker-events';
import type { FleetLink, FleetMessage } from './fleet';

export const CLOSED = 0;
export const OPEN = 1;
export const HALF_OPEN = 2;
export const STATE_NAMES: readonly BreakerState[] = ['closed', 'open', 'half-open'];

export interface StateMachineOptions {
  name: string;
  clock: Clock;
  log: Logger;
  events: BreakerEvents;
  resetTimeoutMs: number;
  fleet: FleetLink | undefined;
  /** True while `isolate()` holds the breaker open: no timer, no fleet message moves it. */
  isolated: () => boolean;
  /** Called on every transition, before it is announced: the breaker resets its window and counters. */
  onTransition: (to: number) => void;
}

/**
 * A breaker's state machine — closed → open → half-open → closed — with the reset timer, seed 003's log
 * lines, the state events and the fleet messages. The breaker drives the transitions from its outcomes and
 * mirrors each (`onTransition`) into the one field its fast path reads. After `shutdown()` nothing moves: no
 * timer, no log line, no event, no fleet message.
 */
export class BreakerStateMachine {
  state = CLOSED;
  /** Successful probes since the breaker half-opened. */
  probeSuccesses = 0;
  #openedAt = 0;
  #openForMs = 0;
  #resetTimer: TimerHandle | undefined;
  #shut = false;
  #leaveFleet: (() => void) | undefined;
  /** Opened because the fleet said so (a resync finding no shared key half-opens it). */
  #openedByFleet = false;
  /** A probe lease request is in flight: the breaker stays open until Redis answers. */
  #leasing = false;

  constructor(private readonly o: StateMachineOptions) {
    if (o.fleet) this.#joinFleet(o.fleet);
  }

  /** The state, half-opening first if the reset timeout has passed (a timer may be late or gone). */
  current(): number {
    if (this.state === OPEN && this.o.clock.monotonic() - this.#openedAt >= this.#openForMs) this.#due();
    return this.state;
  }

  /**
   * @param keepLonger keep an open spell that already lasts longer than `openForMs` (a `Retry-After` must not
   * shorten a longer outage).
   */
  toOpen(reason: OpenReason, openForMs = this.o.resetTimeoutMs, keepLonger = false): void {
    if (this.#shut) return;
    const { clock, name } = this.o;
    const from = this.state;
    const now = clock.monotonic();
    if (keepLonger && from === OPEN && this.#openedAt + this.#openForMs - now >= openForMs) return;
    this.#set(OPEN);
    this.#openedAt = now;
    this.#openForMs = this.o.isolated() ? Number.POSITIVE_INFINITY : openForMs;
    this.#openedByFleet = reason === 'fleet';
    this.probeSuccesses = 0;
    if (this.#resetTimer) clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    if (this.#openForMs !== Number.POSITIVE_INFINITY) this.#arm(openForMs);
    if (from === OPEN && reason !== 'retry-after') return;
    if (from !== OPEN) this.o.log.error({ reason }, `🔴 Circuit breaker OPENED for ${name}`);
    if (reason !== 'fleet' && reason !== 'isolated') {
      // A duration, not an instant: receivers add it to their own clocks (no wall-clock comparison).
      this.o.fleet?.publish({ breaker: name, state: 'open', ttlMs: openForMs });
    }
    if (from !== OPEN) this.#announce(from, OPEN, reason);
  }

  #arm(ms: number): void {
    this.#resetTimer = this.o.clock.setTimeout(() => {
      this.#resetTimer = undefined;
      if (this.state === OPEN) this.#due();
    }, ms);
    this.#resetTimer.unref();
  }

  /**
   * The open spell is over. Alone, the breaker half-opens. In a fleet with probe leases, it first takes the
   * fleet's short probe lease: only the instance holding it half-opens and probes; the others stay open for
   * another lease period (or until the prober reports). Redis failing to answer half-opens locally.
   */
  #due(): void {
    if (this.o.isolated() || this.#leasing) return;
    const fleet = this.o.fleet;
    if (!fleet?.acquireProbe) {
      this.toHalfOpen();
      return;
    }
    this.#leasing = true;
    fleet.acquireProbe(this.o.name).then(
      (leaseMs) => {
        this.#leasing = false;
        if (this.#shut || this.state !== OPEN || this.o.isolated()) return;
        if (leaseMs === 0) {
          this.toHalfOpen();
          return;
        }
        // Someone else probes: wait for their report, or for their lease to lapse.
        this.#openedAt = this.o.clock.monotonic();
        this.#openForMs = leaseMs;
        if (this.#resetTimer) this.o.clock.clearTimeout(this.#resetTimer);
        this.#arm(leaseMs);
      },
      (error: unknown) => {
        this.#leasing = false;
        this.o.log.warn({ err: error }, 'could not take the fleet probe lease: probing locally');
        if (!this.#shut && this.state === OPEN && !this.o.isolated()) this.toHalfOpen();
      },
    );
  }

  toHalfOpen(): void {
    if (this.state === HALF_OPEN || this.#shut) return;
    const from = this.state;
    this.#set(HALF_OPEN);
    this.probeSuccesses = 0;
    this.o.log.warn(`🟡 Circuit breaker HALF-OPEN for ${this.o.name}`);
    this.#announce(from, HALF_OPEN, undefined);
  }

  toClosed(): void {
    if (this.state === CLOSED || this.#shut) return;
    const from = this.state;
    this.#set(CLOSED);
    if (this.#resetTimer) this.o.clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    this.o.log.info(`🟢 Circuit breaker CLOSED for ${this.o.name}`);
    this.o.fleet?.publish({ breaker: this.o.name, state: 'closed' });
    this.#announce(from, CLOSED, undefined);
  }

  /** Stops for good: clears the reset timer and leaves the fleet. The state stays as it is. */
  shutdown(): void {
    this.#shut = true;
    if (this.#resetTimer) this.o.clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    this.#leaveFleet?.();
    this.#leaveFleet = undefined;
  }

  #set(state: number): void {
    this.state = state;
    this.o.onTransition(state);
  }

  #announce(from: number, to: number, reason: OpenReason | undefined): void {
    const change: StateChange = { name: this.o.name, from: STATE_NAMES[from]!, to: STATE_NAMES[to]! };
    if (reason) change.reason = reason;
    this.o.events.announce(change);
  }

  #joinFleet(fleet: FleetLink): void {
    const leave = fleet.subscribe(this.o.name, (m) => this.#applyFleet(m));
    // Messages sent while our subscriber was down are lost: re-read the shared key whenever it is back.
    const stopResync = fleet.onResync?.(() => this.#resync(fleet));
    this.#leaveFleet = () => {
      leave();
      stopResync?.();
    };
    this.#resync(fleet);
  }

  #resync(fleet: FleetLink): void {
    fleet.current(this.o.name).then(
      (m) => {
        if (m) this.#applyFleet(m);
        else if (this.state === OPEN && this.#openedByFleet)
          this.#applyFleet({ breaker: this.o.name, state: 'closed' });
      },
      (error: unknown) => this.o.log.warn({ err: error }, 'could not read fleet state'),
    );
  }

  #applyFleet(m: FleetMessage): void {
    if (this.#shut || this.o.isolated()) return;
    if (m.state === 'open') {
      // The remaining duration as the sender (or Redis' PTTL) measured it; an old message's wall-clock
      // instant is only a fallback.
      const remaining = m.ttlMs ?? (m.untilMs ?? 0) - Date.now();
      if (remaining > 0 && this.state !== OPEN) this.toOpen('fleet', remaining);
    } else if (this.state === OPEN) {
      // Another instance's probe succeeded: probe ourselves rather than trust it blindly.
      this.toHalfOpen();
    }
  }
}
