import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dashboard, NextFunction } from '../handler';

/**
 * Express (or connect) middleware: `app.use(expressDashboard(dashboard))`. Requests outside the base path go
 * to `next`. Typed structurally: no dependency on express.
 */
export function expressDashboard(
  dashboard: Dashboard,
): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  return (req, res, next) => dashboard(req, res, next);
}
