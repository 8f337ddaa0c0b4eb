/** @ballast/dashboard: a mountable operator UI over the packages' public APIs. */
export { expressDashboard } from './adapters/express';
export {
  type FastifyLike,
  type FastifyReplyLike,
  type FastifyRequestLike,
  fastifyDashboard,
} from './adapters/fastify';
export { DashboardRequestError, isDashboardRequestError } from './errors';
export { createDashboard, type Dashboard, type NextFunction } from './handler';
export type {
  Authorize,
  DashboardAction,
  DashboardActionName,
  DashboardBreakers,
  DashboardBus,
  DashboardConfig,
  DashboardConfigStore,
  DashboardDiscovery,
  DashboardLocks,
  DashboardOptions,
  DashboardQueue,
  DashboardSagas,
  DashboardStream,
} from './options';
export { CSRF_HEADER } from './security';
