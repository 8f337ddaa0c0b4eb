import { type Policy, retry, TimeoutError, timeout, wrap } from '@ballast/circuit-breaker';
import { type Clock, isAbortedError, type Logger, withSpan } from '@ballast/core';
import {
  isParallel,
  type SagaDefinition,
  type StepDefinition,
  type StepInfo,
  type StepResult,
  stepsOf,
} from './definition';
import {
  type CompensationOutcome,
  SagaCancelledError,
  SagaFailedError,
  SagaLeaseLostError,
  type StoredError,
  toStoredError,
} from './errors';
import type { SagaEventBus, SagaEventPayloads } from './events';
import { assertJson } from './json';
import { DEFAULT_COMPENSATION_BACKOFF, DEFAULT_STEP_BACKOFF, type ResolvedOrchestratorOptions } from './options';
import type { Fence, FencedResult, SagaEvent, SagaRecord, SagaStatus, SagaStore } from './store';
import type { SagaInstruments } from './telemetry';

/** Seed 003's user notification / alert hook payload: one compensation that exhausted its retries. */
export interface CompensationFailedEvent {
  sagaId: string;
  saga: string;
  step: string;
  error: StoredError;
  /** The saga context when compensation was attempted. */
  context: unknown;
  /** Id of the entry in the `saga.compensation.failed` stream. */
  deadLetterId: string;
}

/** What an execution needs from its orchestrator. */
export interface ExecutionEnv {
  store: SagaStore;
  bus: SagaEventBus | undefined;
  clock: Clock;
  log: Logger;
  options: ResolvedOrchestratorOptions;
  instruments: SagaInstruments;
  /** Step → its retry policy (cached per orchestrator); undefined: one try. Timeouts are `settlingAttempt`'s. */
  policyFor(step: StepDefinition<unknown>): Policy | undefined;
  compensationPolicy: Policy;
  /** Relays the store's outbox (the partition of this saga id) to the bus, soon; never throws. */
  relay(sagaId: string): void;
}

/** Whether events go through the store's outbox (written with the state) rather than being published after. */
export function usesOutbox(env: Pick<ExecutionEnv, 'bus' | 'store'>): boolean {
  return env.bus !== undefined && typeof env.store.readOutbox === 'function';
}

/** A typed saga event for a state write. */
export function sagaEvent<K extends keyof SagaEventPayloads>(type: K, payload: SagaEventPayloads[K]): SagaEvent {
  return { type, payload };
}

/** A step failure as it reaches the compensation phase. */
interface Failure {
  step: string;
  error: StoredError;
  cause?: unknown;
}

class StepFailed {
  constructor(readonly failure: Failure) {}
}

/**
 * Builds the retry policy of a step from its overrides and the orchestrator's seed defaults (undefined: one
 * try). The per-try timeout is not a policy: `settlingAttempt` waits for a timed-out try to settle before the
 * retry policy may start the next one.
 */
export function buildStepPolicy(
  step: StepDefinition<unknown>,
  o: ResolvedOrchestratorOptions,
  clock: Clock,
): Policy | undefined {
  if (step.retry === false) return undefined;
  const r = step.retry ?? {};
  const maxAttempts = r.maxAttempts ?? o.stepMaxAttempts;
  if (maxAttempts <= 1) return undefined;
  return retry({
    maxAttempts,
    backoff: r.backoff === false ? false : (r.backoff ?? o.stepBackoff ?? DEFAULT_STEP_BACKOFF),
    clock,
    ...(r.retryOn ? { retryOn: r.retryOn } : {}),
  });
}

/**
 * One try of a step under its timeout. On the timeout or on `outer` aborting, the try's own signal aborts and
 * the try is given `graceMs` to settle before this rejects — so a retry never overlaps the try before it and a
 * compensation never runs while the step is still running. A try that succeeds within the grace counts (its
 * effect landed); one that rejects or does not settle is *in doubt* (`onDoubt`): its effect may land or may
 * have landed, so the saga compensates it (`compensateInDoubt`).
 */
export function settlingAttempt<T>(
  clock: Clock,
  timeoutMs: number,
  graceMs: number,
  what: string,
  fn: (signal: AbortSignal) => PromiseLike<T> | T,
  outer: AbortSignal,
  onDoubt: () => void,
): Promise<T> {
  if (outer.aborted) return Promise.reject(outer.reason);
  const ac = new AbortController();
  const attempt = Promise.resolve().then(() => fn(ac.signal));
  return new Promise<T>((resolve, reject) => {
    let interrupted: unknown;
    let over = false;
    let grace: ReturnType<Clock['setTimeout']> | undefined;
    const interrupt = (reason: unknown) => {
      if (interrupted !== undefined) return;
      interrupted = reason;
      clock.clearTimeout(timer);
      outer.removeEventListener('abort', onOuter);
      ac.abort(reason);
      grace = clock.setTimeout(() => {
        over = true;
        onDoubt();
        reject(interrupted);
      }, graceMs);
    };
    const onOuter = () => interrupt(outer.reason);
    const timer = clock.setTimeout(() => interrupt(new TimeoutError(timeoutMs, what)), timeoutMs);
    outer.addEventListener('abort', onOuter, { once: true });
    attempt.then(
      (value) => {
        if (over) return;
        clock.clearTimeout(timer);
        if (grace) clock.clearTimeout(grace);
        outer.removeEventListener('abort', onOuter);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        if (grace) clock.clearTimeout(grace);
        outer.removeEventListener('abort', onOuter);
        if (over) return;
        if (interrupted === undefined) return reject(error);
        // Rejected after it was told to stop: whether its effect landed is unknown.
        onDoubt();
        reject(interrupted);
      },
    );
  });
}

export function buildCompensationPolicy(o: ResolvedOrchestratorOptions, clock: Clock): Policy {
  return wrap(
    retry({
      maxRetries: o.compensationMaxRetries,
      backoff: o.compensationBackoff ?? DEFAULT_COMPENSATION_BACKOFF,
      clock,
      // A compensation is retried on every error: the only way out is the DLQ.
      retryOn: (error) => !isAbortedError(error),
    }),
    timeout({ timeoutMs: o.compensationTimeoutMs, name: 'compensation', clock }),
  );
}

/**
 * One saga being driven by one orchestrator: forward through its units, then — on a failure — compensation in
 * reverse. Every state change goes through `#write`, which serialises the saga's writes (parallel branches
 * finish at once) and stops everything when a fence is refused (another orchestrator owns the saga now).
 */
export class SagaExecution<C> {
  readonly abort = new AbortController();
  /**
   * Cancels the forward phase only (`orchestrator.cancel`, the run's signal or deadline): the running step is
   * aborted (and in doubt), and what completed is compensated. `abort` stops everything (lease lost, close).
   */
  readonly cancel = new AbortController();
  readonly #forwardSignal = AbortSignal.any([this.abort.signal, this.cancel.signal]);
  #fence: Fence;
  #chain: Promise<unknown> = Promise.resolve();
  #lost: Error | undefined;
  #renewTimer: ReturnType<Clock['setInterval']> | undefined;
  context: C;
  executed: string[];
  compensated: string[];
  /** Steps whose last try was interrupted (timeout, cancel, crash) without a known outcome. */
  inDoubt: string[];
  unit: number;

  constructor(
    readonly env: ExecutionEnv,
    readonly def: SagaDefinition<C>,
    readonly id: string,
    fence: Fence,
    state: { context: C; executed?: string[]; compensated?: string[]; inDoubt?: string[]; unit?: number },
  ) {
    this.#fence = fence;
    this.context = state.context;
    this.executed = state.executed ?? [];
    this.compensated = state.compensated ?? [];
    this.inDoubt = state.inDoubt ?? [];
    this.unit = state.unit ?? 0;
  }

  get fence(): Fence {
    return this.#fence;
  }

  /** Renews the lease every `leaseMs / 3` while the saga runs (slow steps; fast ones renew by writing). */
  startRenewal(): void {
    const { leaseMs } = this.env.options;
    this.#renewTimer = this.env.clock.setInterval(
      () => {
        this.#write((f) =>
          this.env.store.renew(this.id, f, leaseMs).then((ok): FencedResult => {
            if (typeof ok === 'object' && !this.cancel.signal.aborted) {
              this.cancel.abort(new SagaCancelledError(this.id, ok.cancel));
            }
            return ok ? { ok: true, version: f.version } : { ok: false, reason: 'fenced' };
          }),
        ).catch((error: unknown) => {
          if (!this.#lost) this.env.log.warn({ err: error, sagaId: this.id }, 'saga lease renewal failed');
        });
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    this.#renewTimer.unref();
  }

  stop(reason: unknown): void {
    if (this.#renewTimer) this.env.clock.clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
    if (!this.abort.signal.aborted) this.abort.abort(reason);
  }

  /** Stops driving the saga without another write (the orchestrator closes): its lease will lapse. */
  halt(error: Error): void {
    this.#lost ??= error;
    this.stop(error);
  }

  /** Serialised, fenced write; on a refused fence every later write fails and the running steps are aborted. */
  #write(op: (fence: Fence) => Promise<FencedResult>): Promise<void> {
    const p = this.#chain.then(async () => {
      if (this.#lost) throw this.#lost;
      const r = await op(this.#fence);
      if (!r.ok) {
        this.#lost = new SagaLeaseLostError(this.id, this.#fence.owner);
        this.stop(this.#lost);
        throw this.#lost;
      }
      this.#fence = { owner: this.#fence.owner, version: r.version };
    });
    this.#chain = p.catch(() => {});
    return p;
  }

  /**
   * Fenced write; its events (with a bus) are written in the same atomic step into the store's outbox — or the
   * bus's own streams — and relayed from there, so a crash or a bus error right after the write loses none.
   * A store without an outbox gets them published after the write (lost if the process dies in between).
   */
  async #advance(patch: Parameters<SagaStore['advance']>[2], events: SagaEvent[] = []): Promise<void> {
    const inWrite = usesOutbox(this.env) && events.length > 0 ? events : undefined;
    await this.#write((f) => this.env.store.advance(this.id, f, patch, this.env.options.leaseMs, inWrite));
    await this.#afterWrite(events);
  }

  async #complete(patch: Parameters<SagaStore['complete']>[2], events: SagaEvent[] = []): Promise<void> {
    const inWrite = usesOutbox(this.env) && events.length > 0 ? events : undefined;
    await this.#write((f) => this.env.store.complete(this.id, f, patch, inWrite)).finally(() => this.stop('finished'));
    await this.#afterWrite(events);
  }

  async #afterWrite(events: SagaEvent[]): Promise<void> {
    if (!this.env.bus || events.length === 0) return;
    if (usesOutbox(this.env)) {
      if (!this.env.store.publishesEvents) this.env.relay(this.id);
      return;
    }
    for (const e of events) await this.publish(e.type as keyof SagaEventPayloads, e.payload as never);
  }

  /** Publishes now (stores without an outbox): a failure is logged, and the event is lost. */
  async publish<K extends keyof SagaEventPayloads>(type: K, payload: SagaEventPayloads[K]): Promise<void> {
    if (!this.env.bus) return;
    try {
      await this.env.bus.publish(type, payload);
    } catch (error) {
      this.env.log.warn({ err: error, sagaId: this.id, type }, 'saga event publish failed');
    }
  }

  #info(step: string, signal: AbortSignal, attempt: number): StepInfo {
    return { sagaId: this.id, saga: this.def.name, step, idempotencyKey: `${this.id}:${step}`, signal, attempt };
  }

  #cancelled(step: string): StepFailed {
    const reason = this.cancel.signal.reason;
    return new StepFailed({ step, error: toStoredError(reason), cause: reason });
  }

  /** Forward from `unit`; resolves with the final context or rejects (SagaFailedError, lease lost). */
  async run(): Promise<C> {
    try {
      await this.#forward();
    } catch (error) {
      if (error instanceof StepFailed) return this.compensate(error.failure);
      throw error;
    }
    this.env.instruments.executions.add(1, { saga: this.def.name, status: 'completed' });
    return this.context;
  }

  async #forward(): Promise<void> {
    const units = this.def.units;
    if (this.unit >= units.length) {
      // Every unit done but the terminal write was lost with the previous owner.
      await this.#complete({ status: 'completed', currentStep: units.length }, [this.#completedEvent()]);
      return;
    }
    for (let i = this.unit; i < units.length; i++) {
      const unit = units[i]!;
      const pending = stepsOf(unit).filter((s) => !this.executed.includes(s.name));
      const lastUnit = i === units.length - 1;
      if (!isParallel(unit)) {
        if (this.cancel.signal.aborted) throw this.#cancelled(unit.name);
        if (pending.length > 0) await this.#step(pending[0]!, i, this.#forwardSignal, true, lastUnit);
      } else {
        const group = new AbortController();
        if (this.cancel.signal.aborted) throw this.#cancelled(unit.name);
        const onAbort = () => group.abort(this.#forwardSignal.reason);
        this.#forwardSignal.addEventListener('abort', onAbort, { once: true });
        let failure: StepFailed | undefined;
        let other: unknown;
        let left = pending.length;
        await Promise.all(
          pending.map(async (s) => {
            try {
              await this.#step(s, i, group.signal, () => --left === 0, lastUnit);
            } catch (error) {
              if (error instanceof StepFailed) failure ??= error;
              else other ??= error;
              // Siblings are cancelled: their signals abort, the policies stop retrying.
              if (!group.signal.aborted) group.abort(error instanceof StepFailed ? error.failure.cause : error);
            }
          }),
        );
        this.#forwardSignal.removeEventListener('abort', onAbort);
        if (other !== undefined) throw other;
        if (failure) throw failure;
        if (pending.length === 0 && !lastUnit) await this.#advance({ currentStep: i + 1 });
      }
      this.unit = i + 1;
    }
  }

  /** Runs one step under its policy in a span; on success merges its result and writes (the last write completes). */
  async #step(
    step: StepDefinition<C>,
    unitIndex: number,
    signal: AbortSignal,
    unitDone: boolean | (() => boolean),
    lastUnit: boolean,
  ): Promise<void> {
    if (this.#lost) throw this.#lost;
    const { instruments, clock } = this.env;
    const attrs = { saga: this.def.name, step: step.name };
    const started = clock.monotonic();
    let result: StepResult<C>;
    let inDoubt = false;
    try {
      const { stepTimeoutMs, stepSettleGraceMs } = this.env.options;
      const tryOnce = ({ signal: s, attempt }: { signal: AbortSignal; attempt: number }) =>
        settlingAttempt(
          clock,
          step.timeoutMs ?? stepTimeoutMs,
          stepSettleGraceMs,
          `step "${step.name}"`,
          (own) => step.run({ ...this.context }, this.#info(step.name, own, attempt)),
          s,
          () => {
            inDoubt = true;
          },
        );
      const policy = this.env.policyFor(step as StepDefinition<unknown>);
      result = await withSpan(
        instruments.tracer,
        `saga.step ${step.name}`,
        () => (policy ? policy.execute(tryOnce, signal) : tryOnce({ signal, attempt: 0 })),
        { 'saga.name': this.def.name, 'saga.id': this.id, 'saga.step': step.name },
      );
      if (result !== undefined && result !== null) assertJson(this.def.name, result, `step "${step.name}" result`);
    } catch (error) {
      instruments.stepDuration.record(clock.monotonic() - started, { ...attrs, outcome: 'failure' });
      if (inDoubt && !this.inDoubt.includes(step.name)) this.inDoubt.push(step.name);
      if (this.#lost) throw this.#lost;
      throw new StepFailed({ step: step.name, error: toStoredError(error), cause: error });
    }
    const durationMs = clock.monotonic() - started;
    instruments.stepDuration.record(durationMs, { ...attrs, outcome: 'success' });
    if (result && typeof result === 'object') this.context = { ...this.context, ...result };
    this.executed.push(step.name);
    const done = typeof unitDone === 'function' ? unitDone() : unitDone;
    const patch = {
      executedSteps: [...this.executed],
      context: JSON.stringify(this.context),
      currentStep: done ? unitIndex + 1 : unitIndex,
    };
    const stepEvent = sagaEvent('step.completed', {
      sagaId: this.id,
      saga: this.def.name,
      step: step.name,
      durationMs,
    });
    if (done && lastUnit) await this.#complete({ ...patch, status: 'completed' }, [stepEvent, this.#completedEvent()]);
    else await this.#advance(patch, [stepEvent]);
  }

  #completedEvent(): SagaEvent {
    return sagaEvent('saga.completed', { sagaId: this.id, saga: this.def.name });
  }

  /**
   * Compensates every executed, not yet compensated step in reverse; each compensation retried (seed 003:
   * 1 s/2 s/4 s). Ends `compensated`, or `compensation_failed` with a DLQ entry, hook call, critical log and
   * metric per failed compensation. Always rejects with `SagaFailedError` (or lease lost).
   */
  async compensate(failure: Failure, previous: CompensationOutcome[] = []): Promise<never> {
    const { store, instruments, log } = this.env;
    const saga = this.def.name;
    // In-doubt steps (their try was interrupted with no known outcome) are undone first — they are the latest —
    // unless the orchestrator was told compensations cannot tolerate "nothing to undo".
    const doubtful = this.env.options.compensateInDoubt ? this.inDoubt.filter((n) => !this.executed.includes(n)) : [];
    await this.#advance({
      status: 'compensating',
      failedStep: failure.step,
      error: JSON.stringify(failure.error),
      inDoubtSteps: [...this.inDoubt],
    });
    const outcomes = previous.filter((o) => this.compensated.includes(o.step));
    const failed: { step: string; error: StoredError }[] = [];
    for (const name of [...[...doubtful].reverse(), ...[...this.executed].reverse()]) {
      if (this.compensated.includes(name)) continue;
      const doubt = doubtful.includes(name) ? { inDoubt: true as const } : {};
      const step = this.def.steps.get(name);
      if (!step) {
        // A recorded step this definition does not have: never skipped silently — it goes to the DLQ.
        const stored = {
          name: 'UnknownStep',
          message: `step "${name}" is not in this definition`,
          code: 'UNKNOWN_STEP',
        };
        outcomes.push({ step: name, result: 'failed', attempts: 0, error: stored, ...doubt });
        failed.push({ step: name, error: stored });
        continue;
      }
      if (!step.compensate) {
        outcomes.push({ step: name, result: 'skipped', attempts: 0, ...doubt });
        this.compensated.push(name);
        continue;
      }
      let attempts = 0;
      try {
        await withSpan(
          instruments.tracer,
          `saga.compensate ${name}`,
          () =>
            this.env.compensationPolicy.execute(({ signal, attempt }) => {
              attempts++;
              return step.compensate!({ ...this.context }, this.#info(name, signal, attempt));
            }, this.abort.signal),
          { 'saga.name': saga, 'saga.id': this.id, 'saga.step': name },
        );
      } catch (error) {
        if (this.#lost) throw this.#lost;
        const stored = toStoredError(error);
        outcomes.push({ step: name, result: 'failed', attempts, error: stored, ...doubt });
        instruments.compensations.add(1, { saga, step: name, result: 'failed' });
        failed.push({ step: name, error: stored });
        continue;
      }
      outcomes.push({ step: name, result: 'compensated', attempts, ...doubt });
      instruments.compensations.add(1, { saga, step: name, result: 'success' });
      this.compensated.push(name);
      await this.#advance({ compensatedSteps: [...this.compensated], compensations: JSON.stringify(outcomes) });
    }
    const status: SagaStatus = failed.length > 0 ? 'compensation_failed' : 'compensated';
    // Dead letters and alerts go out BEFORE the terminal write: an orchestrator killed in between leaves the
    // saga `compensating` with its lease in the recovery index, so a sweeper finishes it (at worst one more
    // dead letter and alert for the same failure). Written after, a kill in between left a
    // `compensation_failed` saga with no dead letter, no alert, and nothing that would ever look at it again.
    const context = JSON.stringify(this.context);
    for (const f of failed) {
      let deadLetterId = '';
      try {
        deadLetterId = await store.addDeadLetter({
          sagaId: this.id,
          saga,
          step: f.step,
          error: JSON.stringify(f.error),
          context,
          at: this.env.clock.now(),
        });
      } catch (error) {
        log.error({ err: error, sagaId: this.id }, 'saga DLQ write failed');
      }
      // Seed 003: operations alert, CRITICAL.
      log.fatal(
        { sagaId: this.id, saga, step: f.step, error: f.error, severity: 'CRITICAL', type: 'SAGA_COMPENSATION_FAILED' },
        `Saga ${this.id} compensation failed after retries: ${f.error.message}`,
      );
      try {
        await this.env.options.onCompensationFailed?.({
          sagaId: this.id,
          saga,
          step: f.step,
          error: f.error,
          context: this.context,
          deadLetterId,
        });
      } catch (error) {
        log.error({ err: error, sagaId: this.id }, 'onCompensationFailed hook threw');
      }
    }
    const ended =
      failed.length > 0
        ? sagaEvent('saga.failed', {
            sagaId: this.id,
            saga,
            failedStep: failure.step,
            error: failure.error.message,
            status: 'compensation_failed',
            failedCompensations: failed.map((f) => f.step),
          })
        : sagaEvent('saga.compensated', {
            sagaId: this.id,
            saga,
            failedStep: failure.step,
            error: failure.error.message,
          });
    await this.#complete({ status, compensatedSteps: [...this.compensated], compensations: JSON.stringify(outcomes) }, [
      ended,
    ]);
    instruments.executions.add(1, { saga, status });
    throw new SagaFailedError({
      sagaId: this.id,
      saga,
      failedStep: failure.step,
      status: status as 'compensated' | 'compensation_failed',
      compensations: outcomes,
      error: failure.error,
      cause: failure.cause,
    });
  }
}

/** The `SagaFailedError` a finished, failed saga's record describes (for idempotent replays and `get`). */
export function failedErrorOf(record: SagaRecord): SagaFailedError {
  return new SagaFailedError({
    sagaId: record.id,
    saga: record.saga,
    failedStep: record.failedStep ?? '',
    status: record.status === 'compensation_failed' ? 'compensation_failed' : 'compensated',
    compensations: record.compensations ? (JSON.parse(record.compensations) as CompensationOutcome[]) : [],
    error: record.error ? (JSON.parse(record.error) as StoredError) : { name: 'Error', message: 'unknown' },
  });
}
