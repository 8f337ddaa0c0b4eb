import { EventEmitter } from '@ballast/core';

export type BreakerState = 'closed' | 'open' | 'half-open';
/** Why the breaker opened. */
export type OpenReason =
  | 'failure-rate'
  | 'slow-calls'
  | 'slow-probe'
  | 'consecutive-failures'
  | 'probe-failed'
  | 'forced'
  | 'isolated'
  | 'retry-after'
  | 'health-check'
  | 'fleet';

export interface StateChange {
  name: string;
  from: BreakerState;
  to: BreakerState;
  reason?: OpenReason;
}
export interface CallEvent {
  name: string;
  /**
   * The call's duration. NaN only for a call that began before the event had any listener, when nothing else
   * needed its duration (calls are timed only when something reads the time: see the README's sampling note).
   */
  durationMs: number;
}
export interface FailureEvent extends CallEvent {
  error: unknown;
}
export interface RejectEvent {
  name: string;
  state: BreakerState;
}
export interface ShedEvent {
  name: string;
  inFlight: number;
}

/**
 * A breaker's events but `success` (which the breaker keeps beside its fast path): its state changes and its
 * failed, rejected, shed and cancelled calls. Exposed as `breaker.onOpen(listener)` etc.
 */
export class BreakerEvents {
  readonly stateChanged = new EventEmitter<StateChange>('stateChange');
  readonly opened = new EventEmitter<StateChange>('open');
  readonly halfOpened = new EventEmitter<StateChange>('halfOpen');
  readonly closed = new EventEmitter<StateChange>('close');
  readonly failed = new EventEmitter<FailureEvent>('failure');
  readonly timedOut = new EventEmitter<FailureEvent>('timeout');
  readonly rejected = new EventEmitter<RejectEvent>('reject');
  readonly shed = new EventEmitter<ShedEvent>('shed');
  readonly cancelled = new EventEmitter<CallEvent>('cancel');

  /** Someone listens to an event whose payload carries a call's `durationMs`: calls must be timed. */
  carriesDurations(): boolean {
    return this.failed.size > 0 || this.timedOut.size > 0 || this.cancelled.size > 0;
  }

  /** A transition: on its own event (`opened`, …), then on `stateChanged`. */
  announce(change: StateChange): void {
    const specific = change.to === 'open' ? this.opened : change.to === 'half-open' ? this.halfOpened : this.closed;
    specific.emit(change);
    this.stateChanged.emit(change);
  }

  clear(): void {
    for (const e of [this.stateChanged, this.opened, this.halfOpened, this.closed, this.failed]) e.clear();
    for (const e of [this.timedOut, this.rejected, this.shed, this.cancelled]) e.clear();
  }
}
