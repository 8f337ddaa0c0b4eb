import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dashboard } from '../handler';

/** The little of a Fastify request and reply the adapter uses. */
export interface FastifyRequestLike {
  raw: IncomingMessage;
  body?: unknown;
}
export interface FastifyReplyLike {
  raw: ServerResponse;
  hijack(): unknown;
}
export interface FastifyLike {
  all(path: string, handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => void): unknown;
}

/**
 * A Fastify plugin: `app.register(fastifyDashboard(dashboard))`. It routes the base path and everything
 * under it to the dashboard (the reply hijacked: the dashboard writes the raw response); the body Fastify
 * already parsed is handed over. Typed structurally: no dependency on fastify.
 */
export function fastifyDashboard(dashboard: Dashboard) {
  const plugin = async (app: FastifyLike) => {
    const handler = (request: FastifyRequestLike, reply: FastifyReplyLike) => {
      reply.hijack();
      if (request.body !== undefined) (request.raw as { body?: unknown }).body = request.body;
      dashboard(request.raw, reply.raw);
    };
    app.all(dashboard.basePath, handler);
    app.all(`${dashboard.basePath}/*`, handler);
  };
  // Registered at the app's level (fastify-plugin's marker), not encapsulated under a prefix.
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
