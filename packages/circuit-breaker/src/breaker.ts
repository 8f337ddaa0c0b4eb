import { type Clock, EventEmitter, isAbortedError, systemClock, type TimerHandle } from '@ballast/core';
import {
  BreakerEvents,
  type BreakerState,
  type CallEvent,
  type FailureEvent,
  type OpenReason,
  type RejectEvent,
  type ShedEvent,
  type StateChange,
} from './breaker-events';
import { BreakerStateMachine, CLOSED, HALF_OPEN, OPEN, STATE_NAMES } from './breaker-state';
import { abortedBy } from './call-context';
import { asyncDispose, notAFunction, refuseCalls } from './closing';
import { BrokenCircuitError, InvalidArgumentError, isTimeoutError, PolicyClosedError, ShedError } from './errors';
import { type LatencyHistogram, RollingHistogram } from './histogram';
import { KeyedCalls, type KeyedCounts } from './keyed';
import { componentLogger } from './log';
import { type BreakerMetrics, breakerMetrics } from './metrics';
import { type BreakerOptions, type ResolvedBreakerOptions, resolveBreakerOptions } from './options';
import { callerSignal, NEVER_ABORTED, type Policy, type PolicyContext, type PolicyFn } from './policy';
import { DeadlineQueue, runTimed, stillRunning, ZombieTracker } from './timed';
import {
  CountWindow,
  OUTCOME_NAMES,
  Outcome,
  type OutcomeName,
  type OutcomeWindow,
  TimeWindow,
  type WindowCounts,
} from './window';

export type { BreakerState, CallEvent, FailureEvent, OpenReason, RejectEvent, ShedEvent, StateChange };

/** `breaker.stats`: opossum's field names (a drop-in for its `stats`), plus Ballast's own counts. */
export interface OpossumStats extends KeyedCounts {
  fires: number;
  successes: number;
  /** Failures only: unlike opossum, timeouts and shed calls are not also counted here. */
  failures: number;
  timeouts: number;
  rejects: number;
  /** Shed over `capacity` (opossum's name). */
  semaphoreRejections: number;
  /** Always 0: fallbacks are a separate policy here (`fallback()`). */
  fallbacks: number;
  /** ms */
  latencyMean: number;
  /** ms, by quantile, opossum's keys. */
  percentiles: Record<string, number>;
  shed: number;
  cancelled: number;
  slow: number;
  zombies: number;
}

const EMPTY_ARGS: unknown[] = [];

/**
 * Latency sampling. Every call is timed while the latency histogram's current period (the rolling window's
 * length) holds fewer than `EXACT_SAMPLES` calls; past that, one call in `SAMPLE_EVERY` is, recorded with
 * weight `SAMPLE_EVERY`. An untimed call reads the clock once (when it settles, for the window) instead of
 * twice. Calls are always all timed when something needs each duration: a slow-call rule, a live OTel
 * duration histogram, or a listener on an event that carries `durationMs`.
 */
const EXACT_SAMPLES = 256;
const SAMPLE_EVERY = 8;

const OK_CONTEXT: PolicyContext = { signal: NEVER_ABORTED, attempt: 0 };
/** Not a state: the gate's value while the breaker is disabled. */
const DISABLED = 3;

/**
 * A circuit breaker: closed → open → half-open → closed.
 *
 * - Every call costs O(1) whatever the window size: outcomes go into time buckets (or a ring of the last N
 *   calls) with running sums; latencies into a fixed-size histogram.
 * - Outcomes: success, failure, timeout, rejected (open), shed (over `capacity`), cancelled (the caller's
 *   signal). Shed and cancelled calls are **not** failures: they say nothing about the dependency.
 * - With `timeoutMs`, each call gets its own AbortSignal (created only if the function reads it), aborted on
 *   timeout or when the caller's signal aborts.
 * - `close()` shuts it down (timers, fleet subscription, metrics); `forceOpen()`/`forceClose()` set the state.
 */
export class CircuitBreaker implements Policy {
  readonly name: string;
  /** The metrics' `service` attribute: `group`, else the name. */
  readonly group: string;
  readonly options: ResolvedBreakerOptions;
  readonly #clock: Clock;
  readonly #sm: BreakerStateMachine;
  readonly #window: OutcomeWindow;
  readonly #latency: RollingHistogram;
  readonly #deadlines: DeadlineQueue | undefined;
  readonly #timeoutMs: number;
  readonly #metrics: BreakerMetrics | undefined;
  /** True when every call's duration is needed: a slow-call rule, or a duration histogram that records. */
  readonly #timeEveryCall: boolean;
  /** Calls left before the next sampled one (see `SAMPLE_EVERY`). */
  #untilSample = 0;
  readonly #isFailure: ((error: unknown) => boolean) | undefined;
  readonly #slowMs: number;
  readonly #warmUpUntil: number;
  readonly #cooperative: boolean;
  readonly #holdSlot: boolean;
  readonly #zombies: ZombieTracker;
  readonly #keyed: KeyedCalls | undefined;
  /** Open `isolate()` handles: while any is held the breaker stays open, whatever the reset timeout. */
  #isolations = 0;
  #healthTimers: TimerHandle[] = [];
  #snapshotTimer: TimerHandle | undefined;
  /** What `execute` reads first: the state (mirrored from `#sm`), or DISABLED. Only CLOSED is the fast path. */
  #gate = CLOSED;
  #inFlight = 0;
  #probesInFlight = 0;
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

  readonly #ev = new BreakerEvents();
  /** Kept here, not in `#ev`: the success path checks it on every call. */
  readonly #succeeded = new EventEmitter<CallEvent>('success');

  readonly onStateChange = this.#ev.stateChanged.event;
  readonly onOpen = this.#ev.opened.event;
  readonly onHalfOpen = this.#ev.halfOpened.event;
  /** The breaker moved to the CLOSED state (healthy again) — not `close()`, which shuts it down. */
  readonly onClose = this.#ev.closed.event;
  readonly onSuccess = this.#succeeded.event;
  /** Failures, timeouts included. */
  readonly onFailure = this.#ev.failed.event;
  readonly onTimeout = this.#ev.timedOut.event;
  readonly onReject = this.#ev.rejected.event;
  readonly onShed = this.#ev.shed.event;
  readonly onCancel = this.#ev.cancelled.event;
  readonly #healthFailed = new EventEmitter<{ name: string; error: unknown }>('healthCheckFailed');
  /** A `healthCheck` function rejected: the breaker opened (opossum's `healthCheckFailed`). */
  readonly onHealthCheckFailed = this.#healthFailed.event;
  readonly #snapshot = new EventEmitter<OpossumStats>('snapshot');
  /** With `enableSnapshots`: `stats` once per bucket (opossum's `status` `snapshot` event). */
  readonly onSnapshot = this.#snapshot.event;

  constructor(options: BreakerOptions = {}) {
    const o = resolveBreakerOptions(options, 'CircuitBreaker');
    this.options = o;
    this.name = o.name;
    this.group = o.group ?? o.name;
    this.#clock = o.clock ?? systemClock;
    const log = componentLogger(o.logger, { component: 'circuit-breaker', breaker: o.name });
    if (o.ignoredOpossumOptions.length > 0) {
      log.warn(
        { ignored: o.ignoredOpossumOptions },
        `opossum options with no Ballast equivalent are ignored: ${o.ignoredOpossumOptions.join(', ')}`,
      );
    }
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
    this.#warmUpUntil = now + o.warmUpMs;
    this.#cooperative = o.timeoutStrategy === 'cooperative';
    this.#holdSlot = o.holdSlotUntilSettled;
    this.#zombies = new ZombieTracker(this.#holdSlot ? () => void this.#inFlight-- : undefined);
    this.#keyed = o.keyed ? new KeyedCalls(o.keyed, this.#clock) : undefined;
    this.#sm = new BreakerStateMachine({
      name: o.name,
      clock: this.#clock,
      log,
      events: this.#ev,
      resetTimeoutMs: o.resetTimeoutMs,
      fleet: o.fleet,
      isolated: () => this.#isolations > 0,
      onTransition: (to) => {
        if (this.#gate !== DISABLED) this.#gate = to;
        this.#consecutiveFailures = 0;
        if (to === CLOSED) this.#window.reset(this.#clock.monotonic());
      },
    });
    if (!o.enabled) this.#gate = DISABLED;
    this.#metrics = o.metrics ? breakerMetrics(this) : undefined;
    this.#timeEveryCall = this.#slowMs !== Number.POSITIVE_INFINITY || this.#metrics?.recordsDurations === true;
    if (o.enableSnapshots) {
      const every = o.rollingCountTimeoutMs / o.rollingCountBuckets;
      const tick = () => {
        this.#snapshot.emit(this.stats);
        this.#snapshotTimer = this.#clock.setTimeout(tick, every);
        this.#snapshotTimer.unref();
      };
      this.#snapshotTimer = this.#clock.setTimeout(tick, every);
      this.#snapshotTimer.unref();
    }
  }

  /** Calls that timed out (aggressive strategy) whose function is still running. */
  get zombieCalls(): number {
    return this.#zombies.count;
  }

  get state(): BreakerState {
    return STATE_NAMES[this.#sm.current()]!;
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** False while `disable()`d (opossum's `enabled`). */
  get enabled(): boolean {
    return this.#gate !== DISABLED;
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `fn` through the breaker. Rejects with `BrokenCircuitError` when open, `ShedError` over capacity,
   * `TimeoutError` past `timeoutMs`, `AbortedError` when `signal` aborts, `PolicyClosedError` after `close()`,
   * `InvalidArgumentError` when `fn` is not a function (nothing counted); otherwise with `fn`'s own error.
   */
  execute<T>(fn: PolicyFn<T>, outerSignal?: AbortSignal): Promise<T> {
    if (this.#keyed !== undefined) return this.#keyed.run(EMPTY_ARGS, () => this.#execute(fn, outerSignal));
    return this.#execute(fn, outerSignal);
  }

  #execute<T>(fn: PolicyFn<T>, outerSignal: AbortSignal | undefined): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(notAFunction('CircuitBreaker.execute', fn));
    const signal = callerSignal(outerSignal);
    let probe = false;
    if (this.#gate !== CLOSED) {
      if (this.#gate === DISABLED) return runTimed(this.#clock, undefined, 0, '', fn, signal, 0);
      if (this.#sm.current() === OPEN || this.#probesInFlight >= this.options.halfOpenMaxProbes) {
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
    const weight = this.#latencyWeight();
    const start = weight > 0 ? this.#clock.monotonic() : 0;

    if (this.#deadlines === undefined && signal === undefined) {
      // Fast path: no timer, no signal, no extra promise for synchronous results.
      let result: PromiseLike<T> | T;
      try {
        result = fn(OK_CONTEXT);
      } catch (error) {
        this.#settleError(error, start, probe, undefined, weight);
        return Promise.reject(error);
      }
      if (result instanceof Promise) {
        // The function's own promise is returned: the outcome is recorded by a reaction registered before the
        // caller's, so it is counted before the caller resumes; no promise chained for the caller.
        if (weight === 0 && !probe) result.then(this.#untimedSuccess, this.#untimedError);
        else this.#observe(result, start, probe, undefined, weight);
        return result;
      }
      if (result === null || typeof (result as PromiseLike<T>)?.then !== 'function') {
        this.#settleSuccess(start, probe, weight);
        return Promise.resolve(result as T);
      }
      const adopted = Promise.resolve(result as PromiseLike<T>);
      this.#observe(adopted, start, probe, undefined, weight);
      return adopted;
    }
    const timed = runTimed(
      this.#clock,
      this.#deadlines,
      this.#timeoutMs,
      `circuit "${this.name}" call`,
      fn,
      signal,
      0,
      this.#cooperative,
      this.#zombies,
    );
    this.#observe(timed, start, probe, signal, weight);
    return timed;
  }

  /** Records `promise`'s outcome when it settles (the caller gets `promise` itself). */
  #observe(
    promise: Promise<unknown>,
    start: number,
    probe: boolean,
    signal: AbortSignal | undefined,
    weight: number,
  ): void {
    promise.then(
      () => this.#settleSuccess(start, probe, weight),
      (error: unknown) => this.#settleError(error, start, probe, signal, weight),
    );
  }

  /** Pre-bound outcomes of an untimed call that is not a probe: the common case allocates no closure. */
  readonly #untimedSuccess = (): void => this.#settleSuccess(0, false, 0);
  readonly #untimedError = (error: unknown): void => this.#settleError(error, 0, false, undefined, 0);

  /**
   * The weight this call's latency is recorded with: 0 for an untimed call (its start is not read), else
   * the number of calls its sample stands for (see `SAMPLE_EVERY`).
   */
  #latencyWeight(): number {
    if (this.#timeEveryCall || this.#succeeded.size > 0 || this.#ev.carriesDurations()) return 1;
    if (--this.#untilSample > 0) return 0;
    const weight = this.#latency.currentCount < EXACT_SAMPLES ? 1 : SAMPLE_EVERY;
    this.#untilSample = weight;
    return weight;
  }

  /**
   * Wraps a function: `const getUser = breaker.wrap((id: string) => api.get(id))`.
   * @throws InvalidArgumentError when `fn` is not a function.
   */
  wrap<A extends unknown[], R>(fn: (...args: A) => PromiseLike<R> | R): (...args: A) => Promise<R> {
    if (typeof fn !== 'function') throw notAFunction('CircuitBreaker.wrap', fn);
    const keyed = this.#keyed;
    if (keyed) {
      // After close() `execute` is the refusing stand-in: go through it then.
      return (...args: A) =>
        this.#closed
          ? this.execute(() => fn(...args))
          : keyed.run(args, () => this.#execute(() => fn(...args), undefined));
    }
    return (...args: A) => this.execute(() => fn(...args));
  }

  /** opossum-style alias of `execute` for migration: `breaker.fire(() => call())`. */
  fire<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    return this.execute(fn, signal);
  }

  /** Opens now (maintenance, a known outage); half-opens after `resetTimeoutMs` as usual. */
  forceOpen(): void {
    this.#sm.toOpen('forced');
  }

  /**
   * Opens for `ms` (e.g. a server's `Retry-After`), then half-opens. Never shortens an open spell already
   * longer than that.
   */
  openFor(ms: number, reason: OpenReason = 'forced'): void {
    if (!(ms > 0) || !Number.isFinite(ms)) {
      throw new InvalidArgumentError('CircuitBreaker.openFor', 'ms', 'a positive finite number', String(ms));
    }
    this.#sm.toOpen(reason, ms, true);
  }

  /**
   * Holds the breaker open until the returned function is called (cockatiel's `isolate()`): no reset timeout,
   * no fleet message half-opens it meanwhile. Each handle releases once; when the last is released the
   * breaker half-opens, so a probe confirms the dependency before traffic flows again.
   */
  isolate(): () => void {
    this.#isolations++;
    this.#sm.toOpen('isolated');
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#isolations === 0 && this.#sm.state === OPEN) this.#sm.toHalfOpen();
    };
  }

  /** True while an `isolate()` handle is held. */
  get isolated(): boolean {
    return this.#isolations > 0;
  }

  /**
   * opossum's `healthCheck(fn, interval)`: runs `fn` now and every `interval` ms (default 5 000); when it
   * rejects (or throws), the breaker opens and `onHealthCheckFailed` fires. The timer ends with `close()`.
   */
  healthCheck(fn: () => PromiseLike<unknown>, interval = 5_000): void {
    if (typeof fn !== 'function') throw notAFunction('CircuitBreaker.healthCheck', fn);
    if (!(interval > 0) || !Number.isFinite(interval)) {
      throw new InvalidArgumentError(
        'CircuitBreaker.healthCheck',
        'interval',
        'a positive finite number',
        String(interval),
      );
    }
    if (this.#closed) return;
    const failed = (error: unknown) => {
      if (this.#closed) return;
      this.#healthFailed.emit({ name: this.name, error });
      this.#sm.toOpen('health-check');
    };
    const slot = this.#healthTimers.length;
    const check = () => {
      try {
        Promise.resolve(fn()).then(undefined, failed);
      } catch (error) {
        failed(error);
      }
      if (this.#closed) return;
      const t = this.#clock.setTimeout(check, interval);
      t.unref();
      this.#healthTimers[slot] = t;
    };
    check();
  }

  /** Forgets cached results and shared executions (opossum's `clearCache()`). */
  clearCache(): void {
    this.#keyed?.clear();
  }

  /**
   * opossum's `stats` field names over the rolling window (`fires`, `successes`, `failures`, `timeouts`,
   * `rejects`, `semaphoreRejections`, cache and coalesce hits, `latencyMean`, `percentiles`), plus ours
   * (`shed`, `cancelled`, `slow`, `zombies`). Unlike opossum, `failures` excludes timeouts and shed calls.
   */
  get stats(): OpossumStats {
    const c = this.counts();
    const h = this.latency();
    const k = this.#keyed?.counts;
    const toMs = (us: number) => Math.round(us) / 1000;
    return {
      fires: c.success + c.failure + c.timeout + c.rejected + c.shed + c.cancelled,
      successes: c.success,
      failures: c.failure,
      timeouts: c.timeout,
      rejects: c.rejected,
      semaphoreRejections: c.shed,
      fallbacks: 0,
      cacheHits: k?.cacheHits ?? 0,
      cacheMisses: k?.cacheMisses ?? 0,
      coalesceCacheHits: k?.coalesceCacheHits ?? 0,
      coalesceCacheMisses: k?.coalesceCacheMisses ?? 0,
      latencyMean: toMs(h.meanUs),
      percentiles: {
        0: toMs(h.quantile(0)),
        0.25: toMs(h.quantile(0.25)),
        0.5: toMs(h.quantile(0.5)),
        0.75: toMs(h.quantile(0.75)),
        0.9: toMs(h.quantile(0.9)),
        0.95: toMs(h.quantile(0.95)),
        0.99: toMs(h.quantile(0.99)),
        0.995: toMs(h.quantile(0.995)),
        1: toMs(h.quantile(1)),
      },
      shed: c.shed,
      cancelled: c.cancelled,
      slow: c.slow,
      zombies: this.#zombies.count,
    };
  }

  /** Closes the circuit now (healthy again) and forgets the window. Not `close()`, which shuts it down. */
  forceClose(): void {
    this.#sm.toClosed();
  }

  /** opossum's `disable()`: calls run straight through — no timeout, not counted, never refused — until `enable()`. */
  disable(): void {
    this.#gate = DISABLED;
  }

  enable(): void {
    this.#gate = this.#sm.state;
  }

  /** Window counts now. */
  counts(): WindowCounts {
    return this.#window.counts(this.#clock.monotonic());
  }

  /** Latency over the last one to two windows. */
  latency(): LatencyHistogram {
    return this.#latency.snapshot(this.#clock.monotonic());
  }

  /**
   * Shuts the breaker down (core's `Closeable`): its reset timer and timeout timer are cleared, it leaves the
   * fleet and the metrics, calls still waiting on its timeout reject with `PolicyClosedError` (their signal
   * aborted with it) and later calls are refused with it. Its state stays as it was. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const closed = () => new PolicyClosedError('Circuit breaker', this.name);
    refuseCalls(this, closed);
    this.#sm.shutdown();
    for (const t of this.#healthTimers) this.#clock.clearTimeout(t);
    this.#healthTimers = [];
    if (this.#snapshotTimer) this.#clock.clearTimeout(this.#snapshotTimer);
    this.#snapshotTimer = undefined;
    this.#keyed?.clear();
    this.#healthFailed.clear();
    this.#snapshot.clear();
    this.#metrics?.dispose();
    this.#deadlines?.close(closed());
    this.#ev.clear();
    this.#succeeded.clear();
    return Promise.resolve();
  }

  /** Alias of `close()`. */
  dispose(): Promise<void> {
    return this.close();
  }

  [asyncDispose](): Promise<void> {
    return this.close();
  }

  // ── outcomes ──────────────────────────────────────────────────────────────────────────────────────────

  #record(outcome: Outcome, slow: boolean): void {
    this.#window.record(this.#clock.monotonic(), outcome, slow);
    this.totals[OUTCOME_NAMES[outcome]]++;
  }

  #reject(): BrokenCircuitError {
    this.#record(Outcome.rejected, false);
    const state = STATE_NAMES[this.#sm.state] as 'open' | 'half-open';
    if (this.#ev.rejected.size > 0) this.#ev.rejected.emit({ name: this.name, state });
    return new BrokenCircuitError(this.name, state);
  }

  #shedCall(): ShedError {
    this.#record(Outcome.shed, false);
    if (this.#ev.shed.size > 0) this.#ev.shed.emit({ name: this.name, inFlight: this.#inFlight });
    return new ShedError(
      this.name,
      `Circuit breaker "${this.name}" is at capacity (${this.options.capacity}): call shed`,
    );
  }

  /**
   * `weight` 0: the call was not timed (`start` unread), its duration is NaN — only possible when nothing
   * needed it when the call began (no slow-call rule, no recording histogram, no duration listener).
   */
  #settleSuccess(start: number, probe: boolean, weight: number): void {
    const end = this.#clock.monotonic();
    const ms = weight > 0 ? end - start : Number.NaN;
    this.#inFlight--;
    const slow = ms >= this.#slowMs;
    this.#window.record(end, Outcome.success, slow);
    this.totals.success++;
    if (weight > 0) this.#latency.record(end, ms * 1000, weight);
    this.#consecutiveFailures = 0;
    if (this.#timeEveryCall) this.#metrics?.duration(ms, 'success');
    if (this.#succeeded.size > 0) this.#succeeded.emit({ name: this.name, durationMs: ms });
    if (probe) {
      this.#probesInFlight--;
      const sm = this.#sm;
      if (sm.state !== HALF_OPEN) return;
      // A probe that succeeds but is slow says the dependency is still slow: the slow-call rule judges it.
      if (slow) sm.toOpen('slow-probe');
      else if (++sm.probeSuccesses >= this.options.successThreshold) sm.toClosed();
    } else if (slow && this.#sm.state === CLOSED) {
      this.#checkTrip(end);
    }
  }

  #settleError(error: unknown, start: number, probe: boolean, signal: AbortSignal | undefined, weight: number): void {
    if (this.#closed) {
      // Settled by close() (or finishing after it): nothing to learn about the dependency any more.
      this.#inFlight--;
      if (probe) this.#probesInFlight--;
      return;
    }
    const cancelled = signal?.aborted === true && isAbortedError(error);
    if (!cancelled && this.#isFailure && !this.#isFailure(error)) {
      // Not the dependency's fault (a 404, a validation error): rethrown, but counted as a success.
      this.#settleSuccess(start, probe, weight);
      return;
    }
    const end = this.#clock.monotonic();
    const ms = weight > 0 ? end - start : Number.NaN;
    // Holding the slot: a timed-out function still running gives it back when it settles (ZombieTracker).
    if (!(this.#holdSlot && stillRunning(error))) this.#inFlight--;
    if (probe) this.#probesInFlight--;
    if (cancelled) {
      this.#window.record(end, Outcome.cancelled, false);
      this.totals.cancelled++;
      if (this.#ev.cancelled.size > 0) this.#ev.cancelled.emit({ name: this.name, durationMs: ms });
      return;
    }
    const timeout = isTimeoutError(error);
    const slow = ms >= this.#slowMs;
    this.#window.record(end, timeout ? Outcome.timeout : Outcome.failure, slow);
    if (timeout) this.totals.timeout++;
    else this.totals.failure++;
    if (weight > 0) this.#latency.record(end, ms * 1000, weight);
    this.#consecutiveFailures++;
    if (this.#timeEveryCall) this.#metrics?.duration(ms, timeout ? 'timeout' : 'failure');
    if (this.#ev.failed.size > 0 || this.#ev.timedOut.size > 0) {
      const event = { name: this.name, durationMs: ms, error };
      this.#ev.failed.emit(event);
      if (timeout) this.#ev.timedOut.emit(event);
    }
    if (probe || this.#sm.state === HALF_OPEN) {
      if (this.#sm.state === HALF_OPEN) this.#sm.toOpen('probe-failed');
      return;
    }
    if (this.#sm.state === CLOSED) this.#checkTrip(end);
  }

  #checkTrip(now: number): void {
    if (now < this.#warmUpUntil) return;
    const o = this.options;
    if (o.consecutiveFailureThreshold !== undefined && this.#consecutiveFailures >= o.consecutiveFailureThreshold) {
      this.#sm.toOpen('consecutive-failures');
      return;
    }
    const calls = this.#window.calls(now);
    if (calls === 0 || calls < o.volumeThreshold) return;
    if ((this.#window.failures(now) * 100) / calls >= o.errorThresholdPercentage) {
      this.#sm.toOpen('failure-rate');
    } else if (
      this.#slowMs !== Number.POSITIVE_INFINITY &&
      (this.#window.slow(now) * 100) / calls >= o.slowCallRateThreshold
    ) {
      this.#sm.toOpen('slow-calls');
    }
  }
}

/** `new CircuitBreaker(options)`, as a function. */
export function circuitBreaker(options: BreakerOptions = {}): CircuitBreaker {
  return new CircuitBreaker(options);
}
