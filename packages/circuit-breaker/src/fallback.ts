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
  readonly onFallback = this.#fellBack.event;

  constructor(value: FallbackValue<F>, input: FallbackOptions = {}) {
    const options = parseOptions(fallbackSchema, input, 'fallback') as FallbackOptions;
    this.#value = value;
    this.#on = options.on;
    this.#name = options.name ?? 'fallback';
    this.#log = componentLogger(options.logger, { component: 'fallback', name: this.#name });
  }

  /** The fallback value stands in for `T`: it must fit every call this policy protects. */
  async execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function') throw notAFunction('FallbackPolicy.execute', fn);
    const ctx = contextOf(signal);
    try {
      return await fn(ctx);
    } catch (error) {
      if (this.#on && !this.#on(error)) throw error;
      this.#log.warn({ err: error }, `⚠️ Circuit breaker FALLBACK triggered for ${this.#name}`);
      this.#fellBack.emit({ name: this.#name, error });
      const v = this.#value;
      const alt =
        typeof v === 'function' ? await (v as (e: unknown, c: PolicyContext) => F | PromiseLike<F>)(error, ctx) : v;
      return alt as unknown as T;
    }
  }
}

export function fallback<F>(value: FallbackValue<F>, options: FallbackOptions = {}): FallbackPolicy<F> {
  return new FallbackPolicy(value, options);
}
