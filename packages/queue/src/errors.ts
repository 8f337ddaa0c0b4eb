import { BallastError, type BallastErrorOptions, errorGuard } from '@ballast/core';

/** A job attempt ran longer than its `timeoutMs`: the handler's signal was aborted and the attempt failed. */
export class JobTimeoutError extends BallastError {
  static readonly code = 'JOB_TIMEOUT';
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(new.target.code, `Job "${jobId}" timed out after ${timeoutMs} ms`);
  }
}
export const isJobTimeoutError = errorGuard<JobTimeoutError>(JobTimeoutError.code);

/** A job's priority is not `high`, `medium`, `low` nor an integer in 0..10. */
export class UnknownPriorityError extends BallastError {
  static readonly code = 'UNKNOWN_PRIORITY';
  constructor(readonly priority: unknown) {
    super(
      new.target.code,
      `Unknown priority ${JSON.stringify(priority) ?? String(priority)}: expected "high" | "medium" | "low" or an integer 0..10`,
    );
  }
}
export const isUnknownPriorityError = errorGuard<UnknownPriorityError>(UnknownPriorityError.code);

/** A job's data (or a handler's result) cannot be stored as JSON: `path` names the offending value. */
export class NonSerializableDataError extends BallastError {
  static readonly code = 'NON_SERIALIZABLE_DATA';
  constructor(
    readonly path: string,
    readonly reason: string,
    options: BallastErrorOptions = {},
  ) {
    super(new.target.code, `Job data is not JSON-serialisable at ${path}: ${reason}`, options);
  }
}
export const isNonSerializableDataError = errorGuard<NonSerializableDataError>(NonSerializableDataError.code);

/** A job's serialised data is larger than the queue's `maxPayloadBytes`. */
export class PayloadTooLargeError extends BallastError {
  static readonly code = 'PAYLOAD_TOO_LARGE';
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(new.target.code, `Job payload is ${bytes} bytes, above the limit of ${maxBytes} bytes`);
  }
}
export const isPayloadTooLargeError = errorGuard<PayloadTooLargeError>(PayloadTooLargeError.code);

/** The queue or worker was closed: the operation was rejected. */
export class QueueClosedError extends BallastError {
  static readonly code = 'QUEUE_CLOSED';
  constructor(
    readonly queue: string,
    operation: string,
  ) {
    super(new.target.code, `Queue "${queue}" is closed: ${operation} rejected`);
  }
}
export const isQueueClosedError = errorGuard<QueueClosedError>(QueueClosedError.code);

/** A job left `active` because its worker stopped renewing its lease more than `maxStalledCount` times. */
export class JobStalledError extends BallastError {
  static readonly code = 'JOB_STALLED';
  constructor(
    readonly jobId: string,
    readonly stalledCount: number,
  ) {
    super(new.target.code, `Job "${jobId}" stalled ${stalledCount} times`);
  }
}
export const isJobStalledError = errorGuard<JobStalledError>(JobStalledError.code);

/** A worker received a job whose name no handler was registered for. */
export class NoHandlerError extends BallastError {
  static readonly code = 'NO_HANDLER';
  constructor(readonly jobName: string) {
    super(new.target.code, `No handler registered for job "${jobName}"`);
  }
}
export const isNoHandlerError = errorGuard<NoHandlerError>(NoHandlerError.code);

/** `enqueue(instance).method(…)` named a method that is not a `@Task` method. */
export class NotATaskError extends BallastError {
  static readonly code = 'NOT_A_TASK';
  constructor(readonly method: string) {
    super(new.target.code, `${method} is not a @Task method: decorate it with @Task({ queue }) to enqueue it`);
  }
}
export const isNotATaskError = errorGuard<NotATaskError>(NotATaskError.code);

/** A publish to the broker was not confirmed (nacked, or the connection dropped and retries ran out). */
export class PublishNotConfirmedError extends BallastError {
  static readonly code = 'PUBLISH_NOT_CONFIRMED';
  constructor(message: string, options: BallastErrorOptions = {}) {
    super(new.target.code, message, options);
  }
}
export const isPublishNotConfirmedError = errorGuard<PublishNotConfirmedError>(PublishNotConfirmedError.code);

/** One job of an `addBulk` that is in the queue (`duplicate`: its `jobId` existed, nothing was added). */
export interface BulkQueuedJob {
  /** Its index in the `addBulk` array. */
  index: number;
  id: string;
  duplicate: boolean;
}
/** One job of an `addBulk` that is not in the queue: its status record was removed again. */
export interface BulkFailedJob {
  index: number;
  id: string;
  error: unknown;
}

/**
 * Part of an `addBulk` reached the queue and part did not (the broker confirmed some publishes, then refused or
 * lost the rest): `queued` lists exactly the jobs that will run, `failed` those that will not (add them again).
 */
export class BulkAddIncompleteError extends BallastError {
  static readonly code = 'BULK_ADD_INCOMPLETE';
  constructor(
    readonly backend: string,
    readonly queued: readonly BulkQueuedJob[],
    readonly failed: readonly BulkFailedJob[],
  ) {
    const first = failed[0]?.error;
    super(
      new.target.code,
      `addBulk on ${backend}: ${queued.length} job(s) queued, ${failed.length} not (first: ${first instanceof Error ? first.message : String(first)})`,
      { cause: first },
    );
  }
}
export const isBulkAddIncompleteError = errorGuard<BulkAddIncompleteError>(BulkAddIncompleteError.code);

/**
 * `durability` is set and, after `add` wrote jobs on the Redis master, `WAIT` saw fewer replicas acknowledge than
 * asked within `timeoutMs`. The jobs ARE queued (workers on the master will run them; adding them again with the
 * same `jobId` is a no-op): what is unknown is whether they would survive a failover to a lagging replica.
 */
export class QueueDurabilityError extends BallastError {
  static readonly code = 'QUEUE_DURABILITY';
  constructor(
    readonly backend: string,
    /** `host:port` of the master holding the queue's keys (on a Cluster, the master of their slot). */
    readonly node: string,
    readonly queue: string,
    /** The jobs the write added (queued on the master). */
    readonly jobIds: readonly string[],
    readonly acked: number,
    readonly asked: number,
    readonly timeoutMs: number,
  ) {
    super(
      new.target.code,
      `${backend} ${node}: add to queue "${queue}" was written on the master but only ${acked} of ${asked} replicas acknowledged it within ${timeoutMs} ms (WAIT); the jobs are queued, a failover may lose them`,
    );
  }
}
export const isQueueDurabilityError = errorGuard<QueueDurabilityError>(QueueDurabilityError.code);
