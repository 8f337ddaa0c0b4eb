import type { BackoffOptions } from '@ballast/core';
import { DuplicateStepError, InvalidSagaError, NestedParallelError } from './errors';

/** What a step (or compensation) is told about the call besides the context. */
export interface StepInfo {
  readonly sagaId: string;
  readonly saga: string;
  readonly step: string;
  /** `${sagaId}:${stepName}`: stable across retries and recovery, for downstream dedupe. */
  readonly idempotencyKey: string;
  /** Aborts on the step's timeout, when a parallel sibling failed, or when the lease is lost. */
  readonly signal: AbortSignal;
  /** 0 for the first try. */
  readonly attempt: number;
}

/** A step's retry policy: `false` tries once. */
export type StepRetry =
  | false
  | {
      /** Tries, first included (seed 001: retry_count 3). */
      maxAttempts?: number;
      /** Seed 001: 1 s · 2ⁿ without jitter. */
      backoff?: BackoffOptions | false;
      /** Which errors to retry (default: all but aborts and open breakers). */
      retryOn?: (error: unknown, attempt: number) => boolean;
    };

/**
 * What a step returns: fields merged into the context, or nothing. `void` is allowed so that a plain
 * `async run() { await call(); }` type-checks.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: steps that return nothing are written without a return
export type StepResult<C> = Partial<C> | undefined | void;

/** One step: `run` returns fields merged into the context (seed 001's `context.update(result)`). */
export interface StepDefinition<C> {
  readonly name: string;
  run(context: Readonly<C>, info: StepInfo): StepResult<NoInfer<C>> | PromiseLike<StepResult<NoInfer<C>>>;
  /** Undoes `run`; called in reverse order when a later step fails. None: nothing to undo. */
  compensate?(context: Readonly<C>, info: StepInfo): unknown;
  /** Per try (seed 001: 30 s). */
  readonly timeoutMs?: number;
  readonly retry?: StepRetry;
}

/** Steps that run concurrently; one failing cancels the others. */
export interface ParallelGroup<C> {
  readonly kind: 'parallel';
  readonly name: string;
  readonly steps: readonly StepDefinition<C>[];
}

export type SagaUnit<C> = StepDefinition<C> | ParallelGroup<C>;

/** What a recovering orchestrator does with a saga whose orchestrator died mid-way. */
export type RecoveryPolicy = 'forward' | 'compensate';

export interface SagaSpec<C> {
  steps: readonly (SagaUnit<C> | ParallelGroup<C>)[];
  /** Default `forward`: re-run the interrupted step (its idempotency key lets downstream dedupe) and go on. */
  recovery?: RecoveryPolicy;
}

export interface SagaDefinition<C> {
  readonly kind: 'saga';
  readonly name: string;
  /**
   * The definition's version (default 1), stored with each saga: recovery runs the definition of the version a
   * saga was started with, so steps renamed, added or removed between deploys never mix. Bump it whenever the
   * steps change and keep registering the old version while sagas started on it may still be in flight.
   */
  readonly version: number;
  readonly units: readonly SagaUnit<C>[];
  readonly recovery: RecoveryPolicy;
  /** Every step by name, group branches included. */
  readonly steps: ReadonlyMap<string, StepDefinition<C>>;
  /** Phantom: the context type. */
  readonly __context?: C;
}

export type ContextOf<S> = S extends SagaDefinition<infer C> ? C : never;

const NAME = /^[A-Za-z0-9_.\-:]+$/;

export function isParallel<C>(unit: SagaUnit<C> | undefined): unit is ParallelGroup<C> {
  return typeof unit === 'object' && unit !== null && (unit as { kind?: unknown }).kind === 'parallel';
}

/**
 * Steps that run at once, e.g. seed 001's xiaoai/xiaoke/laoke agents. Named `name` or after its steps.
 * Groups cannot nest (`NestedParallelError` at `defineSaga`).
 */
export function parallel<C>(
  steps: readonly (StepDefinition<C> | ParallelGroup<C>)[],
  options: { name?: string } = {},
): ParallelGroup<C> {
  return {
    kind: 'parallel',
    name: options.name ?? `parallel(${steps.map((s) => s.name).join(',')})`,
    steps: steps as StepDefinition<C>[],
  };
}

function checkStep<C>(saga: string, step: StepDefinition<C>, where: string): void {
  if (typeof step !== 'object' || step === null) throw new InvalidSagaError(saga, `${where} is not a step object`);
  if (typeof step.name !== 'string' || !NAME.test(step.name)) {
    throw new InvalidSagaError(saga, `${where}.name must match ${NAME} (got ${JSON.stringify(step.name)})`);
  }
  if (typeof step.run !== 'function') throw new InvalidSagaError(saga, `step "${step.name}": run must be a function`);
  if (step.compensate !== undefined && typeof step.compensate !== 'function') {
    throw new InvalidSagaError(saga, `step "${step.name}": compensate must be a function`);
  }
  if (step.timeoutMs !== undefined && !(typeof step.timeoutMs === 'number' && step.timeoutMs > 0)) {
    throw new InvalidSagaError(saga, `step "${step.name}": timeoutMs must be a positive number`);
  }
  const r = step.retry;
  if (r !== undefined && r !== false) {
    if (typeof r !== 'object' || r === null)
      throw new InvalidSagaError(saga, `step "${step.name}": retry must be an object or false`);
    if (r.maxAttempts !== undefined && !(Number.isInteger(r.maxAttempts) && r.maxAttempts >= 1)) {
      throw new InvalidSagaError(saga, `step "${step.name}": retry.maxAttempts must be an integer >= 1`);
    }
  }
}

/**
 * Defines a saga: its steps run in order (a `parallel` group's steps at once); when one fails after its
 * retries, the completed ones are compensated in reverse. Validates at once: duplicate step names, nested
 * groups and malformed steps are typed errors here, before anything runs.
 *
 * @example
 * const healthData = defineSaga<HealthCtx>('health-data', { steps: [
 *   { name: 'validate_user', run: (c) => users.validate(c.userId) },
 *   { name: 'save_health_data', run: …, compensate: … },
 * ] });
 */
export function defineSaga<C>(id: string | { name: string; version?: number }, spec: SagaSpec<C>): SagaDefinition<C> {
  const name = typeof id === 'object' && id !== null ? id.name : id;
  const version = typeof id === 'object' && id !== null ? (id.version ?? 1) : 1;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidSagaError(String(name), `name must match ${NAME}`);
  }
  if (!Number.isInteger(version) || version < 1) {
    throw new InvalidSagaError(name, `version must be an integer >= 1 (got ${JSON.stringify(version)})`);
  }
  if (!spec || !Array.isArray(spec.steps) || spec.steps.length === 0) {
    throw new InvalidSagaError(name, 'steps must be a non-empty array');
  }
  if (spec.recovery !== undefined && spec.recovery !== 'forward' && spec.recovery !== 'compensate') {
    throw new InvalidSagaError(
      name,
      `recovery must be "forward" or "compensate" (got ${JSON.stringify(spec.recovery)})`,
    );
  }
  const steps = new Map<string, StepDefinition<C>>();
  const add = (step: StepDefinition<C>) => {
    if (steps.has(step.name)) throw new DuplicateStepError(name, step.name);
    steps.set(step.name, step);
  };
  spec.steps.forEach((unit, i) => {
    if (isParallel(unit)) {
      if (!Array.isArray(unit.steps) || unit.steps.length === 0) {
        throw new InvalidSagaError(name, `parallel group "${unit.name}" has no steps`);
      }
      unit.steps.forEach((s, j) => {
        if (isParallel(s as SagaUnit<C>)) throw new NestedParallelError(name, unit.name);
        checkStep(name, s, `steps[${i}].steps[${j}]`);
        add(s);
      });
    } else {
      checkStep(name, unit, `steps[${i}]`);
      add(unit);
    }
  });
  return { kind: 'saga', name, version, units: [...spec.steps], recovery: spec.recovery ?? 'forward', steps };
}

/** The steps of one unit. */
export function stepsOf<C>(unit: SagaUnit<C>): readonly StepDefinition<C>[] {
  return isParallel(unit) ? unit.steps : [unit];
}
