/**
 * A distributed rate limit shared by every instance of a service: GCRA in one Lua script, so each
 * decision is one atomic round trip and the state is one small key per limited client that expires when
 * the client goes idle. Time is Redis's own (`TIME`), so app instances with skewed clocks agree.
 */
import {
  type Clock,
  createKeyBuilder,
  defineScript,
  guardRedis,
  InvalidKeyError,
  type KeyBuilder,
  parseOptions,
  runScript,
  type ScriptClient,
  throwIfAborted,
} from '@ballast/core';
import { z } from 'zod';
import { asyncDispose, notAFunction } from './closing';
import { PolicyClosedError, RateLimitedError } from './errors';
import gcraSource from './lua/gcra.lua';
import { contextOf, type Policy, type PolicyFn } from './policy';

const gcraScript = defineScript('gcra', gcraSource);

export interface RedisRateLimitOptions {
  /** An ioredis client or Cluster (anything with `evalsha` and `eval`). */
  redis: ScriptClient;
  /** The limiter's name: the keys' `{hash tag}` and the name in `RateLimitedError`. Required. */
  name: string;
  /** Requests allowed per `periodMs` (an integer > 0). Required. */
  limit: number;
  /** Default 1000: `limit` is then a per-second rate. */
  periodMs?: number;
  /** Bucket capacity: how many requests may come back to back after an idle spell (integer >= 1). Default `limit`. */
  burst?: number;
  /** First segment of every key. Default `'ballast'`. */
  prefix?: string;
  /**
   * Replaces Redis's `TIME` with `clock.now()`. For tests only (a `FakeClock` makes refill deterministic);
   * leave it unset in production so every instance shares the server's clock.
   */
  clock?: Clock;
}

const isScriptClient = (value: unknown): value is ScriptClient =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Partial<ScriptClient>).evalsha === 'function' &&
  typeof (value as Partial<ScriptClient>).eval === 'function';

const isClock = (value: unknown): value is Clock =>
  typeof value === 'object' && value !== null && typeof (value as Partial<Clock>).now === 'function';

export const redisRateLimitOptionsSchema = z
  .object({
    redis: z.custom<ScriptClient>(isScriptClient, { message: 'a Redis client (an object with evalsha and eval)' }),
    name: z.string().min(1),
    limit: z.number().int().positive(),
    periodMs: z.number().positive().default(1000),
    burst: z.number().int().min(1).optional(),
    prefix: z.string().min(1).default('ballast'),
    clock: z.custom<Clock>(isClock, { message: 'a Clock (an object with now())' }).optional(),
  })
  .strict()
  // Only judged once both fields are valid on their own, so a bad field is reported once.
  .refine((o) => !(o.periodMs > 0 && o.limit > 0) || o.periodMs / o.limit >= 0.001, {
    path: ['limit'],
    message: 'at most 1000 requests per ms (periodMs / limit must be >= 0.001)',
  });

export interface RedisRateLimitDecision {
  readonly allowed: boolean;
  /** Whole tokens left after this decision. */
  readonly remaining: number;
  /** 0 when allowed; otherwise how long until `cost` tokens are available. */
  readonly retryAfterMs: number;
  /** How long until the bucket is full again (and its key expires). */
  readonly resetAfterMs: number;
}

type GcraReply = [allowed: number, remaining: number, retryAfterMs: number, resetAfterMs: number];

export class RedisRateLimiter implements Policy {
  readonly name: string;
  readonly limit: number;
  readonly periodMs: number;
  readonly burst: number;
  /** Where this limiter's keys live: `<prefix>:ratelimit:{<name>}:<key>`. */
  readonly keys: KeyBuilder;
  readonly #redis: ScriptClient;
  readonly #clock: Clock | undefined;
  // Sent as ARGV: precomputed once, as strings (ioredis would stringify them on every call anyway).
  readonly #emissionMs: string;
  readonly #toleranceMs: string;
  #closed = false;

  constructor(options: RedisRateLimitOptions) {
    const o = parseOptions(redisRateLimitOptionsSchema, options, 'redisRateLimit');
    this.name = o.name;
    this.limit = o.limit;
    this.periodMs = o.periodMs;
    this.burst = o.burst ?? o.limit;
    this.keys = createKeyBuilder({ prefix: o.prefix, scope: 'ratelimit', tag: o.name });
    // Bounded and typed (core's guardRedis, default command timeout): Redis down is a BackendUnavailableError.
    this.#redis = guardRedis(o.redis);
    this.#clock = o.clock;
    const emission = o.periodMs / o.limit;
    this.#emissionMs = String(emission);
    this.#toleranceMs = String(emission * this.burst);
  }

  /**
   * Takes `cost` tokens from `key`'s bucket if they are all available (one atomic round trip); takes
   * nothing otherwise. `key` lets one limiter limit each client, user or IP separately.
   * @throws RangeError when `cost` is not an integer from 1 to `burst` (it could never be granted);
   *   PolicyClosedError after `close()`.
   */
  async check(key = 'default', cost = 1): Promise<RedisRateLimitDecision> {
    if (this.#closed) throw new PolicyClosedError('Rate limit', this.name);
    if (typeof key !== 'string' || key.length === 0) {
      throw new InvalidKeyError(`redisRateLimit "${this.name}": key must be a non-empty string`);
    }
    if (!Number.isInteger(cost) || cost < 1 || cost > this.burst) {
      throw new RangeError(
        `redisRateLimit "${this.name}": cost must be an integer from 1 to burst (${this.burst}), got ${cost}`,
      );
    }
    const args = [this.#emissionMs, this.#toleranceMs, cost];
    if (this.#clock) args.push(this.#clock.now());
    const [allowed, remaining, retryAfterMs, resetAfterMs] = await runScript<GcraReply>(
      this.#redis,
      gcraScript,
      [this.keys.key(key)],
      args,
    );
    return { allowed: allowed === 1, remaining, retryAfterMs, resetAfterMs };
  }

  /** Runs `fn` under the `'default'` key; rejects with `RateLimitedError` without calling it when refused. */
  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    return this.#run('default', fn, signal);
  }

  /** A policy bound to one key of this limiter, e.g. `limiter.limitFor(clientIp).execute(handler)`. */
  limitFor(key: string): Policy {
    if (typeof key !== 'string' || key.length === 0) {
      throw new InvalidKeyError(`redisRateLimit "${this.name}": key must be a non-empty string`);
    }
    return { execute: (fn, signal) => this.#run(key, fn, signal) };
  }

  /**
   * Shuts the limiter: later decisions and calls are refused with `PolicyClosedError` (one in flight
   * completes). The Redis client is the caller's and stays open.
   */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** Alias of `close()`. */
  dispose(): Promise<void> {
    return this.close();
  }

  [asyncDispose](): Promise<void> {
    return this.close();
  }

  async #run<T>(key: string, fn: PolicyFn<T>, signal: AbortSignal | undefined): Promise<T> {
    if (typeof fn !== 'function') throw notAFunction('RedisRateLimiter.execute', fn);
    throwIfAborted(signal);
    const decision = await this.check(key);
    if (!decision.allowed) throw new RateLimitedError(this.name, decision.retryAfterMs);
    throwIfAborted(signal); // aborted during the round trip: the token is spent, but fn is not started
    return await fn(contextOf(signal));
  }
}

/**
 * A rate limit shared through Redis.
 *
 * @example
 * const limiter = redisRateLimit({ redis, name: 'api', limit: 100 }); // 100 requests a second per client
 * const { allowed, retryAfterMs } = await limiter.check(req.ip);
 * await limiter.limitFor(req.ip).execute(() => handle(req)); // or throw RateLimitedError
 */
export function redisRateLimit(options: RedisRateLimitOptions): RedisRateLimiter {
  return new RedisRateLimiter(options);
}
