import { BallastError } from './errors';
import { processSlot } from './process-wide';

// Decorators must accept any method of any class: `any` is the honest type at this boundary.
// biome-ignore lint/suspicious/noExplicitAny: method signatures are arbitrary
export type AnyMethod = (this: any, ...args: any[]) => any;

/** What a wrapper learns about the method it decorates. */
export interface DecoratedMethod {
  /** The method's name (`String(symbol)` for symbol-named methods). */
  readonly methodName: string;
  /**
   * The class name. Legacy decorators know it at decoration time; standard decorators learn it when the
   * class is defined (static methods) or first instantiated (instance methods) — always before the method's
   * first call, so read it lazily inside the wrapped function, not when wrapping.
   */
  readonly className: string | undefined;
  readonly isStatic: boolean;
  /** Which decorator protocol applied it. */
  readonly mode: 'standard' | 'legacy';
}

/**
 * A method decorator usable both as a TS 5 standard decorator `(value, context)` and as an
 * `experimentalDecorators` (NestJS) decorator `(target, key, descriptor)`.
 */
export interface DualMethodDecorator {
  <T extends AnyMethod>(value: T, context: ClassMethodDecoratorContext<unknown, T>): T;
  (
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<AnyMethod>,
  ): TypedPropertyDescriptor<AnyMethod>;
}

export class DecoratorTargetError extends BallastError {
  static readonly code = 'DECORATOR_TARGET';
  constructor(decorator: string, what: string) {
    super(new.target.code, `@${decorator} can only decorate methods, not ${what}`);
  }
}

interface MutableInfo {
  methodName: string;
  className: string | undefined;
  isStatic: boolean;
  mode: 'standard' | 'legacy';
}

/**
 * Each standard-mode replacement → the method it wraps, so a wrapper can recognise itself under the wrappers
 * stacked above it. Process-wide (a `Symbol.for` key on `globalThis`): Ballast decorators from an ESM and a CJS
 * copy of core may be stacked on one method.
 */
const WRAPPED = processSlot<WeakMap<AnyMethod, AnyMethod>>('core/decorators.wrapped').getOrCreate(() => new WeakMap());

/** Whether `outer` is `inner`, or a chain of standard-mode replacements ending in it. */
function wraps(outer: unknown, inner: AnyMethod): boolean {
  for (let f = outer as AnyMethod | undefined; f; f = WRAPPED.get(f)) if (f === inner) return true;
  return false;
}

function isStandardContext(value: unknown): value is DecoratorContext {
  return typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string';
}

/** The part of reflect-metadata's API a wrapper needs; present only when the application installed it. */
interface MetadataApi {
  getOwnMetadataKeys(target: object): unknown[];
  getOwnMetadata(key: unknown, target: object): unknown;
  hasOwnMetadata(key: unknown, target: object): boolean;
  defineMetadata(key: unknown, value: unknown, target: object): void;
}

function metadataApi(): MetadataApi | undefined {
  const r = Reflect as unknown as Partial<MetadataApi> & { getMetadata?: unknown };
  return typeof r.getMetadata === 'function' &&
    typeof r.getOwnMetadataKeys === 'function' &&
    typeof r.getOwnMetadata === 'function' &&
    typeof r.hasOwnMetadata === 'function' &&
    typeof r.defineMetadata === 'function'
    ? (r as MetadataApi)
    : undefined;
}

/** Own properties every function has, which describe the function object itself rather than mark it. */
const FUNCTION_OWN = new Set<string | symbol>(['length', 'name', 'prototype', 'arguments', 'caller']);

/**
 * Makes `replacement` indistinguishable from `original` to a host framework: the same `name` and `length`,
 * the original's own marks (properties such as Ballast's registration symbols) and its own reflect-metadata
 * (NestJS's route, guard, pipe, interceptor and custom `SetMetadata` keys) — each unless the replacement
 * already has its own. Decorators apply bottom-up, so the metadata of a framework decorator written *below*
 * ours is on the original and is copied here; one written *above* ours defines it on the replacement itself;
 * per-property metadata (`design:paramtypes`, parameter decorators) lives on (prototype, key) and needs nothing.
 * reflect-metadata is used only when the application loaded it.
 */
export function inheritMethodIdentity(original: AnyMethod, replacement: AnyMethod): void {
  if (replacement === original) return;
  Object.defineProperty(replacement, 'name', { value: original.name, configurable: true });
  Object.defineProperty(replacement, 'length', { value: original.length, configurable: true });
  for (const key of Reflect.ownKeys(original)) {
    if (FUNCTION_OWN.has(key) || Object.hasOwn(replacement, key)) continue;
    Object.defineProperty(replacement, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  const meta = metadataApi();
  if (!meta) return;
  for (const key of meta.getOwnMetadataKeys(original)) {
    if (meta.hasOwnMetadata(key, replacement)) continue;
    meta.defineMetadata(key, meta.getOwnMetadata(key, original), replacement);
  }
}

/**
 * Makes one decorator implementation work in both compiler modes. `wrap` receives the original method and
 * returns its replacement; it runs once per decorated method, when the class is defined. The replacement
 * keeps the original's name, length, marks and reflect-metadata (see `inheritMethodIdentity`), so framework
 * decorators and other Ballast decorators work above, below or between.
 *
 * @example
 * export const Logged = (label: string) =>
 *   createMethodDecorator('Logged', (method, info) =>
 *     function (this: unknown, ...args: unknown[]) {
 *       console.log(label, `${info.className}.${info.methodName}`);
 *       return method.apply(this, args);
 *     });
 */
export function createMethodDecorator(
  decoratorName: string,
  wrap: (method: AnyMethod, info: DecoratedMethod) => AnyMethod,
): DualMethodDecorator {
  function decorator(...args: unknown[]): unknown {
    if (args.length === 2 && isStandardContext(args[1])) {
      const [value, context] = args as [unknown, DecoratorContext];
      if (context.kind !== 'method' || typeof value !== 'function') {
        throw new DecoratorTargetError(decoratorName, `a ${context.kind}`);
      }
      const info: MutableInfo = {
        methodName: String(context.name),
        className: undefined,
        isStatic: context.static,
        mode: 'standard',
      };
      const replacement = wrap(value as AnyMethod, info);
      inheritMethodIdentity(value as AnyMethod, replacement);
      if (replacement !== value) WRAPPED.set(replacement, value as AnyMethod);
      context.addInitializer(function (this: unknown) {
        if (info.className !== undefined) return;
        if (context.static) {
          info.className = (this as { name?: string }).name;
          return;
        }
        // The declaring class: the prototype holding this replacement, or — under stacked decorators — the
        // replacement of a Ballast decorator above it; failing both (a foreign wrapper above), the nearest
        // prototype that owns the method. Not a subclass that happened to be instantiated first.
        let owner: object | undefined;
        for (let p: object | null = Object.getPrototypeOf(this); p; p = Object.getPrototypeOf(p)) {
          const own = Object.getOwnPropertyDescriptor(p, context.name);
          if (!own) continue;
          if (wraps(own.value, replacement)) {
            owner = p;
            break;
          }
          owner ??= p;
        }
        info.className = (
          (owner ?? Object.getPrototypeOf(this)) as { constructor?: { name?: string } }
        ).constructor?.name;
      });
      return replacement;
    }
    if (args.length === 3) {
      const [target, key, descriptor] = args as [unknown, string | symbol, PropertyDescriptor | undefined];
      if (!descriptor || typeof descriptor.value !== 'function') {
        throw new DecoratorTargetError(decoratorName, descriptor ? 'an accessor or field' : 'a property');
      }
      const isStatic = typeof target === 'function';
      const info: MutableInfo = {
        methodName: String(key),
        className: isStatic
          ? (target as { name?: string }).name
          : (target as { constructor?: { name?: string } }).constructor?.name,
        isStatic,
        mode: 'legacy',
      };
      const replacement = wrap(descriptor.value as AnyMethod, info);
      inheritMethodIdentity(descriptor.value as AnyMethod, replacement);
      return { ...descriptor, value: replacement };
    }
    throw new DecoratorTargetError(decoratorName, `a call with ${args.length} argument(s)`);
  }
  return decorator as DualMethodDecorator;
}
