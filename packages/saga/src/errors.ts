import { BallastError, errorGuard } from '@ballast/core';

/** A saga definition is malformed (no steps, a bad name, a nested parallel group…). */
export class InvalidSagaError extends BallastError {
  static readonly code = 'INVALID_SAGA';
  constructor(
    readonly saga: string,
    message: string,
  ) {
    super(new.target.code, `saga "${saga}": ${message}`);
  }
}
export const isInvalidSagaError = errorGuard<InvalidSagaError>(InvalidSagaError.code);

/** Two steps of one saga share a name (names key the persisted state and the idempotency keys). */
export class DuplicateStepError extends BallastError {
  static readonly code = 'DUPLICATE_STEP';
  constructor(
    readonly saga: string,
    readonly step: string,
  ) {
    super(new.target.code, `saga "${saga}": step name "${step}" is used twice`);
  }
}
export const isDuplicateStepError = errorGuard<DuplicateStepError>(DuplicateStepError.code);

/** `parallel()` inside `parallel()`: not supported (a group's branches are single steps). */
export class NestedParallelError extends BallastError {
  static readonly code = 'NESTED_PARALLEL';
  constructor(
    readonly saga: string,
    readonly group: string,
  ) {
    super(
      new.target.code,
      `saga "${saga}": parallel group "${group}" contains another parallel group; nest steps, not groups`,
    );
  }
}
export const isNestedParallelError = errorGuard<NestedParallelError>(NestedParallelError.code);

/** The saga context (input or a step's result) cannot be stored as JSON without changing it. */
export class ContextNotSerializableError extends BallastError {
  static readonly code = 'CONTEXT_NOT_SERIALIZABLE';
  constructor(
    readonly saga: string,
    readonly path: string,
    readonly received: string,
  ) {
    super(
      new.target.code,
      `saga "${saga}": context at ${path} is ${received}, which JSON cannot store (use plain objects, arrays, strings, finite numbers, booleans, null)`,
    );
  }
}
export const isContextNotSerializableError = errorGuard<ContextNotSerializableError>(ContextNotSerializableError.code);

/** `run` with a `sagaId` that already exists (and no matching `idempotencyKey`). */
export class SagaExistsError extends BallastError {
  static readonly code = 'SAGA_EXISTS';
  constructor(readonly sagaId: string) {
    super(new.target.code, `saga ${sagaId} already exists`);
  }
}
export const isSagaExistsError = errorGuard<SagaExistsError>(SagaExistsError.code);

/** A fenced write was refused: another orchestrator took the saga over (its lease had expired). */
export class SagaLeaseLostError extends BallastError {
  static readonly code = 'SAGA_LEASE_LOST';
  constructor(
    readonly sagaId: string,
    readonly owner: string,
    message = `saga ${sagaId}: lease lost by ${owner}; another orchestrator owns it now`,
  ) {
    super(new.target.code, message);
  }
}
export const isSagaLeaseLostError = errorGuard<SagaLeaseLostError>(SagaLeaseLostError.code);

/** A saga name the orchestrator does not know (resuming or retrying needs the definition). */
export class UnknownSagaError extends BallastError {
  static readonly code = 'UNKNOWN_SAGA';
  constructor(readonly saga: string) {
    super(new.target.code, `saga "${saga}" is not registered with this orchestrator`);
  }
}
export const isUnknownSagaError = errorGuard<UnknownSagaError>(UnknownSagaError.code);

/** No saga, or no dead letter, with this id. */
export class SagaNotFoundError extends BallastError {
  static readonly code = 'SAGA_NOT_FOUND';
  constructor(readonly id: string) {
    super(new.target.code, `no saga or dead letter ${id}`);
  }
}
export const isSagaNotFoundError = errorGuard<SagaNotFoundError>(SagaNotFoundError.code);

/** A step's failure as persisted: enough to report it after a restart. */
/** Recovery found no registered definition of the version a saga was started with: it was dead-lettered. */
export class UnknownDefinitionVersionError extends BallastError {
  static readonly code = 'UNKNOWN_DEFINITION_VERSION';
  constructor(
    readonly saga: string,
    readonly version: number,
    readonly sagaId: string,
  ) {
    super(
      new.target.code,
      `saga ${sagaId}: no definition of "${saga}" version ${version} is registered; dead-lettered (unknown_definition_version)`,
    );
  }
}
export const isUnknownDefinitionVersionError = errorGuard<UnknownDefinitionVersionError>(
  UnknownDefinitionVersionError.code,
);

/** `run` with an idempotency key already used for a different input: the key names another request. */
export class IdempotencyConflictError extends BallastError {
  static readonly code = 'IDEMPOTENCY_CONFLICT';
  constructor(
    readonly idempotencyKey: string,
    readonly sagaId: string,
  ) {
    super(new.target.code, `idempotencyKey "${idempotencyKey}" was used for saga ${sagaId} with a different input`);
  }
}
export const isIdempotencyConflictError = errorGuard<IdempotencyConflictError>(IdempotencyConflictError.code);

/** A replay (same idempotency key) waited `replayWaitMs` for the first run's outcome, which never came. */
export class SagaReplayTimeoutError extends BallastError {
  static readonly code = 'SAGA_REPLAY_TIMEOUT';
  constructor(
    readonly sagaId: string,
    readonly waitedMs: number,
  ) {
    super(
      new.target.code,
      `saga ${sagaId}: its first run has not finished after ${waitedMs} ms (is a sweeper running for it?)`,
    );
  }
}
export const isSagaReplayTimeoutError = errorGuard<SagaReplayTimeoutError>(SagaReplayTimeoutError.code);

/** A saga cancelled (`orchestrator.cancel`, the run's `signal`) or past its `deadlineMs`: it is compensated. */
export class SagaCancelledError extends BallastError {
  static readonly code = 'SAGA_CANCELLED';
  constructor(
    readonly sagaId: string,
    readonly reason: string,
  ) {
    super(new.target.code, `saga ${sagaId} cancelled: ${reason}`);
  }
}
export const isSagaCancelledError = errorGuard<SagaCancelledError>(SagaCancelledError.code);

/** A dead letter's saga is being compensated by a live orchestrator right now: nothing was changed. */
export class SagaBusyError extends BallastError {
  static readonly code = 'SAGA_BUSY';
  constructor(readonly entryId: string) {
    super(new.target.code, `dead letter ${entryId}: its saga is being compensated by a live orchestrator`);
  }
}
export const isSagaBusyError = errorGuard<SagaBusyError>(SagaBusyError.code);

export interface StoredError {
  name: string;
  message: string;
  code?: string;
}

/** What one compensation did when a saga failed. */
export interface CompensationOutcome {
  step: string;
  /** `compensated`; `failed` after every retry; `skipped` when the step has no `compensate`. */
  result: 'compensated' | 'failed' | 'skipped';
  /** Tries made (first included); 0 when skipped. */
  attempts: number;
  error?: StoredError;
  /** The step's outcome was unknown (timed out, cancelled, orchestrator died mid-step): compensated in case. */
  inDoubt?: true;
}

export interface SagaFailedInit {
  sagaId: string;
  saga: string;
  failedStep: string;
  status: 'compensated' | 'compensation_failed';
  compensations: readonly CompensationOutcome[];
  error: StoredError;
  cause?: unknown;
}

/**
 * A saga step failed (after its retries). The saga was compensated in reverse: `compensations` says what each
 * compensation did and `status` whether everything was undone (`compensated`) or not (`compensation_failed`).
 */
export class SagaFailedError extends BallastError {
  static readonly code = 'SAGA_FAILED';
  readonly sagaId: string;
  readonly saga: string;
  readonly failedStep: string;
  readonly status: 'compensated' | 'compensation_failed';
  readonly compensations: readonly CompensationOutcome[];
  readonly error: StoredError;

  constructor(init: SagaFailedInit) {
    super(
      new.target.code,
      `saga "${init.saga}" (${init.sagaId}) failed at step "${init.failedStep}": ${init.error.message}; ${init.status}`,
      { cause: init.cause },
    );
    this.sagaId = init.sagaId;
    this.saga = init.saga;
    this.failedStep = init.failedStep;
    this.status = init.status;
    this.compensations = init.compensations;
    this.error = init.error;
  }
}
export const isSagaFailedError = errorGuard<SagaFailedError>(SagaFailedError.code);

/** An error as JSON can store it. */
export function toStoredError(error: unknown): StoredError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string'
      ? { name: error.name, message: error.message, code }
      : { name: error.name, message: error.message };
  }
  return { name: 'Error', message: String(error) };
}

/**
 * A saga state write was made on the Redis master, but `WAIT` saw fewer replicas acknowledge it than the store's
 * `durability.replicas` within `durability.timeoutMs`. The write is NOT undone: it is on the master and readers
 * see it; what is unknown is whether it would survive a failover to a replica that had not received it yet.
 */
export class SagaDurabilityError extends BallastError {
  static readonly code = 'SAGA_DURABILITY';
  constructor(
    readonly backend: string,
    /** `host:port` of the master that holds the key (on a Cluster, the master of the key's slot). */
    readonly node: string,
    readonly key: string,
    readonly operation: string,
    readonly acked: number,
    readonly asked: number,
    readonly timeoutMs: number,
  ) {
    super(
      new.target.code,
      `${backend} ${node}: saga ${operation} on ${key} was written on the master but only ${acked} of ${asked} replicas acknowledged it within ${timeoutMs} ms (WAIT); the write stands, a failover may lose it`,
    );
  }
}
export const isSagaDurabilityError = errorGuard<SagaDurabilityError>(SagaDurabilityError.code);
