/**
 * Type-level dotted paths: `Path<{ db: { pool: { max: number } } }>` is `'db' | 'db.pool' | 'db.pool.max'` and
 * `PathValue<T, 'db.pool.max'>` is `number`. Arrays are leaves; recursion stops at depth 8.
 */
type Prev = [never, 0, 1, 2, 3, 4, 5, 6, 7, 8];

type IsObject<T> = T extends readonly unknown[]
  ? false
  : T extends Date | RegExp | ((...args: never[]) => unknown)
    ? false
    : T extends object
      ? true
      : false;

export type Path<T, D extends number = 8> = [D] extends [never]
  ? never
  : IsObject<T> extends true
    ? {
        [K in keyof T & string]:
          | K
          | (IsObject<NonNullable<T[K]>> extends true ? `${K}.${Path<NonNullable<T[K]>, Prev[D]>}` : never);
      }[keyof T & string]
    : never;

type IsAny<T> = 0 extends 1 & T ? true : false;

/** True for a config without a typed shape (`z.any()`, `z.unknown()`, a bare `z.ZodType`). */
type Untyped<T> = IsAny<T> extends true ? true : unknown extends T ? true : false;

/**
 * The paths `get`, `watch` and `set` take: every `Path<T>` of a typed config (`features.${string}` under a
 * record), any string when the config is untyped.
 */
export type ConfigPath<T> = Untyped<T> extends true ? string : Path<T>;

/** The value at `P`: `PathValue<T, P>`, or `unknown` when the config is untyped. */
export type ConfigValue<T, P extends string> = Untyped<T> extends true ? unknown : PathValue<T, P>;

/** The type at a dotted path; `unknown` below a value typed `unknown` (e.g. a `Record<string, unknown>`). */
export type PathValue<T, P extends string> = unknown extends T
  ? unknown
  : P extends `${infer K}.${infer Rest}`
    ? K extends keyof T
      ? undefined extends T[K]
        ? PathValue<NonNullable<T[K]>, Rest> | undefined
        : PathValue<T[K], Rest>
      : never
    : P extends keyof T
      ? T[P]
      : never;

/** What `get()` returns: read-only all the way down. */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer U)[]
    ? readonly DeepReadonly<U>[]
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;
