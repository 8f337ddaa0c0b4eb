// A file of its own: importing reflect-metadata installs `Reflect.getMetadata` for the whole test file, and
// decorators.test.ts must keep proving the path without it.
import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { type AnyMethod, createMethodDecorator } from './decorators';

const Wrapped = createMethodDecorator(
  'Wrapped',
  (m) =>
    function (this: unknown, ...args: unknown[]) {
      return m.apply(this, args);
    },
);

type Legacy = (target: object, key: string | symbol, d: PropertyDescriptor) => PropertyDescriptor | undefined;
const legacy = Wrapped as unknown as Legacy;

/** What a NestJS method decorator does (`@Get`, `@UseGuards`, `SetMetadata`): metadata on `descriptor.value`. */
const onValue =
  (key: string, value: unknown): Legacy =>
  (_t, _k, d) => {
    Reflect.defineMetadata(key, value, d.value as object);
    return d;
  };
/** What `@UseGuards` does when stacked: appends to the array it reads (through the prototype chain). */
const appendOnValue =
  (key: string, value: unknown): Legacy =>
  (_t, _k, d) => {
    const previous = (Reflect.getMetadata(key, d.value as object) as unknown[] | undefined) ?? [];
    Reflect.defineMetadata(key, [...previous, value], d.value as object);
    return d;
  };
/** What a parameter decorator or emitDecoratorMetadata does: metadata on (prototype, property). */
const onProperty =
  (key: string, value: unknown): Legacy =>
  (t, k, d) => {
    Reflect.defineMetadata(key, value, t, k);
    return d;
  };

/** Applies legacy decorators as TypeScript's `__decorate` does: bottom-up, each given the previous descriptor. */
function decorate(proto: object, key: string, decorators: Legacy[]): AnyMethod {
  let d = Object.getOwnPropertyDescriptor(proto, key)!;
  for (let i = decorators.length - 1; i >= 0; i--) d = decorators[i]!(proto, key, d) ?? d;
  Object.defineProperty(proto, key, d);
  return d.value as AnyMethod;
}

function freshClass() {
  return class Controller {
    find(id: string, verbose: boolean): string {
      return `${id}:${verbose}`;
    }
  };
}

describe('createMethodDecorator keeps the metadata NestJS reads (experimentalDecorators)', () => {
  it('ours above @Get-style metadata: the keys defined on the original are copied to the wrapper', () => {
    const C = freshClass();
    const original = C.prototype.find;
    const final = decorate(C.prototype, 'find', [legacy, onValue('path', 'x'), onValue('method', 0)]);
    expect(final).not.toBe(original);
    expect(Reflect.getMetadata('path', final)).toBe('x');
    expect(Reflect.getMetadata('method', final)).toBe(0);
    expect(new C().find('a', true)).toBe('a:true');
  });

  it('ours below: metadata defined on our wrapper afterwards is there', () => {
    const C = freshClass();
    const final = decorate(C.prototype, 'find', [onValue('path', 'x'), legacy]);
    expect(Reflect.getMetadata('path', final)).toBe('x');
  });

  it('ours between two: both sets are on the final method, arrays in application order', () => {
    const C = freshClass();
    const final = decorate(C.prototype, 'find', [
      appendOnValue('guards', 'outer'),
      onValue('path', 'a'),
      legacy,
      legacy,
      appendOnValue('guards', 'inner'),
      onValue('roles', ['admin']),
    ]);
    expect(Reflect.getMetadata('path', final)).toBe('a');
    expect(Reflect.getMetadata('roles', final)).toEqual(['admin']);
    expect(Reflect.getMetadata('guards', final)).toEqual(['inner', 'outer']);
    // The original's own array was not mutated by the append above ours.
    expect(Reflect.getOwnMetadata('guards', C.prototype.find)).toEqual(['inner', 'outer']);
  });

  it('per-property metadata (design:paramtypes, route args) stays on (prototype, key) in any order', () => {
    const C = freshClass();
    decorate(C.prototype, 'find', [onProperty('design:paramtypes', [String, Boolean]), legacy, onProperty('args', 1)]);
    expect(Reflect.getMetadata('design:paramtypes', C.prototype, 'find')).toEqual([String, Boolean]);
    expect(Reflect.getMetadata('args', C.prototype, 'find')).toBe(1);
  });

  it('symbol keys are copied; metadata the wrapper defines itself wins over the original', () => {
    const key = Symbol('k');
    const Own = createMethodDecorator('Own', (m) => {
      const w = function (this: unknown, ...args: unknown[]) {
        return m.apply(this, args);
      };
      Reflect.defineMetadata('who', 'wrapper', w);
      return w;
    });
    const C = freshClass();
    const final = decorate(C.prototype, 'find', [
      Own as unknown as Legacy,
      onValue('who', 'original'),
      onValue(key as never, 1),
    ]);
    expect(Reflect.getMetadata('who', final)).toBe('wrapper');
    expect(Reflect.getMetadata(key, final)).toBe(1);
  });
});

describe('createMethodDecorator keeps metadata in standard mode too', () => {
  it('copies the own metadata of the value it replaces', () => {
    const original = function find(a: string, b: string) {
      return a + b;
    };
    Reflect.defineMetadata('path', 'x', original);
    const context = { kind: 'method', name: 'find', static: false, addInitializer() {} };
    const replaced = (Wrapped as unknown as (v: unknown, c: unknown) => AnyMethod)(original, context);
    expect(replaced).not.toBe(original);
    expect(Reflect.getOwnMetadata('path', replaced)).toBe('x');
  });
});
