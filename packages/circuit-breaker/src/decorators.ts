import { type AnyMethod, createMethodDecorator, type DecoratedMethod, type DualMethodDecorator } from '@ballast/core';
import type { CircuitBreaker as Breaker } from './breaker';
import { type BulkheadOptions, bulkhead } from './bulkhead';
import { type FallbackOptions, type FallbackValue, fallback } from './fallback';
import type { BreakerOptions } from './options';
import type { Policy } from './policy';
import { type BreakerRegistry, getBreakerRegistry } from './registry';
import { type RetryOptions, retry } from './retry';
import { type TimeoutOptions, timeout } from './timeout';

/**
 * Decorators over the plain API, importable from `@ballast/circuit-breaker/decorators` (where
 * `CircuitBreaker` is the decorator; the class lives in the main entry). Each works as a TS 5 standard
 * decorator and as a legacy `experimentalDecorators` (NestJS) one.
 */

/**
 * Runs every call of the decorated method through `policy`. The method's last argument is taken as the
 * caller's AbortSignal when it is one.
 */
function through(name: string, makePolicy: (info: DecoratedMethod) => Policy): DualMethodDecorator {
  return createMethodDecorator(name, (method: AnyMethod, info) => {
    let policy: Policy | undefined;
    return function (this: unknown, ...args: unknown[]) {
      policy ??= makePolicy(info); // lazily: the class name is known by the first call
      const last = args[args.length - 1];
      const signal = last instanceof AbortSignal ? last : undefined;
      return policy.execute(() => method.apply(this, args), signal);
    };
  });
}

export interface CircuitBreakerDecoratorOptions extends BreakerOptions {
  /** Registry the breaker is created in (default: the process-wide one). */
  registry?: BreakerRegistry;
}

/**
 * `@CircuitBreaker('users')` or `@CircuitBreaker({ name: 'users', timeoutMs: 5_000 })`: the method runs through
 * the registry's breaker of that name (default name `Class.method`), shared by every instance and every method
 * that names it.
 */
export function CircuitBreaker(nameOrOptions: string | CircuitBreakerDecoratorOptions = {}): DualMethodDecorator {
  const { registry, ...options } = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions;
  return through('CircuitBreaker', (info): Breaker => {
    const name = options.name ?? `${info.className ?? 'anonymous'}.${info.methodName}`;
    return (registry ?? getBreakerRegistry()).get(name, options);
  });
}

/** `@Retry({ maxRetries: 3 })`: retries with exponential backoff and jitter. */
export function Retry(options: RetryOptions = {}): DualMethodDecorator {
  const policy = retry(options); // validated at decoration time
  return through('Retry', () => policy);
}

/** `@Timeout(5_000)`: rejects with TimeoutError after the limit. */
export function Timeout(options: number | TimeoutOptions): DualMethodDecorator {
  const policy = timeout(options);
  return through('Timeout', () => policy);
}

/** `@Fallback([])` or `@Fallback((error) => cached)`: answers when the method fails. */
export function Fallback<F>(value: FallbackValue<F>, options: FallbackOptions = {}): DualMethodDecorator {
  return through('Fallback', (info) =>
    fallback(value, { name: `${info.className ?? 'anonymous'}.${info.methodName}`, ...options }),
  );
}

/** `@Bulkhead(10)` or `@Bulkhead({ maxConcurrent: 10, maxQueued: 50 })`: one limit shared by every instance. */
export function Bulkhead(options: number | BulkheadOptions): DualMethodDecorator {
  const policy = bulkhead(options);
  return through('Bulkhead', () => policy);
}
