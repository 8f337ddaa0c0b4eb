import { BallastError, errorGuard } from '@ballast/core';

/** Every source in the fallback chain came up empty: no healthy instance, no static entry, no env variable. */
export class ServiceUnavailableError extends BallastError {
  static readonly code = 'SERVICE_UNAVAILABLE';
  constructor(
    readonly service: string,
    /** What each source said, in chain order, e.g. `consul: no passing instances`. */
    readonly tried: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(new.target.code, `Service "${service}" is not available (${tried.join('; ')})`, options);
  }
}
export const isServiceUnavailableError = errorGuard<ServiceUnavailableError>(ServiceUnavailableError.code);

/** The registry backend (Consul agent, Redis) failed or answered with an error status. */
export class DiscoveryBackendError extends BallastError {
  static readonly code = 'DISCOVERY_BACKEND';
  constructor(
    message: string,
    /** HTTP status from Consul when there was one. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(new.target.code, message, options);
  }
}
export const isDiscoveryBackendError = errorGuard<DiscoveryBackendError>(DiscoveryBackendError.code);

/** A heartbeat found the registration gone (agent restarted, TTL expired in Redis): the registry re-registers. */
export class RegistrationLostError extends BallastError {
  static readonly code = 'REGISTRATION_LOST';
  constructor(readonly id: string) {
    super(new.target.code, `Registration "${id}" is unknown to the registry backend`);
  }
}
export const isRegistrationLostError = errorGuard<RegistrationLostError>(RegistrationLostError.code);
