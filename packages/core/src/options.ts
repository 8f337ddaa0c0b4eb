import { z } from 'zod';
import type { Clock } from './clock';
import { InvalidOptionsError, type OptionIssue } from './errors';
import type { Logger } from './logger';

type Issue = z.core.$ZodIssue;

/**
 * Options for a `z.custom` / `.refine` check whose failure `parseOptions` should describe well: `message` is the
 * validator's own sentence, `params.expected` the noun phrase shown after "expected" in `InvalidOptionsError`.
 * @example z.custom<Client>(isClient, customCheck('redis', 'an ioredis client'))
 *   // → message "expected redis to be an ioredis client"; line "- redis: expected an ioredis client, received …"
 */
export function customCheck(what: string, expected: string): { message: string; params: { expected: string } } {
  return { message: `expected ${what} to be ${expected}`, params: { expected } };
}

/** A zod schema for a function option (zod has no typed function schema): `isFailure: functionSchema<(e: unknown) => boolean>('isFailure')`. */
export function functionSchema<T>(what: string) {
  return z.custom<T>((v) => typeof v === 'function', customCheck(what, 'a function'));
}

/** A zod schema for an object option passed through as is (a clock, a logger, a client). */
export function objectSchema<T>(what: string) {
  return z.custom<T>((v) => typeof v === 'object' && v !== null, customCheck(what, 'an object'));
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
    customCheck(what, `a Clock (an object with ${CLOCK_METHODS.join(', ')})`),
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
    customCheck(what, `a pino-compatible logger (with ${LOGGER_METHODS.join(', ')})`),
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
 * Two limits come from zod 4 itself: a `.refine()` on an object runs only once every field of the object is
 * valid (a cross-field rule such as `maxMs >= initialMs` is reported on the next attempt, after the field errors
 * are fixed); and for a union the fields of the closest branch (the one with the fewest issues) are reported.
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
  for (const issue of issues) describeIssue(issue, input, out);
  return out;
}

function describeIssue(issue: Issue, input: unknown, out: OptionIssue[]): void {
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
    return;
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    describeUnion(issue, issue.errors, input, out);
    return;
  }
  out.push({
    path: formatPath(issue.path),
    expected: describeExpected(issue),
    received: describeValue(valueAt(input, issue.path)),
    message: issue.message,
  });
}

/**
 * No branch of a union matched. When every branch rejected the value itself (wrong type), one line lists what
 * each would take (`number | string`); otherwise the closest branch — the one with the fewest issues, first on a
 * tie — is taken as what was meant, and its issues are reported field by field, at their full paths.
 */
function describeUnion(issue: Issue, branches: readonly (readonly Issue[])[], input: unknown, out: OptionIssue[]) {
  const rejectsValue = (i: Issue) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value');
  if (branches.every((b) => b.length > 0 && b.every(rejectsValue))) {
    const types = new Set<string>();
    const values = new Set<string>();
    for (const i of branches.flat()) {
      if (i.code === 'invalid_type') types.add(i.expected);
      else if (i.code === 'invalid_value') for (const v of i.values) values.add(JSON.stringify(v));
    }
    const all = [...values, ...types];
    out.push({
      path: formatPath(issue.path),
      expected: types.size === 0 && values.size > 1 ? `one of ${all.join(' | ')}` : all.join(' | '),
      received: describeValue(valueAt(input, issue.path)),
      message: issue.message,
    });
    return;
  }
  let closest = branches[0]!;
  for (const b of branches) if (b.length < closest.length) closest = b;
  for (const inner of closest) describeIssue({ ...inner, path: [...issue.path, ...inner.path] } as Issue, input, out);
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
      // A discriminated union whose discriminator matched no branch lists the values it takes.
      if ('options' in issue && issue.options?.length)
        return `one of ${issue.options.map((v) => JSON.stringify(v)).join(' | ')}`;
      return issue.inclusive === false ? 'exactly one of the accepted shapes' : 'one of the accepted shapes';
    case 'invalid_key':
      return `a valid key (${issue.message})`;
    case 'invalid_element':
      return 'valid elements';
    case 'custom':
      return expectedOfCustom(issue.message, issue.params);
    default:
      return issue.message;
  }
}

/**
 * What a custom check (`z.custom`, `.refine`) wanted, as a phrase to follow "expected": its `params.expected`
 * (see `customCheck`); else its message without a leading "expected [<name> to be]"; else a noun phrase message as
 * is; else the rule quoted.
 */
function expectedOfCustom(message: string, params: Record<string, unknown> | undefined): string {
  if (typeof params?.expected === 'string') return params.expected;
  const stated = /^expected\s+(?:\S+\s+to\s+be\s+)?(.+)$/is.exec(message);
  if (stated) return stated[1]!;
  if (/^(?:a|an|one of|the)\s/i.test(message)) return message;
  if (message === 'Invalid input') return 'a valid value';
  return `a value satisfying "${message}"`;
}
