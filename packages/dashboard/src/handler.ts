/**
 * `createDashboard`: a node:http `(req, res, next?)` listener that answers every URL under `basePath` — the
 * page, its assets, the JSON API of each panel, the live stream — and nothing else: a request outside
 * `basePath` goes to `next` (express/connect) or gets a 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isBallastError, systemClock } from '@ballast/core';
import { CSS, page, uiScript } from './assets';
import { badRequest, DashboardRequestError, isDashboardRequestError, notFound } from './errors';
import { LiveStream } from './live';
import { type DashboardOptions, type ResolvedOptions, resolveOptions } from './options';
import { breakerRoutes, breakerSummary } from './panels/breakers';
import { configRoutes } from './panels/config';
import { discoveryRoutes } from './panels/discovery';
import { lockRoutes } from './panels/locks';
import { queueRoutes, queueSummary } from './panels/queues';
import { sagaRoutes, sagaSummary } from './panels/sagas';
import { streamRoutes, streamSummary } from './panels/streams';
import { match, type Route, type RouteContext } from './route';
import { Csrf } from './security';

export type NextFunction = (error?: unknown) => void;

/** The mountable listener; `close()` ends the live streams (call it at shutdown). */
export interface Dashboard {
  (req: IncomingMessage, res: ServerResponse, next?: NextFunction): void;
  readonly basePath: string;
  /** The panels shown, in tab order. */
  readonly panels: readonly string[];
  close(): void;
}

const MAX_BODY = 64 * 1024;

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

export function createDashboard(options: DashboardOptions): Dashboard {
  const o = resolveOptions(options);
  const { routes, panels } = routesOf(o);
  const csrf = new Csrf(o.secret, o.basePath);
  const live = new LiveStream(o.clock ?? systemClock, o.liveIntervalMs, () => summary(o));

  const handle = async (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => {
    const raw = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const pathname = new URL(raw, 'http://dashboard.invalid').pathname;
    if (pathname !== o.basePath && !pathname.startsWith(`${o.basePath}/`)) {
      if (next) return next();
      return send(res, 404, { error: 'not found' });
    }
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const rest = pathname.slice(o.basePath.length);
    const method = req.method ?? 'GET';
    if (rest === '' || rest === '/') {
      if (method !== 'GET' && method !== 'HEAD') return send(res, 405, { error: 'GET only' });
      if (rest === '') return redirect(res, `${o.basePath}/`);
      const csrfToken = csrf.tokenFor(req, res);
      return text(res, 'text/html', page({ title: o.title, basePath: o.basePath, csrf: csrfToken, panels }));
    }
    if (rest === '/assets/app.css') return text(res, 'text/css', CSS);
    if (rest === '/assets/app.js') {
      const js = uiScript();
      if (js === undefined) return send(res, 503, { error: 'the dashboard UI was not built into this package' });
      return text(res, 'text/javascript', js);
    }
    if (rest === '/api/events' && method === 'GET') return live.attach(req, res);
    if (!rest.startsWith('/api/')) return send(res, 404, { error: 'not found' });
    await api(req, res, method, rest.slice('/api/'.length));
  };

  const api = async (req: IncomingMessage, res: ServerResponse, method: string, path: string) => {
    try {
      const segments = path.split('/').map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          throw badRequest('malformed URL');
        }
      });
      if (path === 'panels' && method === 'GET') return send(res, 200, { panels });
      let found: { route: Route; params: Record<string, string> } | undefined;
      let otherMethod = false;
      for (const route of routes) {
        const params = match(route.path, segments);
        if (!params) continue;
        if (route.method === method) {
          found = { route, params };
          break;
        }
        otherMethod = true;
      }
      if (!found) {
        if (otherMethod) throw new DashboardRequestError(405, `${method} is not allowed here`);
        throw notFound(`no API at ${path}`);
      }
      const { route, params } = found;
      const ctx: RouteContext = {
        req,
        params,
        query: new URL(req.url ?? '/', 'http://dashboard.invalid').searchParams,
        body: {},
      };
      if (route.method === 'POST') {
        const refused = csrf.check(req);
        if (refused) throw new DashboardRequestError(403, `refused: ${refused}`);
        ctx.body = await readBody(req);
        const action = route.action!(ctx);
        const allowed = o.authorize ? (await o.authorize(req, action)) === true : false;
        if (!allowed) throw new DashboardRequestError(403, `not authorised to ${action.name} ${action.target}`);
      }
      send(res, 200, await route.run(ctx));
    } catch (error) {
      const [status, message] = statusOf(error);
      send(res, status, { error: message, ...(isBallastError(error) ? { code: error.code } : {}) });
    }
  };

  const listener = ((req: IncomingMessage, res: ServerResponse, next?: NextFunction) => {
    handle(req, res, next).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: error instanceof Error ? error.message : String(error) });
      else res.end();
    });
  }) as Dashboard;
  Object.defineProperties(listener, {
    basePath: { value: o.basePath, enumerable: true },
    panels: { value: panels, enumerable: true },
    close: { value: () => live.close() },
  });
  return listener;
}

function routesOf(o: ResolvedOptions): { routes: Route[]; panels: string[] } {
  const routes: Route[] = [];
  const panels: string[] = [];
  const add = (panel: string, r: Route[]) => {
    panels.push(panel);
    routes.push(...r);
  };
  if (o.breakers) add('breakers', breakerRoutes(o.breakers));
  if (o.queues?.length) add('queues', queueRoutes(o.queues));
  if (o.buses?.length) add('streams', streamRoutes(o.buses));
  if (o.sagas) add('sagas', sagaRoutes(o.sagas, o.sagaNames));
  if (o.locks) add('locks', lockRoutes(o.locks));
  if (o.discovery) add('discovery', discoveryRoutes(o.discovery));
  if (o.config) add('config', configRoutes(o.config));
  return { routes, panels };
}

async function summary(o: ResolvedOptions) {
  const [queues, streams, sagas] = await Promise.all([
    o.queues?.length ? queueSummary(o.queues) : undefined,
    o.buses?.length ? streamSummary(o.buses) : undefined,
    o.sagas ? sagaSummary(o.sagas) : undefined,
  ]);
  return { breakers: o.breakers ? breakerSummary(o.breakers) : undefined, queues, streams, sagas };
}

/** HTTP status for an error: ours carry one; other Ballast errors by their code; anything else 500. */
function statusOf(error: unknown): [number, string] {
  const message = error instanceof Error ? error.message : String(error);
  if (isDashboardRequestError(error)) return [error.status, message];
  if (isBallastError(error)) {
    if (/NOT_FOUND|UNKNOWN/.test(error.code)) return [404, message];
    if (/BUSY|CONFLICT|FAILED|EXISTS|STATE/.test(error.code)) return [409, message];
    if (/UNSUPPORTED/.test(error.code)) return [400, message];
    if (/INVALID/.test(error.code)) return [400, message];
  }
  return [500, message];
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  // Already parsed by the host framework (express.json(), fastify's parser).
  const parsed = (req as { body?: unknown }).body;
  if (parsed !== undefined) {
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && !Buffer.isBuffer(parsed)) {
      return parsed as Record<string, unknown>;
    }
    if (typeof parsed !== 'string' && !Buffer.isBuffer(parsed)) throw badRequest('the body must be a JSON object');
    return parseJson(String(parsed));
  }
  const type = req.headers['content-type'] ?? '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new DashboardRequestError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  if (!/^application\/json\b/.test(type)) throw new DashboardRequestError(415, 'send application/json');
  return parseJson(Buffer.concat(chunks).toString('utf8'));
}

function parseJson(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badRequest('the body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('the body must be a JSON object');
  return v as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body ?? null);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(json);
}

function text(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
  res.end(body);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location });
  res.end();
}
