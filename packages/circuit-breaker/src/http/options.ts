import { clockSchema, functionSchema as fn, loggerSchema, objectSchema as obj } from '@ballast/core';
import { z } from 'zod';
import type { BreakerOptions } from '../options';
import type { BreakerRegistry } from '../registry';
import type { RetryEvent } from '../retry';
import { RetryBudget, type RetryBudgetOptions } from '../retry-budget';

/** Seed 003's retry: 3 retries of idempotent requests at exactly 500 ms · 2ⁿ (500, 1000, 2000), capped at 30 s. */
export const httpRetrySchema = z
  .object({
    /** Retries after the first try of an idempotent request. */
    maxRetries: z.number().int().min(0).default(3),
    initialMs: z.number().finite().min(0).default(500),
    factor: z.number().finite().min(1).default(2),
    /** Cap on every backoff delay (not on `Retry-After`: see `maxRetryAfterMs`). */
    maxMs: z.number().finite().min(0).default(30_000),
    /**
     * The longest `Retry-After` honoured (ms): the retry waits exactly what the server said, never less; a
     * longer one gives up at once with `RetryAfterTooLongError` carrying the server's `retryAfterMs`.
     */
    maxRetryAfterMs: z.number().finite().min(0).default(60_000),
    /** `none` by default, so delays are the seed's exact 500 ms · 2ⁿ. */
    jitter: z.enum(['none', 'full', 'equal', 'decorrelated']).default('none'),
  })
  .strict()
  .refine((o) => o.maxMs >= o.initialMs, { message: 'maxMs must be >= initialMs', path: ['maxMs'] });

/** What `resolve` may answer besides a URL: the instance's URL and a completion report. */
export interface HttpTarget {
  readonly url: string;
  /** Called once when the try ends; `outcome` says whether the instance served it (see `resolve`). */
  readonly done?: (outcome?: { ok: boolean }) => void;
}

/** Breaker options for every per-service breaker; the name is always the service's. */
export type HttpBreakerOptions = Omit<BreakerOptions, 'name'>;

export const httpClientOptionsSchema = z
  .object({
    /**
     * Service name → base URL (`http://10.0.1.5:30001`), or `{ url, done }`: `done(outcome?)` is called when the
     * try ends — `{ ok: true }` for any response below 500, `{ ok: false }` for a 5xx, a timeout or a connection
     * error, no outcome when the try never reached the instance (its breaker open, the caller aborted). Called
     * before every try: discovery plugs in here (`discovery.target` counts requests in flight and ejects outliers).
     */
    resolve: fn<(service: string) => string | HttpTarget | PromiseLike<string | HttpTarget>>('resolve'),
    /** Time limit of one try, until the response headers arrive (seed 003: 10 s). */
    timeoutMs: z.number().positive().finite().default(10_000),
    /** Retry of idempotent requests; `false` never retries. */
    retry: z.union([z.literal(false), httpRetrySchema]).prefault({}),
    /** One budget for the whole client (default: retries ≤ 20 % of requests + 10/s); `false` for none. */
    // z.custom, not z.instanceof: the declaration would name ZodInstanceOf, which zod 4.0 lacks.
    retryBudget: z
      .union([
        z.literal(false),
        z.custom<RetryBudget>((v) => v instanceof RetryBudget),
        obj<RetryBudgetOptions>('retryBudget'),
      ])
      .optional(),
    /** Options of each per-service breaker (defaults: CircuitBreaker's, seed 003's); `false` for none. */
    breaker: z
      .union([
        z.literal(false),
        obj<HttpBreakerOptions>('breaker').refine((v) => !('name' in v), {
          message: 'breakers are named after their service',
        }),
      ])
      .optional(),
    /**
     * A 429 or 503 with `Retry-After` holds that service's breaker open for that long (every caller stops,
     * not only the retrying one). Default false.
     */
    retryAfterOpensBreaker: z.boolean().default(false),
    /**
     * Where the per-service breakers are listed (for `registry.stats()`), as `<service>` — or
     * `<service>#2`, … when another client already registered that name. Default: the process-wide registry
     * (`getBreakerRegistry()`); `false`: none. The client removes them on `close()`.
     */
    registry: z.union([z.literal(false), obj<BreakerRegistry>('registry')]).optional(),
    /** Opt-in cache of successful GETs (seed 000: 5 min, 100 entries). */
    cache: z
      .object({
        ttlMs: z.number().positive().finite().default(300_000),
        maxEntries: z.number().int().positive().default(100),
      })
      .strict()
      .optional(),
    /** Headers added to every request (a request's own win). */
    headers: z.record(z.string(), z.string()).optional(),
    /** Sent as `X-Service-ID` (seed 004): who is calling. */
    serviceId: z.string().min(1).optional(),
    clock: clockSchema().optional(),
    logger: loggerSchema().optional(),
    /** Default: the global `fetch`. */
    fetch: fn<typeof fetch>('fetch').optional(),
  })
  .strict();

export type HttpClientOptions = z.input<typeof httpClientOptionsSchema>;

export interface HttpRequestInit extends RequestInit {
  /** Overrides the method's idempotency (POST/PATCH are retried only with this or an `Idempotency-Key`). */
  idempotent?: boolean;
  /** This request's per-try time limit. */
  timeoutMs?: number;
}

export interface HttpRetryEvent extends RetryEvent {
  service: string;
}
