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

  constructor(private readonly o: StateMachineOptions) {
    if (o.fleet) this.#joinFleet(o.fleet);
  }

  /** The state, half-opening first if the reset timeout has passed (a timer may be late or gone). */
  current(): number {
    if (this.state === OPEN && this.o.clock.monotonic() - this.#openedAt >= this.#openForMs) this.toHalfOpen();
    return this.state;
  }

  toOpen(reason: OpenReason, openForMs = this.o.resetTimeoutMs): void {
    if (this.#shut) return;
    const { clock, name } = this.o;
    const from = this.state;
    this.#set(OPEN);
    this.#openedAt = clock.monotonic();
    this.#openForMs = openForMs;
    this.probeSuccesses = 0;
    if (this.#resetTimer) clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = clock.setTimeout(() => {
      this.#resetTimer = undefined;
      if (this.state === OPEN) this.toHalfOpen();
    }, openForMs);
    this.#resetTimer.unref();
    if (from === OPEN) return;
    this.o.log.error({ reason }, `🔴 Circuit breaker OPENED for ${name}`);
    if (reason !== 'fleet') {
      this.o.fleet?.publish({ breaker: name, state: 'open', untilMs: clock.now() + openForMs, ttlMs: openForMs });
    }
    this.#announce(from, OPEN, reason);
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
    this.#leaveFleet = fleet.subscribe(this.o.name, (m) => this.#applyFleet(m));
    fleet.current(this.o.name).then(
      (m) => {
        if (m) this.#applyFleet(m);
      },
      (error: unknown) => this.o.log.warn({ err: error }, 'could not read fleet state'),
    );
  }

  #applyFleet(m: FleetMessage): void {
    if (this.#shut) return;
    if (m.state === 'open') {
      const remaining = (m.untilMs ?? 0) - this.o.clock.now();
      if (remaining > 0 && this.state !== OPEN) this.toOpen('fleet', remaining);
    } else if (this.state === OPEN) {
      // Another instance's probe succeeded: probe ourselves rather than trust it blindly.
      this.toHalfOpen();
    }
  }
}
