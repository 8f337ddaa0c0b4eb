import {
  type Clock,
  childLogger,
  EventEmitter,
  isAbortedError,
  type Logger,
  parseOptions,
  systemClock,
  type TimerHandle,
} from '@ballast/core';
import { abortedBy } from './call-context';
import { BrokenCircuitError, isTimeoutError, ShedError } from './errors';
import type { FleetLink, FleetMessage } from './fleet';
import { type LatencyHistogram, RollingHistogram } from './histogram';
import { type BreakerMetrics, breakerMetrics } from './metrics';
import { type BreakerOptions, breakerOptionsSchema, fromOpossumNames, type ResolvedBreakerOptions } from './options';
import { callerSignal, NEVER_ABORTED, type Policy, type PolicyContext, type PolicyFn } from './policy';
import { DeadlineQueue, runTimed } from './timed';
import {
  CountWindow,
  OUTCOME_NAMES,
  Outcome,
  type OutcomeName,
  type OutcomeWindow,
  TimeWindow,
  type WindowCounts,
} from './window';

export type BreakerState = 'closed' | 'open' | 'half-open';
/** Why the breaker opened. */
export type OpenReason = 'failure-rate' | 'slow-calls' | 'consecutive-failures' | 'probe-failed' | 'forced' | 'fleet';

export interface StateChange {
  name: string;
  from: BreakerState;
  to: BreakerState;
  reason?: OpenReason;
}
export interface CallEvent {
  name: string;
  durationMs: number;
}
export interface FailureEvent extends CallEvent {
  error: unknown;
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const STATE_NAMES: readonly BreakerState[] = ['closed', 'open', 'half-open'];

const OK_CONTEXT: PolicyContext = { signal: NEVER_ABORTED, attempt: 0 };

/**
 * A circuit breaker: closed → open → half-open → closed.
 *
 * - Every call costs O(1) whatever the window size: outcomes go into time buckets (or a ring of the last N
 *   calls) with running sums; latencies into a fixed-size histogram.
 * - Outcomes: success, failure, timeout, rejected (open), shed (over `capacity`), cancelled (the caller's
 *   signal). Shed and cancelled calls are **not** failures: they say nothing about the dependency.
 * - With `timeoutMs`, each call gets its own AbortSignal (created only if the function reads it), aborted on
 *   timeout or when the caller's signal aborts.
 */
export class CircuitBreaker implements Policy {
  readonly name: string;
  readonly options: ResolvedBreakerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #window: OutcomeWindow;
  readonly #latency: RollingHistogram;
  readonly #deadlines: DeadlineQueue | undefined;
  readonly #timeoutMs: number;
  readonly #metrics: BreakerMetrics | undefined;
  readonly #isFailure: ((error: unknown) => boolean) | undefined;
  readonly #slowMs: number;
  readonly #fleet: FleetLink | undefined;
  #unsubscribeFleet: (() => void) | undefined;

  #state = CLOSED;
  #openedAt = 0;
  #resetTimer: TimerHandle | undefined;
  #inFlight = 0;
  #probesInFlight = 0;
  #probeSuccesses = 0;
  #consecutiveFailures = 0;
  #closed = false;
  /** Cumulative counts since creation, by outcome. */
  readonly totals: Record<OutcomeName, number> = {
    success: 0,
    failure: 0,
    timeout: 0,
    rejected: 0,
    shed: 0,
    cancelled: 0,
  };

  readonly #stateChanged = new EventEmitter<StateChange>('stateChange');
  readonly #opened = new EventEmitter<StateChange>('open');
  readonly #halfOpened = new EventEmitter<StateChange>('halfOpen');
  readonly #closedEv = new EventEmitter<StateChange>('close');
  readonly #succeeded = new EventEmitter<CallEvent>('success');
  readonly #failed = new EventEmitter<FailureEvent>('failure');
  readonly #timedOut = new EventEmitter<FailureEvent>('timeout');
  readonly #rejected = new EventEmitter<{ name: string; state: BreakerState }>('reject');
  readonly #shed = new EventEmitter<{ name: string; inFlight: number }>('shed');
  readonly #cancelled = new EventEmitter<CallEvent>('cancel');

  readonly onStateChange = this.#stateChanged.event;
  readonly onOpen = this.#opened.event;
  readonly onHalfOpen = this.#halfOpened.event;
  readonly onClose = this.#closedEv.event;
  readonly onSuccess = this.#succeeded.event;
  /** Failures, timeouts included. */
  readonly onFailure = this.#failed.event;
  readonly onTimeout = this.#timedOut.event;
  readonly onReject = this.#rejected.event;
  readonly onShed = this.#shed.event;
  readonly onCancel = this.#cancelled.event;

  constructor(options: BreakerOptions = {}) {
    const o = parseOptions(breakerOptionsSchema, fromOpossumNames(options), 'CircuitBreaker');
    this.options = o;
    this.name = o.name;
    this.#clock = o.clock ?? systemClock;
    this.#log = childLogger(o.logger, { component: 'circuit-breaker', breaker: o.name });
    const now = this.#clock.monotonic();
    this.#window =
      o.windowType === 'count'
        ? new CountWindow(o.windowSize)
        : new TimeWindow(o.rollingCountTimeoutMs, o.rollingCountBuckets, now);
    this.#latency = new RollingHistogram(o.rollingCountTimeoutMs, now);
    this.#timeoutMs = o.timeoutMs === false ? 0 : o.timeoutMs;
    this.#deadlines = this.#timeoutMs > 0 ? new DeadlineQueue(this.#clock) : undefined;
    this.#isFailure = o.isFailure;
    this.#slowMs = o.slowCallDurationMs ?? Number.POSITIVE_INFINITY;
    this.#metrics = o.metrics ? breakerMetrics(this) : undefined;
    this.#fleet = o.fleet;
    if (this.#fleet) this.#joinFleet(this.#fleet);
  }

  get state(): BreakerState {
    if (this.#state === OPEN) this.#maybeHalfOpen();
    return STATE_NAMES[this.#state]!;
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Runs `fn` through the breaker. Rejects with `BrokenCircuitError` when open, `ShedError` over capacity,
   * `TimeoutError` past `timeoutMs`, `AbortedError` when `signal` aborts; otherwise with `fn`'s own error.
   */
  execute<T>(fn: PolicyFn<T>, outerSignal?: AbortSignal): Promise<T> {
    const signal = callerSignal(outerSignal);
    let probe = false;
    if (this.#state !== CLOSED) {
      if (this.#state === OPEN) this.#maybeHalfOpen();
      if (this.#state === OPEN || this.#probesInFlight >= this.options.halfOpenMaxProbes) {
        return Promise.reject(this.#reject());
      }
      probe = true;
    }
    if (this.#inFlight >= this.options.capacity) return Promise.reject(this.#shedCall());
    if (signal?.aborted) {
      this.#record(Outcome.cancelled, false);
      return Promise.reject(abortedBy(signal));
    }
    if (probe) this.#probesInFlight++;
    this.#inFlight++;
    const start = this.#clock.monotonic();

    if (this.#deadlines === undefined && signal === undefined) {
      // Fast path: no timer, no signal, no extra promise for synchronous results.
      let result: PromiseLike<T> | T;
      try {
        result = fn(OK_CONTEXT);
      } catch (error) {
        this.#settleError(error, start, probe, undefined);
        return Promise.reject(error);
      }
      if (result === null || typeof (result as PromiseLike<T>)?.then !== 'function') {
        this.#settleSuccess(start, probe);
        return Promise.resolve(result as T);
      }
      return Promise.resolve(result as PromiseLike<T>).then(
        (value) => {
          this.#settleSuccess(start, probe);
          return value;
        },
        (error: unknown) => {
          this.#settleError(error, start, probe, undefined);
          throw error;
        },
      );
    }
    return runTimed(this.#clock, this.#deadlines, this.#timeoutMs, `circuit "${this.name}" call`, fn, signal, 0).then(
      (value) => {
        this.#settleSuccess(start, probe);
        return value;
      },
      (error: unknown) => {
        this.#settleError(error, start, probe, signal);
        throw error;
      },
    );
  }

  /** Wraps a function: `const getUser = breaker.wrap((id: string) => api.get(id))`. */
  wrap<A extends unknown[], R>(fn: (...args: A) => PromiseLike<R> | R): (...args: A) => Promise<R> {
    return (...args: A) => this.execute(() => fn(...args));
  }

  /** opossum-style alias of `execute` for migration: `breaker.fire(() => call())`. */
  fire<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    return this.execute(fn, signal);
  }

  /** Opens now (maintenance, a known outage); half-opens after `resetTimeoutMs` as usual. */
  open(): void {
    this.#toOpen('forced');
  }

  /** Closes now and forgets the window. */
  close(): void {
    if (this.#state !== CLOSED) this.#toClosed();
  }

  /** Window counts now. */
  counts(): WindowCounts {
    return this.#window.counts(this.#clock.monotonic());
  }

  /** Latency over the last one to two windows. */
  latency(): LatencyHistogram {
    return this.#latency.snapshot(this.#clock.monotonic());
  }

  /** Stops timers and the fleet subscription. The breaker still works, but never half-opens by timer. */
  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#resetTimer) this.#clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    this.#deadlines?.dispose();
    this.#unsubscribeFleet?.();
    this.#metrics?.dispose();
    for (const e of [this.#stateChanged, this.#opened, this.#halfOpened, this.#closedEv]) e.clear();
  }

  // ── outcomes ──────────────────────────────────────────────────────────────────────────────────────────

  #record(outcome: Outcome, slow: boolean): void {
    this.#window.record(this.#clock.monotonic(), outcome, slow);
    this.totals[OUTCOME_NAMES[outcome]]++;
  }

  #reject(): BrokenCircuitError {
    this.#record(Outcome.rejected, false);
    const state = STATE_NAMES[this.#state] as 'open' | 'half-open';
    if (this.#rejected.size > 0) this.#rejected.emit({ name: this.name, state });
    return new BrokenCircuitError(this.name, state);
  }

  #shedCall(): ShedError {
    this.#record(Outcome.shed, false);
    if (this.#shed.size > 0) this.#shed.emit({ name: this.name, inFlight: this.#inFlight });
    return new ShedError(
      this.name,
      `Circuit breaker "${this.name}" is at capacity (${this.options.capacity}): call shed`,
    );
  }

  #settleSuccess(start: number, probe: boolean): void {
    const end = this.#clock.monotonic();
    const ms = end - start;
    this.#inFlight--;
    const slow = ms >= this.#slowMs;
    this.#window.record(end, Outcome.success, slow);
    this.totals.success++;
    this.#latency.record(end, ms * 1000);
    this.#consecutiveFailures = 0;
    this.#metrics?.duration(ms, 'success');
    if (this.#succeeded.size > 0) this.#succeeded.emit({ name: this.name, durationMs: ms });
    if (probe) {
      this.#probesInFlight--;
      if (this.#state === HALF_OPEN && ++this.#probeSuccesses >= this.options.successThreshold) this.#toClosed();
    } else if (slow && this.#state === CLOSED) {
      this.#checkTrip(end);
    }
  }

  #settleError(error: unknown, start: number, probe: boolean, signal: AbortSignal | undefined): void {
    const cancelled = signal?.aborted === true && isAbortedError(error);
    if (!cancelled && this.#isFailure && !this.#isFailure(error)) {
      // Not the dependency's fault (a 404, a validation error): rethrown, but counted as a success.
      this.#settleSuccess(start, probe);
      return;
    }
    const end = this.#clock.monotonic();
    const ms = end - start;
    this.#inFlight--;
    if (probe) this.#probesInFlight--;
    if (cancelled) {
      this.#window.record(end, Outcome.cancelled, false);
      this.totals.cancelled++;
      if (this.#cancelled.size > 0) this.#cancelled.emit({ name: this.name, durationMs: ms });
      return;
    }
    const timeout = isTimeoutError(error);
    const slow = ms >= this.#slowMs;
    this.#window.record(end, timeout ? Outcome.timeout : Outcome.failure, slow);
    if (timeout) this.totals.timeout++;
    else this.totals.failure++;
    this.#latency.record(end, ms * 1000);
    this.#consecutiveFailures++;
    this.#metrics?.duration(ms, timeout ? 'timeout' : 'failure');
    if (this.#failed.size > 0 || this.#timedOut.size > 0) {
      const event = { name: this.name, durationMs: ms, error };
      this.#failed.emit(event);
      if (timeout) this.#timedOut.emit(event);
    }
    if (probe || this.#state === HALF_OPEN) {
      if (this.#state === HALF_OPEN) this.#toOpen('probe-failed');
      return;
    }
    if (this.#state === CLOSED) this.#checkTrip(end);
  }

  #checkTrip(now: number): void {
    const o = this.options;
    if (o.consecutiveFailureThreshold !== undefined && this.#consecutiveFailures >= o.consecutiveFailureThreshold) {
      this.#toOpen('consecutive-failures');
      return;
    }
    const calls = this.#window.calls(now);
    if (calls === 0 || calls < o.volumeThreshold) return;
    if ((this.#window.failures(now) * 100) / calls >= o.errorThresholdPercentage) {
      this.#toOpen('failure-rate');
    } else if (
      this.#slowMs !== Number.POSITIVE_INFINITY &&
      (this.#window.slow(now) * 100) / calls >= o.slowCallRateThreshold
    ) {
      this.#toOpen('slow-calls');
    }
  }

  // ── transitions ───────────────────────────────────────────────────────────────────────────────────────

  #maybeHalfOpen(): void {
    if (this.#clock.monotonic() - this.#openedAt >= this.#openForMs) this.#toHalfOpen();
  }

  #openForMs = 0;

  #toOpen(reason: OpenReason, openForMs = this.options.resetTimeoutMs): void {
    const from = this.#state;
    this.#state = OPEN;
    this.#openedAt = this.#clock.monotonic();
    this.#openForMs = openForMs;
    this.#probeSuccesses = 0;
    this.#consecutiveFailures = 0;
    if (this.#resetTimer) this.#clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    if (!this.#closed) {
      this.#resetTimer = this.#clock.setTimeout(() => {
        this.#resetTimer = undefined;
        if (this.#state === OPEN) this.#toHalfOpen();
      }, openForMs);
      this.#resetTimer.unref();
    }
    if (from === OPEN) return;
    this.#log.error({ reason }, `🔴 Circuit breaker OPENED for ${this.name}`);
    if (reason !== 'fleet') {
      this.#fleet?.publish({ breaker: this.name, state: 'open', untilMs: this.#clock.now() + openForMs });
    }
    this.#announce(from, OPEN, reason, this.#opened);
  }

  #toHalfOpen(): void {
    if (this.#state === HALF_OPEN) return;
    const from = this.#state;
    this.#state = HALF_OPEN;
    this.#probeSuccesses = 0;
    this.#log.warn(`🟡 Circuit breaker HALF-OPEN for ${this.name}`);
    this.#announce(from, HALF_OPEN, undefined, this.#halfOpened);
  }

  #toClosed(): void {
    const from = this.#state;
    this.#state = CLOSED;
    if (this.#resetTimer) this.#clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    const now = this.#clock.monotonic();
    this.#window.reset(now);
    this.#consecutiveFailures = 0;
    this.#log.info(`🟢 Circuit breaker CLOSED for ${this.name}`);
    this.#fleet?.publish({ breaker: this.name, state: 'closed' });
    this.#announce(from, CLOSED, undefined, this.#closedEv);
  }

  #announce(from: number, to: number, reason: OpenReason | undefined, specific: EventEmitter<StateChange>): void {
    const change: StateChange = { name: this.name, from: STATE_NAMES[from]!, to: STATE_NAMES[to]! };
    if (reason) change.reason = reason;
    specific.emit(change);
    this.#stateChanged.emit(change);
  }

  // ── fleet ─────────────────────────────────────────────────────────────────────────────────────────────

  #joinFleet(fleet: FleetLink): void {
    this.#unsubscribeFleet = fleet.subscribe(this.name, (m) => this.#applyFleet(m));
    fleet.current(this.name).then(
      (m) => {
        if (m) this.#applyFleet(m);
      },
      (error: unknown) => this.#log.warn({ err: error }, 'could not read fleet state'),
    );
  }

  #applyFleet(m: FleetMessage): void {
    if (this.#closed) return;
    if (m.state === 'open') {
      const remaining = (m.untilMs ?? 0) - this.#clock.now();
      if (remaining > 0 && this.#state !== OPEN) this.#toOpen('fleet', remaining);
    } else if (this.#state === OPEN) {
      // Another instance's probe succeeded: probe ourselves rather than trust it blindly.
      this.#toHalfOpen();
    }
  }
}

/** `new CircuitBreaker(options)`, as a function. */
export function circuitBreaker(options: BreakerOptions = {}): CircuitBreaker {
  return new CircuitBreaker(options);
}
