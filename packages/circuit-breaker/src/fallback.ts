import { EventEmitter, functionSchema, type Logger, loggerSchema, parseOptions } from '@ballast/core';
import { z } from 'zod';
import { notAFunction } from './closing';
import { componentLogger } from './log';
import { contextOf, type Policy, type PolicyContext, type PolicyFn } from './policy';

export interface FallbackOptions {
  /** Which errors fall back (default: all). Others are rethrown. */
  on?: (error: unknown) => boolean;
  /** Shown in the log line: `⚠️ Circuit breaker FALLBACK triggered for <name>`. */
  name?: string;
  logger?: Logger;
}

const fallbackSchema = z
  .object({
    on: functionSchema<(error: unknown) => boolean>('on').optional(),
    name: z.string().min(1).optional(),
    logger: loggerSchema().optional(),
  })
  .strict();

export type FallbackValue<T> = T | ((error: unknown, context: PolicyContext) => T | PromiseLike<T>);

/**
 * When `fn` fails, answers with a value or what a function computes from the error (a cached copy, a
 * default, a degraded response). Note: a fallback value's type must fit every call the policy protects.
 */
export class FallbackPolicy<F> implements Policy {
  readonly #value: FallbackValue<F>;
  readonly #on: ((error: unknown) => boolean) | undefined;
  readonly #name: string;
  readonly #log: Logger;
  readonly #fellBack = new EventEmitter<{ name: string; error: unknown }>('fallback');
  /** Falling back since the last success: logged once when it starts and once when it ends. */
  #active = false;
  readonly onFallback = this.#fellBack.event;

  constructor(value: FallbackValue<F>, input: FallbackOptions = {}) {
    const options = parseOptions(fallbackSchema, input, 'fallback') as FallbackOptions;
    this.#value = value;
    this.#on = options.on;
    this.#name = options.name ?? 'fallback';
    // `fallback`, not `name`: pino's own `name` (the logger's) is on every line, and a JSON key twice is invalid.
    this.#log = componentLogger(options.logger, { component: 'fallback', fallback: this.#name });
  }

  /** The fallback value stands in for `T`: it must fit every call this policy protects. */
  async execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function') throw notAFunction('FallbackPolicy.execute', fn);
    const ctx = contextOf(signal);
    try {
      const result = await fn(ctx);
      if (this.#active) {
        this.#active = false;
        this.#log.info(`Circuit breaker FALLBACK no longer needed for ${this.#name}`);
      }
      return result;
    } catch (error) {
      if (this.#on && !this.#on(error)) throw error;
      this.#logFallback(error);
      this.#fellBack.emit({ name: this.#name, error });
      const v = this.#value;
      const alt =
        typeof v === 'function' ? await (v as (e: unknown, c: PolicyContext) => F | PromiseLike<F>)(error, ctx) : v;
      return alt as unknown as T;
    }
  }

  /**
   * One short warning when falling back starts (no stack: the error is the caller's, and an open breaker
   * rejects every call the same way), debug lines while it lasts: never a warning per call.
   */
  #logFallback(error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    const fields: Record<string, unknown> = { reason: reason.length > 200 ? `${reason.slice(0, 200)}…` : reason };
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string') fields.code = code;
    if (this.#active) {
      this.#log.debug(fields, `fallback answered for ${this.#name}`);
      return;
    }
    this.#active = true;
    this.#log.warn(fields, `⚠️ Circuit breaker FALLBACK triggered for ${this.#name}`);
  }
}

export function fallback<F>(value: FallbackValue<F>, options: FallbackOptions = {}): FallbackPolicy<F> {
  return new FallbackPolicy(value, options);
}
