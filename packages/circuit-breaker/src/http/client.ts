import {
  AbortedError,
  type Attributes,
  type Clock,
  type Event,
  EventEmitter,
  isAbortedError,
  type Logger,
  parseOptions,
  systemClock,
} from '@ballast/core';
import type { z } from 'zod';
import { CircuitBreaker } from '../breaker';
import { asyncDispose } from '../closing';
import { isBrokenCircuitError, isRetryAfterTooLongError, TimeoutError } from '../errors';
import { componentLogger } from '../log';
import { type BreakerOptions, mergeBreakerOptions, resolveBreakerOptions } from '../options';
import type { PolicyContext } from '../policy';
import { type BreakerRegistry, getBreakerRegistry, statsOf } from '../registry';
import { type RetryEvent, type RetryPolicy, retry } from '../retry';
import { RetryBudget } from '../retry-budget';
import { isBodyInit, readText } from './body';
import { ResponseCache } from './cache';
import {
  HttpClientClosedError,
  HttpStatusError,
  InvalidResponseError,
  isHttpStatusError,
  MAX_ERROR_BODY_CHARS,
  truncateBody,
} from './errors';
import {
  type HttpBreakerOptions,
  type HttpClientOptions,
  type HttpRequestInit,
  type HttpRetryEvent,
  type HttpTarget,
  httpClientOptionsSchema,
  type httpRetrySchema,
} from './options';
import {
  describeFailure,
  isBreakerFailure,
  isIdempotentRequest,
  isRetryableError,
  normalizeMethod,
  parseRetryAfter,
} from './semantics';
import { abortError, checkTimeout, joinUrl, nested, retryCounter } from './support';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const noop = () => {};

/**
 * A resilient HTTP client over `fetch` (seed 003's API gateway proxy, seed 004's EnhancedHttpClient):
 * services by name, one breaker per service, retries of idempotent requests with backoff and `Retry-After`,
 * one retry budget for the whole client, a per-try timeout, `X-Request-ID`/`X-Service-ID` headers and an
 * optional GET cache.
 */
/**
 * What a failed try says about the instance: a status below 500 is an answer (ok); a 5xx, a timeout or a
 * connection error is a failure; an open breaker or the caller's abort never reached it (no outcome).
 */
function tryOutcome(error: unknown, signal: AbortSignal): { ok: boolean } | undefined {
  if (signal.aborted || isBrokenCircuitError(error) || isAbortedError(error)) return undefined;
  if (isHttpStatusError(error)) return { ok: error.status < 500 };
  return { ok: false };
}

export class HttpClient {
  readonly #resolve: (service: string) => string | HttpTarget | PromiseLike<string | HttpTarget>;
  readonly #fetch: typeof fetch;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #retry: z.output<typeof httpRetrySchema> | false;
  readonly #breakerOptions: HttpBreakerOptions | false;
  readonly #defaultHeaders: Record<string, string>;
  readonly #serviceId: string | undefined;
  readonly #cache: ResponseCache | undefined;
  /** The client-wide retry budget, when there is one. */
  readonly budget: RetryBudget | undefined;
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #registry: BreakerRegistry | undefined;
  /** Names this client's breakers got in the registry. */
  readonly #registered: string[] = [];
  readonly #retryAfterOpens: boolean;
  readonly #policies = new Map<string, RetryPolicy>();
  readonly #once: RetryPolicy;
  readonly #inFlight = new Set<AbortController>();
  readonly #retried = new EventEmitter<HttpRetryEvent>('retry');
  #closed = false;

  /** Before each retry (after its response body was released). */
  readonly onRetry: Event<HttpRetryEvent> = this.#retried.event;

  constructor(options: HttpClientOptions) {
    const o = parseOptions(httpClientOptionsSchema, options, 'createHttpClient');
    this.#resolve = o.resolve;
    this.#fetch = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#clock = o.clock ?? systemClock;
    this.#logger = o.logger;
    this.#log = componentLogger(o.logger, { component: 'http-client' });
    this.#timeoutMs = o.timeoutMs;
    this.#retry = o.retry;
    this.#defaultHeaders = o.headers ?? {};
    this.#serviceId = o.serviceId;
    this.#cache = o.cache ? new ResponseCache(o.cache.ttlMs, o.cache.maxEntries, this.#clock) : undefined;
    this.#breakerOptions = o.breaker === false ? false : (o.breaker ?? {});
    this.#registry = o.registry === false ? undefined : (o.registry ?? getBreakerRegistry());
    this.#retryAfterOpens = o.retryAfterOpensBreaker;
    if (this.#breakerOptions) {
      const checked = { ...this.#breakerSettings(), name: 'service' };
      nested('breaker', () => resolveBreakerOptions(checked, 'createHttpClient'));
    }
    const b = o.retryBudget;
    this.budget =
      b === false || o.retry === false
        ? undefined
        : b instanceof RetryBudget
          ? b
          : nested('retryBudget', () => new RetryBudget({ ...b, clock: b?.clock ?? this.#clock }));
    this.#once = retry({
      maxRetries: 0,
      backoff: false,
      clock: this.#clock,
      ...(this.budget && { budget: this.budget }),
    });
  }

  /**
   * Sends `init` to `path` on `service`'s base URL and returns the `Response`, whatever its status (as
   * `fetch` does) once retries are over. Rejects with `BrokenCircuitError` when the service's breaker is
   * open, `TimeoutError` when the last try timed out, `AbortedError` when `init.signal` aborted, or the
   * network error of the last try.
   */
  async request(service: string, path: string, init: HttpRequestInit = {}): Promise<Response> {
    if (this.#closed) throw new HttpClientClosedError();
    const { idempotent, timeoutMs, signal: callerSignal, ...rest } = init;
    if (callerSignal?.aborted) throw new AbortedError(undefined, { cause: callerSignal.reason });
    const perTry = timeoutMs === undefined ? this.#timeoutMs : checkTimeout(timeoutMs);
    const method = normalizeMethod(rest.method);
    const headers = this.#headers(rest.headers);
    const tryInit: RequestInit = { ...rest, method, headers };

    const cacheKey = this.#cache && method === 'GET' ? ResponseCache.key(method, service, path, headers) : undefined;
    if (cacheKey !== undefined && rest.cache !== 'no-store' && rest.cache !== 'no-cache' && rest.cache !== 'reload') {
      const hit = this.#cache!.get(cacheKey);
      if (hit) return hit;
    }

    const replayable = !(rest.body instanceof ReadableStream);
    const policy =
      this.#retry !== false && replayable && isIdempotentRequest(method, headers, idempotent)
        ? this.#retryPolicy(service, this.#retry)
        : this.#once;

    // One controller per request: the caller's signal and close() both abort it, backoff waits included.
    const controller = new AbortController();
    const onCallerAbort = () => controller.abort(callerSignal!.reason);
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    this.#inFlight.add(controller);
    let response: Response;
    try {
      response = await policy.execute((ctx) => this.#try(service, path, tryInit, perTry, ctx), controller.signal);
    } catch (error) {
      if (isHttpStatusError(error) && error.response) return error.response;
      if (isRetryAfterTooLongError(error) && isHttpStatusError(error.cause)) {
        // Nobody reads the response it came with: release its connection.
        error.cause.response?.body?.cancel().catch(noop);
      }
      throw error;
    } finally {
      callerSignal?.removeEventListener('abort', onCallerAbort);
      this.#inFlight.delete(controller);
    }
    if (cacheKey !== undefined && response.ok && rest.cache !== 'no-store') {
      return this.#cache!.store(cacheKey, service, response);
    }
    if (this.#cache && response.ok && !SAFE_METHODS.has(method)) this.#cache.clear(service);
    return response;
  }

  /** GET, parsed as JSON. Rejects with `HttpStatusError` for a non-2xx status. */
  get<T = unknown>(service: string, path: string, init?: HttpRequestInit): Promise<T> {
    return this.#json<T>('GET', service, path, undefined, init);
  }

  /** POST `body` (JSON unless it is already a body: string, Blob, FormData, …), parsed as JSON. */
  post<T = unknown>(service: string, path: string, body?: unknown, init?: HttpRequestInit): Promise<T> {
    return this.#json<T>('POST', service, path, body, init);
  }

  put<T = unknown>(service: string, path: string, body?: unknown, init?: HttpRequestInit): Promise<T> {
    return this.#json<T>('PUT', service, path, body, init);
  }

  patch<T = unknown>(service: string, path: string, body?: unknown, init?: HttpRequestInit): Promise<T> {
    return this.#json<T>('PATCH', service, path, body, init);
  }

  delete<T = unknown>(service: string, path: string, body?: unknown, init?: HttpRequestInit): Promise<T> {
    return this.#json<T>('DELETE', service, path, body, init);
  }

  /** The per-service breakers by service name (for a stats endpoint: `statsOf(b)`, `registry.add(b)`). */
  breakers(): ReadonlyMap<string, CircuitBreaker> {
    return new Map(this.#breakers);
  }

  /** Forgets cached GET responses: all, or one service's. */
  clearCache(service?: string): void {
    this.#cache?.clear(service);
  }

  /**
   * Shuts the client down (core's `Closeable`): requests in flight are aborted (their backoff waits too) and
   * reject with `AbortedError` caused by `HttpClientClosedError`; the breakers and retry policies close, so no
   * timer is left; later requests reject with `HttpClientClosedError`. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const reason = new HttpClientClosedError();
    for (const c of this.#inFlight) c.abort(reason);
    this.#inFlight.clear();
    const policies = [...this.#breakers.values(), ...this.#policies.values(), this.#once];
    for (const name of this.#registered.splice(0)) {
      try {
        this.#registry?.delete(name);
      } catch {
        // A closed registry has let go of them already.
      }
    }
    this.#breakers.clear();
    this.#policies.clear();
    this.#cache?.clear();
    this.#retried.clear();
    await Promise.all(policies.map((p) => p.close()));
  }

  /** Alias of `close()`. */
  dispose(): Promise<void> {
    return this.close();
  }

  [asyncDispose](): Promise<void> {
    return this.close();
  }

  // ── one try ───────────────────────────────────────────────────────────────────────────────────────────

  async #try(
    service: string,
    path: string,
    init: RequestInit,
    timeoutMs: number,
    ctx: PolicyContext,
  ): Promise<Response> {
    const target = await this.#resolve(service);
    if (typeof target === 'string') return this.#tryAt(service, joinUrl(target, path), init, timeoutMs, ctx);
    const done = target.done;
    let outcome: { ok: boolean } | undefined;
    try {
      const response = await this.#tryAt(service, joinUrl(target.url, path), init, timeoutMs, ctx);
      outcome = { ok: true };
      return response;
    } catch (error) {
      outcome = tryOutcome(error, ctx.signal);
      throw error;
    } finally {
      done?.(outcome);
    }
  }

  async #tryAt(
    service: string,
    url: string,
    init: RequestInit,
    timeoutMs: number,
    ctx: PolicyContext,
  ): Promise<Response> {
    const breaker = this.#breakerFor(service);
    if (!breaker) return this.#send(service, url, init, timeoutMs, ctx.signal);
    if (!this.#retryAfterOpens) {
      return breaker.execute(({ signal }) => this.#send(service, url, init, timeoutMs, signal), ctx.signal);
    }
    try {
      return await breaker.execute(({ signal }) => this.#send(service, url, init, timeoutMs, signal), ctx.signal);
    } catch (error) {
      if (
        isHttpStatusError(error) &&
        (error.status === 429 || error.status === 503) &&
        error.retryAfterMs !== undefined &&
        error.retryAfterMs > 0
      ) {
        breaker.openFor(error.retryAfterMs, 'retry-after');
      }
      throw error;
    }
  }

  /**
   * One `fetch` under the per-try timeout. A status ≥ 400 is thrown as `HttpStatusError` (response attached)
   * so the breaker's `isFailure` and the retry policy see it; `request()` maps it back to the response.
   */
  async #send(
    service: string,
    url: string,
    init: RequestInit,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<Response> {
    if (signal.aborted) throw abortError(signal);
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut: TimeoutError | undefined;
    const timer = this.#clock.setTimeout(() => {
      timedOut = new TimeoutError(timeoutMs, `${init.method} ${url}`);
      controller.abort(timedOut);
    }, timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(url, { ...init, signal: controller.signal });
    } catch (error) {
      if (timedOut) throw timedOut;
      if (signal.aborted) throw abortError(signal);
      throw error;
    } finally {
      this.#clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted) {
      // Nobody will read it: release the connection.
      response.body?.cancel().catch(noop);
      throw abortError(signal);
    }
    if (response.status < 400) return response;
    throw new HttpStatusError({
      service,
      method: init.method ?? 'GET',
      url,
      status: response.status,
      statusText: response.statusText,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), this.#clock.now()),
      response,
    });
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────────────────────

  /** The client's defaults under the `breaker` option (in either spelling, opossum's included). */
  #breakerSettings(): BreakerOptions {
    // The client times each try itself (per-request `timeoutMs`); the breaker records its TimeoutErrors.
    const defaults: BreakerOptions = {
      timeoutMs: false,
      clock: this.#clock,
      isFailure: isBreakerFailure,
      ...(this.#logger && { logger: this.#logger }),
    };
    return mergeBreakerOptions(defaults, this.#breakerOptions || {});
  }

  #breakerFor(service: string): CircuitBreaker | undefined {
    if (this.#breakerOptions === false) return undefined;
    let b = this.#breakers.get(service);
    if (!b) {
      b = new CircuitBreaker({ ...this.#breakerSettings(), name: service });
      this.#breakers.set(service, b);
      this.#register(b);
    }
    return b;
  }

  /** Lists the breaker in the registry (under a free name) so `registry.stats()` shows it without an `add`. */
  #register(b: CircuitBreaker): void {
    const registry = this.#registry;
    if (!registry) return;
    let name = b.name;
    for (let n = 2; registry.has(name); n++) name = `${b.name}#${n}`;
    try {
      registry.add({ name, stats: () => statsOf(b) });
      this.#registered.push(name);
    } catch (error) {
      // A closed registry: the client still works, its breakers are just not listed.
      this.#log.warn({ err: error, breaker: b.name }, 'could not list the breaker in the registry');
    }
  }

  #retryPolicy(service: string, r: z.output<typeof httpRetrySchema>): RetryPolicy {
    let p = this.#policies.get(service);
    if (!p) {
      p = retry({
        maxRetries: r.maxRetries,
        backoff: { initialMs: r.initialMs, factor: r.factor, maxMs: r.maxMs, jitter: r.jitter },
        retryOn: isRetryableError,
        // The server's time as it is (never shortened); beyond maxRetryAfterMs the retry gives up, typed.
        delayFor: (error) => (isHttpStatusError(error) ? error.retryAfterMs : undefined),
        maxRetryAfterMs: r.maxRetryAfterMs,
        clock: this.#clock,
        ...(this.budget && { budget: this.budget }),
      });
      p.onRetry((event) => this.#onRetry(service, event));
      this.#policies.set(service, p);
    }
    return p;
  }

  #onRetry(service: string, event: RetryEvent): void {
    const { error, attempt, maxRetries, delayMs } = event;
    // The failed response will not be read: release its connection (undici keeps the socket otherwise).
    if (isHttpStatusError(error)) error.response?.body?.cancel().catch(noop);
    this.#log.warn(
      { service, attempt, maxRetries, delayMs },
      `Retry ${attempt}/${maxRetries} for ${service} after ${delayMs}ms (error: ${describeFailure(error)})`,
    );
    retryCounter().add(1, { service, attempt: String(attempt) } satisfies Attributes);
    if (this.#retried.size > 0) this.#retried.emit({ ...event, service });
  }

  #headers(init: HeadersInit | undefined): Headers {
    const headers = new Headers(this.#defaultHeaders);
    if (init) {
      new Headers(init).forEach((v, k) => {
        headers.set(k, v);
      });
    }
    if (!headers.has('x-request-id')) headers.set('X-Request-ID', crypto.randomUUID());
    if (this.#serviceId !== undefined && !headers.has('x-service-id')) headers.set('X-Service-ID', this.#serviceId);
    return headers;
  }

  async #json<T>(method: string, service: string, path: string, body: unknown, init: HttpRequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    if (!headers.has('accept')) headers.set('accept', 'application/json');
    const request: HttpRequestInit = { ...init, method, headers };
    if (body !== undefined) {
      if (isBodyInit(body)) {
        request.body = body;
      } else {
        request.body = JSON.stringify(body);
        if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      }
    }
    const response = await this.request(service, path, request);
    const url = response.url || `${service}${path}`;
    const text = await readText(response, response.ok ? Number.POSITIVE_INFINITY : MAX_ERROR_BODY_CHARS, {
      signal: init.signal ?? undefined,
      clock: this.#clock,
      timeoutMs: init.timeoutMs ?? this.#timeoutMs,
      what: `reading ${method} ${url}`,
    });
    if (!response.ok) {
      throw new HttpStatusError({
        service,
        method,
        url,
        status: response.status,
        statusText: response.statusText,
        body: truncateBody(text),
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), this.#clock.now()),
      });
    }
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new InvalidResponseError(service, url, error);
    }
  }
}

/** A resilient HTTP client; see `HttpClient`. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  return new HttpClient(options);
}
