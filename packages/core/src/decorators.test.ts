import { describe, expect, it } from 'vitest';
import { type AnyMethod, createMethodDecorator, DecoratorTargetError } from './decorators';

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

describe('createMethodDecorator keeps what identifies the method', () => {
  const Wrapped = createMethodDecorator(
    'Wrapped',
    (m) =>
      function (this: unknown, ...args: unknown[]) {
        return m.apply(this, args);
      },
  );
  const original = function find(_id: string, _verbose: boolean, _signal?: AbortSignal) {
    return 1;
  };

  it('name and length, in both modes (a decorator stacked above reads `length`)', () => {
    const standard = (Wrapped as unknown as (v: unknown, c: unknown) => AnyMethod)(original, {
      kind: 'method',
      name: 'find',
      static: false,
      addInitializer() {},
    });
    const legacy = (Wrapped as unknown as (...a: unknown[]) => PropertyDescriptor)({}, 'find', { value: original })
      .value as AnyMethod;
    for (const replaced of [standard, legacy]) {
      expect(replaced).not.toBe(original);
      expect(replaced.name).toBe('find');
      expect(replaced.length).toBe(3);
    }
  });

  it('own symbol-keyed marks of the original (how Ballast marks handlers) carry over; the wrapper’s own win', () => {
    const mark = Symbol('mark');
    const theirs = Symbol('theirs');
    const marked = Object.assign(function f() {}, { [mark]: 'registered', [theirs]: 'original' });
    const Marks = createMethodDecorator('Marks', (m) =>
      Object.assign(
        function (this: unknown, ...args: unknown[]) {
          return m.apply(this, args);
        },
        { [theirs]: 'wrapper' },
      ),
    );
    const replaced = (Marks as unknown as (...a: unknown[]) => PropertyDescriptor)({}, 'f', { value: marked })
      .value as Record<symbol, unknown>;
    expect(replaced[mark]).toBe('registered');
    expect(replaced[theirs]).toBe('wrapper');
  });

  it('without reflect-metadata installed, wrapping works and needs no Reflect.getMetadata', () => {
    expect((Reflect as { getMetadata?: unknown }).getMetadata).toBeUndefined();
    const replaced = (Wrapped as unknown as (...a: unknown[]) => PropertyDescriptor)({}, 'find', { value: original })
      .value as AnyMethod;
    expect(replaced('a', true)).toBe(1);
  });
});

describe('createMethodDecorator (standard) names the class that declares the method', () => {
  type Initializer = (this: unknown) => void;
  const standard = (d: unknown, value: AnyMethod, inits: Initializer[]) =>
    (d as (v: unknown, c: unknown) => AnyMethod)(value, {
      kind: 'method',
      name: 'm',
      static: false,
      addInitializer: (f: Initializer) => inits.push(f),
    });

  it('an inner wrapper of a stacked pair, when a subclass overriding the method is instantiated first', () => {
    const named: string[] = [];
    const Named = createMethodDecorator(
      'Named',
      (m, info) =>
        function (this: unknown, ...args: unknown[]) {
          named.push(`${info.className}`);
          return m.apply(this, args);
        },
    );
    // As TypeScript emits `@Named @Named m()` in A and `@Named override m()` in B: decorators applied bottom-up,
    // their initializers run by each constructor of the chain on the instance being built.
    const initsA: Initializer[] = [];
    class A {
      constructor() {
        for (const f of initsA) f.call(this);
      }
      m(): string {
        return 'a';
      }
    }
    A.prototype.m = standard(Named, standard(Named, A.prototype.m, initsA), initsA);
    const initsB: Initializer[] = [];
    class B extends A {
      constructor() {
        super();
        for (const f of initsB) f.call(this);
      }
      override m(): string {
        return super.m();
      }
    }
    B.prototype.m = standard(Named, B.prototype.m, initsB);

    expect(new B().m()).toBe('a');
    // Before: the inner wrapper of A's pair (not on A.prototype, the outer one is) took B, instantiated first.
    expect(named).toEqual(['B', 'A', 'A']);
  });
});
