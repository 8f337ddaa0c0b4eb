import { BallastError, errorGuard } from '@ballast/core';
import type { JobErrorEntry, JobState } from './job';

/** A job operation named a job that does not exist (never added, removed, or trimmed by retention). */
export class JobNotFoundError extends BallastError {
  static readonly code = 'JOB_NOT_FOUND';
  constructor(
    readonly queue: string,
    readonly jobId: string,
    readonly operation: string,
  ) {
    super(new.target.code, `${operation} on queue "${queue}": job "${jobId}" does not exist`);
  }
}
export const isJobNotFoundError = errorGuard<JobNotFoundError>(JobNotFoundError.code);

/**
 * A job operation found the job in a state it does not apply to: `remove` of an active job (a worker holds
 * it: the job is left as it was), `promote` of a job that is not delayed, `retry` of one that neither failed
 * nor died.
 */
export class JobStateError extends BallastError {
  static readonly code = 'JOB_STATE';
  constructor(
    readonly queue: string,
    readonly jobId: string,
    readonly operation: string,
    readonly state: JobState,
    readonly expected: readonly JobState[],
  ) {
    super(
      new.target.code,
      `${operation} on queue "${queue}": job "${jobId}" is ${state}, expected ${expected.join(' | ')}`,
    );
  }
}
export const isJobStateError = errorGuard<JobStateError>(JobStateError.code);

/** The backend cannot do this operation (RabbitMQ cannot reach into a queue to change or drop one message). */
export class UnsupportedOperationError extends BallastError {
  static readonly code = 'UNSUPPORTED_OPERATION';
  constructor(
    readonly backend: string,
    readonly operation: string,
    readonly reason: string,
  ) {
    super(new.target.code, `${operation} is not supported on ${backend}: ${reason}`);
  }
}
export const isUnsupportedOperationError = errorGuard<UnsupportedOperationError>(UnsupportedOperationError.code);

/** `obliterate()` without `force` on a queue whose workers hold jobs: nothing was removed. */
export class QueueHasActiveJobsError extends BallastError {
  static readonly code = 'QUEUE_HAS_ACTIVE_JOBS';
  constructor(
    readonly queue: string,
    readonly active: number,
  ) {
    super(
      new.target.code,
      `obliterate on queue "${queue}": ${active} job(s) active; pass { force: true } to remove them too`,
    );
  }
}
export const isQueueHasActiveJobsError = errorGuard<QueueHasActiveJobsError>(QueueHasActiveJobsError.code);

/** `waitUntilFinished`: the job failed for good (failed, or moved to the DLQ); `failure` is its last error. */
export class JobFailedError extends BallastError {
  static readonly code = 'JOB_FAILED';
  constructor(
    readonly jobId: string,
    readonly state: 'failed' | 'dead' | 'removed',
    readonly failure: JobErrorEntry | undefined,
  ) {
    super(
      new.target.code,
      state === 'removed'
        ? `Job "${jobId}" was removed before it finished`
        : `Job "${jobId}" ${state === 'dead' ? 'died' : 'failed'}: ${failure?.message ?? 'unknown error'}`,
    );
  }
}
export const isJobFailedError = errorGuard<JobFailedError>(JobFailedError.code);

/** `waitUntilFinished` ran past its `timeoutMs` before the job finished (the job itself goes on). */
export class WaitTimeoutError extends BallastError {
  static readonly code = 'WAIT_TIMEOUT';
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(new.target.code, `Job "${jobId}" did not finish within ${timeoutMs} ms`);
  }
}
export const isWaitTimeoutError = errorGuard<WaitTimeoutError>(WaitTimeoutError.code);
