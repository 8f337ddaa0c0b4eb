/**
 * The HTTP client around its requests, against a real server: the retry budget that caps amplification, the
 * GET cache, cancellation by the caller's signal and by close(), resolving the service on every try, and
 * option validation. The fault matrix and the breakers: http-client-faults.test.ts.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbortedError, isInvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClientOptions, isHttpClientClosedError, isHttpStatusError } from '../src/http';
import { RetryBudget } from '../src/retry-budget';
import { client, logCapture, nextRetry, retryEvents, settle, useHttpClients } from './http-client-harness';
import { base, closedEarly, hang, hitCount, json, route, text, useHttpServer } from './http-server';

useHttpServer();
useHttpClients();

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

  it('a resolve answering { url, done } hears when each try ends and how: ok, 5xx, refused; nothing for its own open breaker', async () => {
    const ok = route((_req, res) => json(res, 200, {}));
    const down = route((_req, res) => text(res, 503, 'down'));
    const gone = createServer().listen(0, '127.0.0.1');
    await once(gone, 'listening');
    const goneUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    gone.close();
    await once(gone, 'close');
    const reports: { url: string; outcome: unknown; inFlight: number }[] = [];
    let inFlight = 0;
    let next = base;
    const c = client({
      retry: false,
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, rollingCountTimeoutMs: 60_000 },
      resolve: () => {
        const url = next;
        inFlight += 1;
        return {
          url,
          done: (outcome?: { ok: boolean }) => {
            inFlight -= 1;
            reports.push({ url, outcome, inFlight });
          },
        };
      },
    });
    await c.get('users', ok.path);
    await c.request('users', '/nope'); // a 404: the instance answered
    expect((await c.request('users', down.path)).status).toBe(503);
    next = goneUrl;
    await c.get('users', ok.path).catch(() => {});
    expect(reports).toEqual([
      { url: base, outcome: { ok: true }, inFlight: 0 },
      { url: base, outcome: { ok: true }, inFlight: 0 },
      { url: base, outcome: { ok: false }, inFlight: 0 },
      { url: goneUrl, outcome: { ok: false }, inFlight: 0 },
    ]);
    // The breaker is open now: the try never reaches an instance, so done() carries no outcome.
    await c.get('users', ok.path).catch(() => {});
    expect(reports.at(-1)).toEqual({ url: goneUrl, outcome: undefined, inFlight: 0 });
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
