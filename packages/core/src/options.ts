import { z } from 'zod';
import type { Clock } from './clock';
import { InvalidOptionsError, type OptionIssue } from './errors';
import type { Logger } from './logger';

type Issue = z.core.$ZodIssue;

/** A zod schema for a function option (zod has no typed function schema): `isFailure: functionSchema<(e: unknown) => boolean>('isFailure')`. */
export function functionSchema<T>(what: string) {
  return z.custom<T>((v) => typeof v === 'function', { message: `expected ${what} to be a function` });
}

/** A zod schema for an object option passed through as is (a clock, a logger, a client). */
export function objectSchema<T>(what: string) {
  return z.custom<T>((v) => typeof v === 'object' && v !== null, { message: `expected ${what} to be an object` });
}

const CLOCK_METHODS = ['now', 'monotonic', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] as const;

/**
 * A zod schema for a `Clock` option: an object with every Clock method (an object that merely looks like one
 * would fail later, inside a timer, as an untyped TypeError).
 */
export function clockSchema<T = Clock>(what = 'clock') {
  return z.custom<T>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      CLOCK_METHODS.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
    { message: `expected ${what} to be a Clock (an object with ${CLOCK_METHODS.join(', ')})` },
  );
}

const LOGGER_METHODS = ['child', 'debug', 'info', 'warn', 'error'] as const;

/** A zod schema for a `logger` option: a pino-compatible logger (`child`, `debug`, `info`, `warn`, `error`). */
export function loggerSchema<T = Logger>(what = 'logger') {
  return z.custom<T>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      LOGGER_METHODS.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
    { message: `expected ${what} to be a pino-compatible logger (with ${LOGGER_METHODS.join(', ')})` },
  );
}

/**
 * For code that must read an options argument before `parseOptions` sees it: `undefined` → `{}`, a plain
 * object → itself, anything else (null, a string, an array) → `InvalidOptionsError` naming `where`.
 */
export function optionsOrEmpty<T extends object>(input: T | undefined, where: string): T {
  if (input === undefined) return {} as T;
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) return input;
  throw new InvalidOptionsError(where, [
    {
      path: '(root)',
      expected: 'an options object',
      received: describeValue(input),
      message: 'options must be an object or undefined',
    },
  ]);
}

/**
 * Validates `input` against a zod schema and returns the typed, defaulted result.
 * On failure throws `InvalidOptionsError` naming every bad field: its path, what was expected and what
 * was received — e.g. `Invalid options for CircuitBreaker: - timeoutMs: expected number >= 0, received number -5`.
 *
 * @param where who is validating, shown in the message: a class, function or decorator name.
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new InvalidOptionsError(where, describeIssues(result.error.issues, input));
}

/** Turns zod issues into `OptionIssue`s with the received value read back from the input. */
export function describeIssues(issues: readonly Issue[], input: unknown): OptionIssue[] {
  const out: OptionIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      // One line per unknown key, so each is named where it stands.
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        out.push({
          path: formatPath(path),
          expected: 'no such option',
          received: describeValue(valueAt(input, path)),
          message: issue.message,
        });
      }
      continue;
    }
    out.push({
      path: formatPath(issue.path),
      expected: describeExpected(issue),
      received: describeValue(valueAt(input, issue.path)),
      message: issue.message,
    });
  }
  return out;
}

/** `['retry', 'delays', 2]` → `retry.delays[2]`; `[]` → `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let s = '';
  for (const part of path) {
    if (typeof part === 'number') s += `[${part}]`;
    else s += s === '' ? String(part) : `.${String(part)}`;
  }
  return s;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** A short, safe description of a value: its type and (truncated) content. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
    case 'number':
      return Number.isNaN(value) ? 'NaN' : `number ${value}`;
    case 'bigint':
      return `bigint ${value}n`;
    case 'boolean':
      return `boolean ${value}`;
    case 'symbol':
      return `symbol ${String(value)}`;
    case 'function':
      return `function ${value.name || '(anonymous)'}`;
    default:
      if (Array.isArray(value)) return `array(${value.length})`;
      return `object ${(value as object).constructor?.name ?? 'Object'}`;
  }
}

function bound(kind: 'min' | 'max', inclusive: boolean | undefined, n: unknown, origin: string): string {
  const op = kind === 'min' ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
  switch (origin) {
    case 'string':
      return `string of length ${op} ${n}`;
    case 'array':
    case 'set':
      return `${origin} of size ${op} ${n}`;
    default:
      return `${origin} ${op} ${n}`;
  }
}

function describeExpected(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected;
    case 'too_small':
      return bound('min', issue.inclusive, issue.minimum, issue.origin);
    case 'too_big':
      return bound('max', issue.inclusive, issue.maximum, issue.origin);
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}`;
    case 'invalid_format':
      return `${issue.format} format`;
    case 'not_multiple_of':
      return `multiple of ${issue.divisor}`;
    case 'invalid_union':
      return 'one of the accepted shapes';
    case 'invalid_key':
      return `a valid key (${issue.message})`;
    case 'invalid_element':
      return 'valid elements';
    default:
      return issue.message;
  }
}
