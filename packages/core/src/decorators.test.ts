import { describe, expect, it } from 'vitest';
import { createMethodDecorator, DecoratorTargetError } from './decorators';

const Noop = createMethodDecorator('Noop', (m) => m);

describe('createMethodDecorator argument detection', () => {
  it('rejects standard contexts other than methods', () => {
    const ctx = { kind: 'field', name: 'x', static: false, addInitializer() {} };
    expect(() => (Noop as unknown as (...a: unknown[]) => unknown)(undefined, ctx)).toThrow(DecoratorTargetError);
    expect(() => (Noop as unknown as (...a: unknown[]) => unknown)(undefined, ctx)).toThrow(
      '@Noop can only decorate methods, not a field',
    );
  });

  it('rejects legacy accessors and properties', () => {
    const call = Noop as unknown as (...a: unknown[]) => unknown;
    expect(() => call({}, 'x', { get: () => 1 })).toThrow(/not an accessor or field/);
    expect(() => call({}, 'x', undefined)).toThrow(/not a property/);
    expect(() => call({})).toThrow(/a call with 1 argument/);
  });

  it('legacy mode returns a descriptor with the wrapped method and the rest kept', () => {
    const Double = createMethodDecorator(
      'Double',
      (m) =>
        function (this: unknown, ...args: unknown[]) {
          return (m.apply(this, args) as number) * 2;
        },
    );
    const descriptor = { value: (n: number) => n + 1, writable: true, enumerable: false, configurable: true };
    const out = (Double as unknown as (...a: unknown[]) => PropertyDescriptor)({}, 'f', descriptor);
    expect(out.value(1)).toBe(4);
    expect(out).toMatchObject({ writable: true, enumerable: false, configurable: true });
  });
});
