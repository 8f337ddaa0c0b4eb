import { BallastError } from './errors';

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

function isStandardContext(value: unknown): value is DecoratorContext {
  return typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string';
}

/**
 * Makes one decorator implementation work in both compiler modes. `wrap` receives the original method and
 * returns its replacement; it runs once per decorated method, when the class is defined.
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
      context.addInitializer(function (this: unknown) {
        if (info.className !== undefined) return;
        if (context.static) {
          info.className = (this as { name?: string }).name;
          return;
        }
        // The declaring class: the prototype holding this replacement, or — under stacked decorators, where an
        // outer one's replacement sits there — the nearest prototype that owns the method. Not a subclass that
        // happened to be instantiated first.
        let owner: object | undefined;
        for (let p: object | null = Object.getPrototypeOf(this); p; p = Object.getPrototypeOf(p)) {
          const own = Object.getOwnPropertyDescriptor(p, context.name);
          if (!own) continue;
          if (own.value === replacement) {
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
      return { ...descriptor, value: wrap(descriptor.value as AnyMethod, info) };
    }
    throw new DecoratorTargetError(decoratorName, `a call with ${args.length} argument(s)`);
  }
  return decorator as DualMethodDecorator;
}
