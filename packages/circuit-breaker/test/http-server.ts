/**
 * A real HTTP server for the HTTP client's integration tests: each test takes a fresh route (its own path and
 * handler) and watches it through the hits, request headers and early-closed responses the route counts.
 */
import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

// ── a real HTTP server with one handler per route ───────────────────────────────────────────────────────

export type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

export interface Route {
  path: string;
  hits: number;
  headers: IncomingHttpHeaders[];
  /** Responses whose connection closed before they ended (the client aborted or cancelled). */
  closedEarly: number;
  handler: Handler;
  waiters: { n: number; resolve: () => void }[];
  closeWaiters: { n: number; resolve: () => void }[];
}

const routes = new Map<string, Route>();
let routeSeq = 0;

/** A fresh route (unique path) answering with `handler`. */
export function route(handler: Handler): Route {
  const r: Route = {
    path: `/r${++routeSeq}`,
    hits: 0,
    headers: [],
    closedEarly: 0,
    handler,
    waiters: [],
    closeWaiters: [],
  };
  routes.set(r.path, r);
  return r;
}

/** Resolves once the route has been hit `n` times (the request reached the server). */
export function hitCount(r: Route, n: number): Promise<void> {
  if (r.hits >= n) return Promise.resolve();
  return new Promise((resolve) => r.waiters.push({ n, resolve }));
}

/** Resolves once `n` responses of the route were closed by the client before they ended. */
export function closedEarly(r: Route, n: number): Promise<void> {
  if (r.closedEarly >= n) return Promise.resolve();
  return new Promise((resolve) => r.closeWaiters.push({ n, resolve }));
}

export const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
export const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers });
  res.end(body);
};
/** Never answers; counts the connection closing under it. */
export const hang: Handler = () => {};

let server: Server;
/** The server's origin, `http://127.0.0.1:<port>`; set by `useHttpServer`'s beforeAll. */
export let base: string;

/** Starts the server before the file's tests and closes it, with every connection still open, after them. */
export function useHttpServer(): void {
  beforeAll(async () => {
    server = createServer((req, res) => {
      const r = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
      if (!r) return text(res, 404, 'no such route');
      const hit = ++r.hits;
      r.headers.push(req.headers);
      res.on('close', () => {
        if (res.writableFinished) return;
        r.closedEarly++;
        for (const w of r.closeWaiters.filter((w) => r.closedEarly >= w.n)) w.resolve();
      });
      for (const w of r.waiters.filter((w) => r.hits >= w.n)) w.resolve();
      r.handler(req, res, hit);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
}
