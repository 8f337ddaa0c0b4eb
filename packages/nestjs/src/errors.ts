import { BallastError, errorGuard } from '@ballast/core';

/**
 * A piece of Ballast was used that `BallastModule.forRoot` was not given: an `@OnEvent` handler without
 * `eventBus`, a `@Task` without its queue registered, `@Saga` without `saga`. Names the option to set.
 */
export class BallastNotConfiguredError extends BallastError {
  static readonly code = 'BALLAST_NOT_CONFIGURED';
  constructor(
    /** The `BallastModule` option (or registration) that is missing, e.g. `eventBus`, `queues: [{ name: 'x' }]`. */
    readonly option: string,
    /** Who needed it, e.g. `@OnEvent Welcome.send`. */
    readonly usedBy: string,
  ) {
    super(new.target.code, `${usedBy} needs BallastModule option ${option}, which is not configured`);
  }
}
export const isBallastNotConfiguredError = errorGuard<BallastNotConfiguredError>(BallastNotConfiguredError.code);

/** A `@Task`'s queue could not be found among the queues `BallastModule` registered. */
export class QueueNotRegisteredError extends BallastError {
  static readonly code = 'QUEUE_NOT_REGISTERED';
  constructor(
    readonly queue: string,
    usedBy: string,
  ) {
    super(
      new.target.code,
      `${usedBy}: queue "${queue}" is not registered; add it to BallastModule.forRoot({ queues }) or forFeature({ queues })`,
    );
  }
}
export const isQueueNotRegisteredError = errorGuard<QueueNotRegisteredError>(QueueNotRegisteredError.code);

/**
 * A terminus health indicator found its dependency down. Carries `causes` and `isHealthCheckError` as
 * `@nestjs/terminus` 10 and 11 both read them, so a `HealthCheckService` reports it as `down` (503).
 */
export class BallastHealthCheckError extends BallastError {
  static readonly code = 'HEALTH_CHECK_DOWN';
  readonly isHealthCheckError = true as const;
  constructor(
    readonly key: string,
    readonly causes: Record<string, Record<string, unknown>>,
  ) {
    super(new.target.code, `${key} is down: ${String(causes[key]?.message ?? 'check failed')}`);
  }
}
export const isBallastHealthCheckError = errorGuard<BallastHealthCheckError>(BallastHealthCheckError.code);
