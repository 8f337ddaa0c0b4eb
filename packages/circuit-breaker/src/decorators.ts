import {
  type AnyMethod,
  createMethodDecorator,
  type DecoratedMethod,
  DecoratorTargetError,
  type DualMethodDecorator,
  describeValue,
  InvalidOptionsError,
} from '@ballast/core';
import type { CircuitBreaker as Breaker } from './breaker';
import { type BulkheadOptions, bulkhead } from './bulkhead';
import { InvalidArgumentError } from './errors';
import { type FallbackOptions, type FallbackValue, fallback } from './fallback';
import type { BreakerOptions } from './options';
import type { Policy, PolicyContext } from './policy';
import { type BreakerRegistry, getBreakerRegistry } from './registry';
import { type RetryOptions, retry } from './retry';
import { type TimeoutOptions, timeout } from './timeout';

/**
 * Decorators over the plain API, importable from `@ballast/circuit-breaker/decorators` (where
 * `CircuitBreaker` is the decorator; the class lives in the main entry). Each works as a TS 5 standard
 * decorator and as a legacy `experimentalDecorators` (NestJS) one.
 *
 * **Signals.** A policy hands the function it runs an AbortSignal that aborts when the policy gives up (a
 * timeout, `close()`) or the caller's signal aborts. A decorated method receives it in its signal parameter:
 * - when the caller passes an AbortSignal as the **last argument**, it is the caller's signal, and the method
 *   gets the policy's signal in its place;
 * - with `passSignal: true`, the method's **last declared parameter** is its signal parameter, whatever the
 *   caller passed: declare it `signal?: AbortSignal` with no default value before it (the position is read from
 *   the method's `length`). The caller's value there, an AbortSignal or undefined, is the caller's signal.
 * Stacked decorators chain: each one hands the next the signal of its own policy.
 */
export interface SignalOption {
  /** Always pass the policy's signal as the method's last declared parameter (see above). Default false. */
  passSignal?: boolean;
}

/** Splits `passSignal` off a decorator's options, leaving the rest (or a non-object) to the policy to validate. */
function signalOption<T>(decorator: string, options: T): [boolean, T] {
  if (typeof options !== 'object' || options === null || !('passSignal' in options)) return [false, options];
  const { passSignal, ...rest } = options as SignalOption & Record<string, unknown>;
  if (passSignal !== undefined && typeof passSignal !== 'boolean') {
    throw new InvalidOptionsError(`@${decorator}`, [
      { path: 'passSignal', expected: 'boolean', received: describeValue(passSignal), message: 'expected boolean' },
    ]);
  }
  return [passSignal === true, rest as T];
}

/** Runs every call of the decorated method through the policy `makePolicy` returns (made on the first call). */
function through(
  name: string,
  passSignal: boolean,
  makePolicy: (info: DecoratedMethod) => Policy,
): DualMethodDecorator {
  return createMethodDecorator(name, (method: AnyMethod, info) => {
    const declared = method.length - 1;
    if (passSignal && declared < 0) {
      throw new DecoratorTargetError(name, 'a method without parameters when passSignal is set (declare `signal?`)');
    }
    let policy: Policy | undefined;
    const decorated = function (this: unknown, ...args: unknown[]) {
      if (!policy) {
        try {
          policy = makePolicy(info); // lazily: the class name is known by the first call
        } catch (error) {
          return Promise.reject(error);
        }
      }
      const at = passSignal ? declared : args.length - 1;
      const given = args[at];
      const signal = given instanceof AbortSignal ? given : undefined;
      if (passSignal && given !== undefined && !signal) {
        const where = `${info.className ?? 'anonymous'}.${info.methodName}`;
        const error = new InvalidArgumentError(where, 'signal', 'an AbortSignal or undefined', describeValue(given));
        return Promise.reject(error);
      }
      if (!passSignal && !signal) return policy.execute(() => method.apply(this, args));
      return policy.execute((ctx: PolicyContext) => {
        const withSignal = args.slice();
        withSignal[at] = ctx.signal;
        return method.apply(this, withSignal);
      }, signal);
    };
    // The method's declared arity, kept: a decorator stacked above reads it to find the signal parameter.
    Object.defineProperty(decorated, 'length', { value: method.length });
    return decorated;
  });
}

export interface CircuitBreakerDecoratorOptions extends BreakerOptions, SignalOption {
  /** Registry the breaker is created in (default: the process-wide one). */
  registry?: BreakerRegistry;
}

/**
 * `@CircuitBreaker('users')` or `@CircuitBreaker({ name: 'users', timeoutMs: 5_000 })`: the method runs through
 * the registry's breaker of that name (default name `Class.method`), shared by every instance and every method
 * that names it.
 */
export function CircuitBreaker(nameOrOptions: string | CircuitBreakerDecoratorOptions = {}): DualMethodDecorator {
  const [passSignal, given] = signalOption(
    'CircuitBreaker',
    typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions,
  );
  const { registry, ...options } = given;
  return through('CircuitBreaker', passSignal, (info): Breaker => {
    const name = options.name ?? `${info.className ?? 'anonymous'}.${info.methodName}`;
    // Only a name: "that breaker, whatever it was made with" (no options to conflict with its first use).
    const onlyName = Object.keys(options).every((k) => k === 'name');
    return (registry ?? getBreakerRegistry()).get(name, onlyName ? undefined : options);
  });
}

/** `@Retry({ maxRetries: 3 })`: retries with exponential backoff and jitter. */
export function Retry(options: RetryOptions & SignalOption = {}): DualMethodDecorator {
  const [passSignal, rest] = signalOption('Retry', options);
  const policy = retry(rest); // validated at decoration time
  return through('Retry', passSignal, () => policy);
}

/** `@Timeout(5_000)` or `@Timeout({ timeoutMs: 5_000, passSignal: true })`: rejects with TimeoutError after the limit. */
export function Timeout(options: number | (TimeoutOptions & SignalOption)): DualMethodDecorator {
  const [passSignal, rest] = signalOption('Timeout', options);
  const policy = timeout(rest);
  return through('Timeout', passSignal, () => policy);
}

// biome-ignore lint/suspicious/noExplicitAny: a method's parameters are arbitrary
type AnyArgsMethod = (...args: any[]) => unknown;

/**
 * `unknown` when fallback value `F` can stand in for what method `M` resolves to; otherwise an object type the
 * method is not, whose property names the mismatch in the compiler's message.
 */
export type FallbackFits<M extends AnyArgsMethod, F> = [F] extends [Awaited<ReturnType<M>>]
  ? unknown
  : { '@Fallback value is not assignable to the method result': Awaited<ReturnType<M>> };

/** `@Fallback(value)`: the compiler checks `value` (or what a fallback function returns) against the method's result. */
export interface FallbackDecorator<F> {
  // biome-ignore lint/suspicious/noExplicitAny: a method's parameters are arbitrary
  <This, M extends (this: This, ...args: any[]) => unknown>(
    value: M & FallbackFits<M, F>,
    context: ClassMethodDecoratorContext<This, M>,
  ): M;
  <M extends AnyArgsMethod>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M> & FallbackFits<M, F>,
  ): TypedPropertyDescriptor<M>;
}

/**
 * `@Fallback([])` or `@Fallback((error) => cached)`: answers when the method fails. The value (or the function's
 * result) must fit the method's result type — `@Fallback(0)` on a method resolving to `User[]` does not compile.
 */
export function Fallback<F>(
  value: FallbackValue<F>,
  options: FallbackOptions & SignalOption = {},
): FallbackDecorator<F> {
  const [passSignal, rest] = signalOption('Fallback', options);
  return through('Fallback', passSignal, (info) =>
    fallback(value, { name: `${info.className ?? 'anonymous'}.${info.methodName}`, ...rest }),
  ) as unknown as FallbackDecorator<F>;
}

/** `@Bulkhead(10)` or `@Bulkhead({ maxConcurrent: 10, maxQueued: 50 })`: one limit shared by every instance. */
export function Bulkhead(options: number | (BulkheadOptions & SignalOption)): DualMethodDecorator {
  const [passSignal, rest] = signalOption('Bulkhead', options);
  const policy = bulkhead(rest);
  return through('Bulkhead', passSignal, () => policy);
}
