/**
 * The root of every error Ballast throws. Each subclass carries a stable machine-readable `code`
 * (SCREAMING_SNAKE_CASE) and, where one exists, the underlying `cause`.
 */
const BRAND = Symbol.for('@ballast/core/BallastError');

export interface BallastErrorOptions {
  cause?: unknown;
}

export class BallastError extends Error {
  /** Stable identifier for programmatic handling, e.g. `INVALID_OPTIONS`, `BREAKER_OPEN`. */
  readonly code: string;
  /** Brand so `isBallastError` works across duplicated copies of this package. */
  readonly [BRAND] = true;

  constructor(code: string, message: string, options: BallastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = errorName(new.target);
  }
}

/**
 * The class's own name. Bundlers (esbuild, so tsup) turn a class that refers to itself — `X.code` in its
 * constructor, a static field — into `var X = class _X { … }`, so `new.target.name` reads `_X`; that leading
 * underscore is dropped. (esbuild's `keepNames` would also fix it, at the price of a `__name()` call on every
 * closure created on a hot path.)
 */
function errorName(ctor: Function): string {
  const name = ctor.name;
  return name.charCodeAt(0) === 95 /* _ */ && name.length > 1 ? name.slice(1) : name;
}

/** True for any error thrown by a Ballast package (also across duplicated installs). */
export function isBallastError(value: unknown): value is BallastError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** Builds a guard for one error class by its `code`: works across duplicated installs. */
export function errorGuard<E extends BallastError>(code: string): (value: unknown) => value is E {
  return (value: unknown): value is E => isBallastError(value) && value.code === code;
}

/** One bad field found while validating options. */
export interface OptionIssue {
  /** Dotted path of the field, e.g. `retry.maxAttempts` or `nodes[2]`; `(root)` for the whole input. */
  path: string;
  /** What the schema wanted, e.g. `number >= 0`, `one of "full" | "none"`. */
  expected: string;
  /** What was passed, described with its type and value, e.g. `string "abc"`. */
  received: string;
  /** The validator's own message. */
  message: string;
}

/** Options passed to a Ballast factory or function failed validation. Names every bad field. */
export class InvalidOptionsError extends BallastError {
  static readonly code = 'INVALID_OPTIONS';
  readonly where: string;
  readonly issues: readonly OptionIssue[];

  constructor(where: string, issues: readonly OptionIssue[]) {
    const lines = issues.map((i) => `  - ${i.path}: expected ${i.expected}, received ${i.received}`);
    super(new.target.code, `Invalid options for ${where}:\n${lines.join('\n')}`);
    this.where = where;
    this.issues = issues;
  }
}
export const isInvalidOptionsError = errorGuard<InvalidOptionsError>(InvalidOptionsError.code);

/** An operation was aborted through its AbortSignal. */
export class AbortedError extends BallastError {
  static readonly code = 'ABORTED';
  constructor(message = 'The operation was aborted', options: BallastErrorOptions = {}) {
    super(new.target.code, message, options);
  }
}
export const isAbortedError = errorGuard<AbortedError>(AbortedError.code);

/** The `AbortedError` for an aborted signal, with the signal's reason as cause. */
export function abortedError(signal: AbortSignal): AbortedError {
  return new AbortedError(undefined, { cause: signal.reason });
}

/** Throws `AbortedError` (with the signal's reason as cause) when `signal` is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}
