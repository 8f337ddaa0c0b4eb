import { BallastError, errorGuard } from '@ballast/core';

/** A dashboard request that cannot be answered as asked: carries the HTTP status it is answered with. */
export class DashboardRequestError extends BallastError {
  static readonly code = 'DASHBOARD_REQUEST';
  readonly status: number;
  constructor(status: number, message: string) {
    super(new.target.code, message);
    this.status = status;
  }
}
export const isDashboardRequestError = errorGuard<DashboardRequestError>(DashboardRequestError.code);

export const badRequest = (message: string) => new DashboardRequestError(400, message);
export const notFound = (message: string) => new DashboardRequestError(404, message);
