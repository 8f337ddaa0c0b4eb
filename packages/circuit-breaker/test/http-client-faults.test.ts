/**
 * The HTTP client against a real server's faults: retries of idempotent requests on 5xx, connection resets,
 * per-try timeouts and 429/503 Retry-After (with their logs, retry metric and request headers), and the
 * per-service breakers that 5xx open and 404 leaves alone. Budget, cache and lifecycle: http-client.test.ts.
 */
import { FakeClock } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { describe, expect, it } from 'vitest';
import { isBrokenCircuitError, isRetryAfterTooLongError, isTimeoutError } from '../src/errors';
import { HttpStatusError, isHttpStatusError, networkErrorCode } from '../src/http';
import { client, clients, logCapture, nextRetry, retryEvents, settle, useHttpClients } from './http-client-harness';
import { base, closedEarly, hang, hitCount, json, route, text, useHttpServer } from './http-server';

useHttpServer();

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

useHttpClients();

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

  it('honours Retry-After on a 429 instead of the backoff: exactly as long as asked, never shortened by maxMs', async () => {
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

    // 45 s is past the backoff's maxMs (30 s) but within maxRetryAfterMs (60 s): waited in full.
    const later = route((_req, res, hit) =>
      hit === 1 ? text(res, 503, '', { 'retry-after': '45' }) : json(res, 200, {}),
    );
    const waited = c.get('users', later.path);
    expect((await nextRetry(c)).delayMs).toBe(45_000);
    await clock.advance(44_999);
    expect(later.hits).toBe(1);
    await clock.advance(1);
    await waited;
    expect(later.hits).toBe(2);
  });

  it('gives up at once with RetryAfterTooLongError when Retry-After exceeds maxRetryAfterMs', async () => {
    const far = route((_req, res, hit) =>
      hit === 1 ? text(res, 429, '', { 'retry-after': '120' }) : json(res, 200, {}),
    );
    const clock = new FakeClock();
    const c = client({ clock, retry: {} });
    const error = await c.get('users', far.path).catch((e: unknown) => e);
    expect(isRetryAfterTooLongError(error)).toBe(true);
    expect(error).toMatchObject({ retryAfterMs: 120_000, maxRetryAfterMs: 60_000 });
    expect(isHttpStatusError((error as Error).cause)).toBe(true);
    expect(far.hits).toBe(1);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('retryAfterOpensBreaker: a 503 with Retry-After holds the service breaker open for that time', async () => {
    const r = route((_req, res) => text(res, 503, '', { 'retry-after': '20' }));
    const clock = new FakeClock();
    const c = client({ clock, retry: false, retryAfterOpensBreaker: true });
    const first = await c.request('users', r.path);
    expect(first.status).toBe(503);
    const breaker = c.breakers().get('users')!;
    expect(breaker.state).toBe('open');
    expect(isBrokenCircuitError(await c.request('users', r.path).catch((e: unknown) => e))).toBe(true);
    await clock.advance(19_999);
    expect(breaker.state).toBe('open');
    await clock.advance(1);
    expect(breaker.state).toBe('half-open');
    expect(r.hits).toBe(1);
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
