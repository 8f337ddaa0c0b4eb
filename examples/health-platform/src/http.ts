/** The one HTTP layer of every service: node:http, a tiny router, JSON in and out. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Req {
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: unknown;
  raw: IncomingMessage;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Handler = (req: Req, res: ServerResponse) => unknown;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

export class Router {
  readonly #routes: Route[] = [];

  on(method: string, pattern: string, handler: Handler): this {
    this.#routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }
  get(p: string, h: Handler) {
    return this.on('GET', p, h);
  }
  post(p: string, h: Handler) {
    return this.on('POST', p, h);
  }
  patch(p: string, h: Handler) {
    return this.on('PATCH', p, h);
  }
  delete(p: string, h: Handler) {
    return this.on('DELETE', p, h);
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    const parts = path.split('/').filter(Boolean);
    for (const r of this.#routes) {
      if (r.method !== method) continue;
      const wildcard = r.parts.at(-1) === '*';
      if (wildcard ? parts.length < r.parts.length - 1 : parts.length !== r.parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < r.parts.length; i++) {
        const p = r.parts[i]!;
        if (p === '*') {
          params['*'] = parts.slice(i).join('/');
          break;
        }
        if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(parts[i]!);
        else if (p !== parts[i]) {
          ok = false;
          break;
        }
      }
      if (ok) return { handler: r.handler, params };
    }
    return undefined;
  }
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Starts `router` on a random loopback port. Handlers return a body (sent as 200 JSON) or write `res` themselves.
 * A plain request listener (a framework's app) may stand in for the router; `raw` routes still come first.
 */
export async function listen(
  router: Router | ((req: IncomingMessage, res: ServerResponse) => void),
  options: { onError?: (error: unknown) => void; raw?: (req: IncomingMessage, res: ServerResponse) => boolean } = {},
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer(async (raw, res) => {
    try {
      if (options.raw?.(raw, res)) return;
      if (typeof router === 'function') return router(raw, res); // an app's own handler (user-service's Nest app)
      const url = new URL(raw.url ?? '/', 'http://local');
      const method = raw.method ?? 'GET';
      const found = router.match(method, url.pathname);
      if (!found) return send(res, 404, { error: `no route ${method} ${url.pathname}` });
      const buf = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(raw);
      let body: unknown;
      if (buf.length > 0) {
        try {
          body = JSON.parse(buf.toString('utf8'));
        } catch {
          return send(res, 400, { error: 'body is not JSON' });
        }
      }
      const req: Req = {
        method,
        path: url.pathname,
        query: url.searchParams,
        params: found.params,
        headers: raw.headers,
        body,
        raw,
      };
      const out = await found.handler(req, res);
      if (!res.headersSent && !res.writableEnded) send(res, 200, out ?? { ok: true });
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      if (status >= 500) options.onError?.(error);
      send(res, status, { error: error instanceof Error ? error.message : String(error) });
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function requireFields<T extends Record<string, unknown>>(body: unknown, fields: (keyof T & string)[]): T {
  if (body === null || typeof body !== 'object') throw new HttpError(400, 'body must be a JSON object');
  for (const f of fields) {
    if ((body as Record<string, unknown>)[f] === undefined) throw new HttpError(400, `missing field "${f}"`);
  }
  return body as T;
}
