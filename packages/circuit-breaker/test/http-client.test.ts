import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, isAbortedError, isInvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isBrokenCircuitError, isTimeoutError } from '../src/errors';
import {
  createHttpClient,
  type HttpClient,
  type HttpClientOptions,
  type HttpRetryEvent,
  HttpStatusError,
  isHttpClientClosedError,
  isHttpStatusError,
  networkErrorCode,
} from '../src/http';
import { RetryBudget } from '../src/retry-budget';

// ── a real HTTP server with one handler per route ───────────────────────────────────────────────────────

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

interface Route {
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
function route(handler: Handler): Route {
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
function hitCount(r: Route, n: number): Promise<void> {
  if (r.hits >= n) return Promise.resolve();
  return new Promise((resolve) => r.waiters.push({ n, resolve }));
}

/** Resolves once `n` responses of the route were closed by the client before they ended. */
function closedEarly(r: Route, n: number): Promise<void> {
  if (r.closedEarly >= n) return Promise.resolve();
  return new Promise((resolve) => r.closeWaiters.push({ n, resolve }));
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers });
  res.end(body);
};
/** Never answers; counts the connection closing under it. */
const hang: Handler = () => {};

let server: Server;
let base: string;

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

// ── metrics (in-memory OTel SDK) ────────────────────────────────────────────────────────────────────────

const collect = useInMemoryMetrics();

async function retryCounts(service: string): Promise<Record<string, number>> {
  const metric = (await collect())('api_gateway_retry_count');
  const out: Record<string, number> = {};
  for (const p of metric?.dataPoints ?? []) {
    if (p.attributes.service === service) out[String(p.attributes.attempt)] = p.value as number;
  }
  return out;
}

// ── clients ─────────────────────────────────────────────────────────────────────────────────────────────

const clients: HttpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function logCapture() {
  const lines: { level: number; msg: string; service?: string }[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (s: string) => void lines.push(JSON.parse(s)) },
  });
  return { lines, logger };
}

/** A client on the test server; retries back off 0 ms unless a test sets a backoff. */
function client(options: Partial<HttpClientOptions> = {}): HttpClient {
  const c = createHttpClient({
    resolve: () => base,
    retry: { initialMs: 0, maxMs: 0 },
    logger: createLogger({ level: 'silent' }),
    ...options,
  });
  clients.push(c);
  return c;
}

function nextRetry(c: HttpClient): Promise<HttpRetryEvent> {
  return new Promise((resolve) => {
    const off = c.onRetry((e) => {
      off();
      resolve(e);
    });
  });
}

function retryEvents(c: HttpClient): HttpRetryEvent[] {
  const events: HttpRetryEvent[] = [];
  c.onRetry((e) => events.push(e));
  return events;
}

const settle = <T>(p: Promise<T>): Promise<T | unknown> =>
  p.then(
    (v) => v,
    (e: unknown) => e,
  );

// ── the fault matrix ────────────────────────────────────────────────────────────────────────────────────

describe('retries of idempotent requests (seed 003)', () => {
  it('retries a GET after 5xx at exactly 500 ms · 2ⁿ until it succeeds, logging and counting each retry', async () => {
    const r = route((_req, res, hit) => (hit < 3 ? text(res, 503, 'down') : json(res, 200, { ok: true, hit })));
    const clock = new FakeClock();
    const log = logCapture();
    const c = client({ clock, logger: log.logger, retry: {}, serviceId: 'api-gateway' });

    const result = c.get<{ ok: boolean; hit: number }>('users', r.path);
    const first = await nextRetry(c);
    expect(first).toMatchObject({ service: 'users', attempt: 1, maxRetries: 3, delayMs: 500 });
    expect(r.hits).toBe(1);
    await clock.advance(499);
    expect(r.hits).toBe(1);
    const second = nextRetry(c);
    await clock.advance(1);
    expect(await second).toMatchObject({ attempt: 2, delayMs: 1_000 });
    await clock.advance(1_000);

    expect(await result).toEqual({ ok: true, hit: 3 });
    expect(r.hits).toBe(3);
    const warnings = log.lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warnings).toEqual([
      'Retry 1/3 for users after 500ms (error: 503 Service Unavailable)',
      'Retry 2/3 for users after 1000ms (error: 503 Service Unavailable)',
    ]);
    expect(await retryCounts('users')).toEqual({ '1': 1, '2': 1 });

    // One logical request: the same X-Request-ID on every try; X-Service-ID names the caller.
    const ids = r.headers.map((h) => h['x-request-id']);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(1);
    expect(r.headers.every((h) => h['x-service-id'] === 'api-gateway')).toBe(true);
  });

  it("reuses the caller's X-Request-ID and adds the default headers", async () => {
    const r = route((_req, res) => json(res, 200, {}));
    const c = client({ headers: { 'x-tenant': 't1', 'x-request-id': 'default-id' } });
    await c.get('users', r.path, { headers: { 'X-Request-ID': 'req-123' } });
    await c.get('users', r.path);
    expect(r.headers[0]).toMatchObject({ 'x-request-id': 'req-123', 'x-tenant': 't1', accept: 'application/json' });
    expect(r.headers[1]?.['x-request-id']).toBe('default-id');
  });

  it('does not retry a POST answered 503 unless it has an Idempotency-Key or idempotent: true', async () => {
    const r = route((_req, res) => text(res, 503, 'unavailable'));
    const events = retryEvents(client());
    const c = clients[0]!;

    const plain = await c.request('users', r.path, { method: 'POST', body: '{}' });
    expect(plain.status).toBe(503);
    expect(await plain.text()).toBe('unavailable');
    expect(r.hits).toBe(1);

    const error = await settle(c.post('orders', r.path, { id: 1 }));
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ status: 503, service: 'orders', method: 'POST', body: 'unavailable' });
    expect((error as HttpStatusError).url).toBe(`${base}${r.path}`);
    expect(r.hits).toBe(2);
    expect(events).toHaveLength(0);

    const keyed = await c.request('users', r.path, {
      method: 'POST',
      body: '{}',
      headers: { 'Idempotency-Key': 'k-1' },
    });
    expect(keyed.status).toBe(503);
    expect(r.hits).toBe(2 + 4);
    await settle(c.patch('users', r.path, { x: 1 }, { idempotent: true }));
    expect(r.hits).toBe(6 + 4);
    expect(r.headers.slice(2, 6).every((h) => h['idempotency-key'] === 'k-1')).toBe(true);
  });

  it('retries a connection reset (socket destroyed) and reports the network code', async () => {
    const r = route((req, res, hit) => (hit === 1 ? req.socket.destroy() : json(res, 200, { hit })));
    const c = client();
    const retried = nextRetry(c);
    expect(await c.get('users', r.path)).toEqual({ hit: 2 });
    expect(r.hits).toBe(2);
    expect(networkErrorCode((await retried).error)).toMatch(/^(UND_ERR_SOCKET|ECONNRESET)$/);

    const always = route((req) => req.socket.destroy());
    const error = await settle(c.get('users', always.path));
    expect(error).toBeInstanceOf(TypeError);
    expect(always.hits).toBe(4);
  });

  it('times out each try after timeoutMs (TimeoutError), aborting the request on the wire', async () => {
    const r = route(hang);
    const clock = new FakeClock();
    const c = client({ clock, timeoutMs: 100, retry: { maxRetries: 1, initialMs: 0, maxMs: 0 } });
    const result = settle(c.get('users', r.path));

    await hitCount(r, 1);
    await clock.advance(99);
    expect(r.closedEarly).toBe(0);
    await clock.advance(1);
    await hitCount(r, 2); // the retry: a second, separately timed try
    await clock.advance(100);
    const error = await result;
    expect(isTimeoutError(error)).toBe(true);
    expect(error).toMatchObject({ timeoutMs: 100 });
    expect(r.hits).toBe(2);
    expect(c.breakers().get('users')?.totals.timeout).toBe(2);

    // A request's own timeoutMs wins; the connections of aborted tries are closed.
    const own = settle(c.get('users', r.path, { timeoutMs: 20 }));
    await hitCount(r, 3);
    await clock.advance(20);
    await hitCount(r, 4);
    await clock.advance(20);
    expect(await own).toMatchObject({ timeoutMs: 20 });
    await closedEarly(r, 4);
    expect(r.closedEarly).toBe(4);
  });

  it('honours Retry-After on a 429 instead of the backoff, capped at maxMs', async () => {
    const r = route((_req, res, hit) =>
      hit === 1 ? text(res, 429, 'slow down', { 'retry-after': '1' }) : json(res, 200, { hit }),
    );
    const clock = new FakeClock();
    const c = client({ clock, retry: {} });
    const result = c.get('users', r.path);
    const event = await nextRetry(c);
    expect(event.delayMs).toBe(1_000);
    await clock.advance(999);
    expect(clock.pendingTimers().map((t) => t.at - clock.now())).toEqual([1]);
    await clock.advance(1);
    expect(await result).toEqual({ hit: 2 });

    const far = route((_req, res, hit) =>
      hit === 1 ? text(res, 503, '', { 'retry-after': '3600' }) : json(res, 200, {}),
    );
    const capped = c.get('users', far.path);
    expect((await nextRetry(c)).delayMs).toBe(30_000);
    await clock.advance(30_000);
    await capped;
    expect(far.hits).toBe(2);
  });

  it('releases the body of a failed try before retrying it', { timeout: 5_000 }, async () => {
    // The failed response streams a body that never ends: only cancelling it frees the connection.
    const r = route((_req, res, hit) => {
      if (hit > 1) return json(res, 200, { hit });
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    const c = client();
    expect(await c.get('users', r.path)).toEqual({ hit: 2 });
    await closedEarly(r, 1); // times out (test fails) if the body is never released
  });
});

describe('per-service breakers', () => {
  it('404 is neither retried nor a breaker failure', async () => {
    const r = route((_req, res) => text(res, 404, 'missing'));
    const c = client({ breaker: { volumeThreshold: 2 } });
    for (let i = 0; i < 5; i++) expect((await c.request('users', r.path)).status).toBe(404);
    expect(r.hits).toBe(5);
    const breaker = c.breakers().get('users')!;
    expect(breaker.state).toBe('closed');
    expect(breaker.totals).toMatchObject({ success: 5, failure: 0 });

    const error = await settle(c.get('users', r.path));
    expect(isHttpStatusError(error)).toBe(true);
    expect(error).toMatchObject({ status: 404, body: 'missing' });
  });

  it('opens after repeated 5xx, then fails fast without hitting the server, and closes after a good probe', async () => {
    let healthy = false;
    const r = route((_req, res) => (healthy ? json(res, 200, { ok: true }) : text(res, 500, 'broken')));
    const clock = new FakeClock();
    const c = client({ clock, breaker: { volumeThreshold: 4, resetTimeoutMs: 60_000 } });
    const events = retryEvents(c);

    const first = await c.request('users', r.path);
    expect(first.status).toBe(500); // 1 try + 3 retries; the 4th failure trips the breaker
    expect(r.hits).toBe(4);
    expect(c.breakers().get('users')?.state).toBe('open');

    const rejected = await settle(c.get('users', r.path));
    expect(isBrokenCircuitError(rejected)).toBe(true);
    expect(r.hits).toBe(4); // failed fast: the server never saw it
    expect(events).toHaveLength(3); // and it was not retried

    // Another service has its own breaker.
    expect(await c.request('orders', route((_q, res) => json(res, 200, {})).path)).toMatchObject({ status: 200 });

    healthy = true;
    await clock.advance(60_000);
    expect(await c.get('users', r.path)).toEqual({ ok: true });
    expect(c.breakers().get('users')?.state).toBe('closed');
    expect([...c.breakers().keys()].sort()).toEqual(['orders', 'users']);
  });
});

describe('retry budget', () => {
  it('stops retry amplification: retries stay within ratio · requests + floor', async () => {
    const r = route((_req, res) => text(res, 503, 'down'));
    const clock = new FakeClock();
    // floor = 0.5/s · 10 s = 5 retries; 50 requests · 0.2 = 10 more.
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 0.5, windowMs: 10_000, clock });
    const c = client({ clock, breaker: false, retryBudget: budget });
    const events = retryEvents(c);
    for (let i = 0; i < 50; i++) expect((await c.request('users', r.path)).status).toBe(503);

    const retries = r.hits - 50;
    expect(retries).toBe(events.length);
    expect(retries).toBeGreaterThan(0);
    expect(retries).toBeLessThanOrEqual(0.2 * 50 + 5); // without the budget: 150
    expect(budget.stats).toEqual({ requests: 50, retries });
  });

  it('is on by default, one for the whole client, and counts non-retried requests too', async () => {
    const r = route((_req, res) => json(res, 201, {}));
    const c = client();
    await c.post('users', r.path, {});
    await c.get('orders', r.path);
    expect(c.budget?.stats.requests).toBe(2);
    expect(client({ retryBudget: false }).budget).toBeUndefined();
  });
});

describe('GET cache', () => {
  it('serves a GET from memory within the TTL and refetches after it', async () => {
    const r = route((_req, res, hit) => json(res, 200, { hit }));
    const clock = new FakeClock();
    const c = client({ clock, cache: { ttlMs: 1_000 } });

    expect(await c.get('users', r.path)).toEqual({ hit: 1 });
    await clock.advance(999);
    expect(await c.get('users', r.path)).toEqual({ hit: 1 });
    expect((await c.request('users', r.path, { headers: { accept: 'application/json' } })).status).toBe(200);
    expect(r.hits).toBe(1);

    await clock.advance(1);
    expect(await c.get('users', r.path)).toEqual({ hit: 2 });
    expect(r.hits).toBe(2);

    // The Accept header is part of the key; clearCache and writes to the service invalidate.
    await c.request('users', r.path, { headers: { accept: 'text/plain' } });
    expect(r.hits).toBe(3);
    c.clearCache('users');
    expect(await c.get('users', r.path)).toEqual({ hit: 4 });
    await c.post('users', route((_q, res) => json(res, 200, {})).path, {});
    expect(await c.get('users', r.path)).toEqual({ hit: 5 });
    expect(await c.get('users', r.path)).toEqual({ hit: 5 });
  });

  it('does not cache errors', async () => {
    const r = route((_req, res, hit) => (hit === 1 ? text(res, 404, 'no') : json(res, 200, { hit })));
    const c = client({ cache: { ttlMs: 60_000 } });
    expect(await settle(c.get('users', r.path))).toMatchObject({ status: 404 });
    expect(await c.get('users', r.path)).toEqual({ hit: 2 });
    expect(await c.get('users', r.path)).toEqual({ hit: 2 });
  });
});

describe('cancellation and lifecycle', () => {
  it("the caller's signal aborts a try in flight (not a breaker failure)", async () => {
    const r = route(hang);
    const c = client();
    const controller = new AbortController();
    const result = settle(c.get('users', r.path, { signal: controller.signal }));
    await hitCount(r, 1);
    controller.abort(new Error('user left'));
    const error = await result;
    expect(isAbortedError(error)).toBe(true);
    expect((error as Error).cause).toMatchObject({ message: 'user left' });
    expect(r.hits).toBe(1);
    expect(c.breakers().get('users')?.totals).toMatchObject({ cancelled: 1, failure: 0 });
    await closedEarly(r, 1);
  });

  it("the caller's signal aborts a backoff wait, leaving no timer behind", async () => {
    const r = route((_req, res) => text(res, 503, 'down'));
    const clock = new FakeClock();
    const c = client({ clock, retry: {} });
    const controller = new AbortController();
    const result = settle(c.get('users', r.path, { signal: controller.signal }));
    expect((await nextRetry(c)).delayMs).toBe(500);
    expect(clock.pendingCount).toBe(1);
    controller.abort();
    expect(isAbortedError(await result)).toBe(true);
    expect(clock.pendingCount).toBe(0);
    await clock.advance(10_000);
    expect(r.hits).toBe(1);
  });

  it('close() aborts requests in flight, closes the breakers, leaves no timer and refuses new requests', async () => {
    const hanging = route(hang);
    const down = route((_req, res) => text(res, 503, 'down'));
    const clock = new FakeClock();
    const c = client({ clock, retry: {}, breaker: { volumeThreshold: 1 } });
    const inFlight = settle(c.get('users', hanging.path)); // its per-try timer is pending
    const backingOff = settle(c.get('devices', down.path)); // waits 500 ms before its retry
    await nextRetry(c);
    await hitCount(hanging, 1);
    const opened = settle(c.post('orders', down.path, {})); // not retried; opens the orders breaker
    expect(isHttpStatusError(await opened)).toBe(true);
    const orders = c.breakers().get('orders')!;
    expect(orders.state).toBe('open');
    // A per-try timeout (users), a backoff wait (devices), two reset timers (the devices and orders breakers).
    expect(clock.pendingCount).toBe(4);

    await c.close();
    expect(clock.pendingCount).toBe(0);
    for (const error of [await inFlight, await backingOff]) {
      expect(isAbortedError(error)).toBe(true);
      expect(isHttpClientClosedError((error as Error).cause)).toBe(true);
    }
    expect(orders.isClosed).toBe(true);
    expect(c.breakers().size).toBe(0);
    expect(isHttpClientClosedError(await settle(c.get('users', hanging.path)))).toBe(true);
    await c.close(); // idempotent
    await closedEarly(hanging, 1);
  });

  it('resolves the service for every try (discovery can move it)', async () => {
    const r = route((_req, res) => json(res, 200, {}));
    // A port nothing listens on: the first instance is gone.
    const gone = createServer().listen(0, '127.0.0.1');
    await once(gone, 'listening');
    const goneUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    gone.close();
    await once(gone, 'close');
    const asked: string[] = [];
    const log = logCapture();
    const c = client({
      logger: log.logger,
      resolve: async (service) => {
        asked.push(service);
        return asked.length === 1 ? goneUrl : `${base}/`;
      },
    });
    expect(await c.get('users', r.path.slice(1))).toEqual({});
    expect(asked).toEqual(['users', 'users']);
    expect(log.lines.find((l) => l.level === 40)?.msg).toBe('Retry 1/3 for users after 0ms (error: ECONNREFUSED)');
  });

  it('validates options, naming nested fields', () => {
    const bad = (o: Record<string, unknown>) => {
      try {
        createHttpClient({ resolve: () => base, ...o } as HttpClientOptions);
      } catch (error) {
        return isInvalidOptionsError(error) ? error.issues.map((i) => i.path) : error;
      }
      return [];
    };
    expect(bad({ timeoutMs: -1 })).toEqual(['timeoutMs']);
    expect(bad({ retry: { maxRetries: 3, bogus: 1 } })).toContain('retry.bogus');
    expect(bad({ breaker: { resetTimeoutMs: 0 } })).toEqual(['breaker.resetTimeoutMs']);
    expect(bad({ retryBudget: { ratio: 99 } })).toEqual(['retryBudget.ratio']);
    expect(bad({ cache: { ttlMs: 0 } })).toEqual(['cache.ttlMs']);
    expect(bad({ breaker: { name: 'x' } })).toEqual(['breaker']);
  });
});
