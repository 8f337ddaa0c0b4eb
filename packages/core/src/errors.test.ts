import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  BallastError,
  errorGuard,
  InvalidOptionsError,
  isAbortedError,
  isBallastError,
  isInvalidOptionsError,
  throwIfAborted,
} from './errors';

describe('BallastError', () => {
  it('carries code, cause and its subclass name', () => {
    const cause = new Error('socket closed');
    const err = new BallastError('REDIS_DOWN', 'redis is down', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('REDIS_DOWN');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('BallastError');
    expect(new AbortedError().name).toBe('AbortedError');
  });

  it("names itself without the bundler's `_` prefix (esbuild's `var X = class _X`)", () => {
    // What tsup emits for a class that refers to itself in its body.
    const Bundled = class _TimeoutError extends BallastError {
      static readonly code = 'TIMEOUT';
      constructor() {
        super(_TimeoutError.code, 'late');
      }
    };
    expect(new Bundled().name).toBe('TimeoutError');
    const _ = class _ extends BallastError {};
    expect(new _('X', 'x').name).toBe('_');
  });

  it('isBallastError is true for ours, false for others, and survives a duplicated class', () => {
    expect(isBallastError(new BallastError('X', 'x'))).toBe(true);
    expect(isBallastError(new Error('x'))).toBe(false);
    expect(isBallastError(null)).toBe(false);
    expect(isBallastError({ code: 'X' })).toBe(false);
    // A second copy of the package would define its own class but use the same registered symbol.
    const foreign = Object.assign(new Error('x'), { code: 'X', [Symbol.for('@ballast/core/BallastError')]: true });
    expect(isBallastError(foreign)).toBe(true);
  });

  it('guards match by code', () => {
    const isFoo = errorGuard('FOO');
    expect(isFoo(new BallastError('FOO', 'foo'))).toBe(true);
    expect(isFoo(new BallastError('BAR', 'bar'))).toBe(false);
    expect(isInvalidOptionsError(new InvalidOptionsError('x', []))).toBe(true);
    expect(isAbortedError(new InvalidOptionsError('x', []))).toBe(false);
  });

  it('throwIfAborted throws AbortedError with the reason as cause', () => {
    expect(() => throwIfAborted(undefined)).not.toThrow();
    const c = new AbortController();
    expect(() => throwIfAborted(c.signal)).not.toThrow();
    c.abort('stop');
    try {
      throwIfAborted(c.signal);
      expect.unreachable();
    } catch (e) {
      expect(isAbortedError(e)).toBe(true);
      expect((e as AbortedError).cause).toBe('stop');
    }
  });
});
