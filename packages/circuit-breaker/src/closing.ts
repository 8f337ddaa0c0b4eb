import { describeValue } from '@ballast/core';
import { InvalidArgumentError } from './errors';

/**
 * `Symbol.asyncDispose` (`await using breaker = …`) where the runtime defines it; a registered stand-in where
 * it does not (older browsers), so a class never gets a method literally named "undefined".
 */
export const asyncDispose: typeof Symbol.asyncDispose = (Symbol.asyncDispose ??
  Symbol.for('Symbol.asyncDispose')) as typeof Symbol.asyncDispose;

/** The error for a non-function where a function must go: `CircuitBreaker.execute: fn must be a function, received number 42`. */
export function notAFunction(where: string, value: unknown, argument = 'fn'): InvalidArgumentError {
  return new InvalidArgumentError(where, argument, 'a function', describeValue(value));
}

/**
 * From now on `target.execute` rejects with `error()` and runs nothing. An own property shadows the class's
 * method, so a policy that is still open pays nothing per call for a "closed yet?" check.
 */
export function refuseCalls(target: object, error: () => Error): void {
  Object.defineProperty(target, 'execute', {
    value: () => Promise.reject(error()),
    configurable: true,
    writable: true,
    enumerable: false,
  });
}
