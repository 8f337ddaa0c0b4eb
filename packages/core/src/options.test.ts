import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidOptionsError } from './errors';
import {
  clockSchema,
  customCheck,
  describeValue,
  formatPath,
  functionSchema,
  loggerSchema,
  objectSchema,
  parseOptions,
} from './options';

const schema = z
  .object({
    timeoutMs: z.number().min(0).default(10_000),
    errorThresholdPercentage: z.number().min(0).max(100).default(50),
    name: z.string().min(1),
    mode: z.enum(['fast', 'safe']).default('safe'),
    retry: z
      .object({ maxAttempts: z.number().int().min(1) })
      .strict()
      .optional(),
    nodes: z.array(z.string()).optional(),
  })
  .strict();

function errorOf(input: unknown): InvalidOptionsError {
  try {
    parseOptions(schema, input, 'CircuitBreaker');
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidOptionsError);
    return e as InvalidOptionsError;
  }
  throw new Error('expected parseOptions to throw');
}

describe('parseOptions', () => {
  it('returns typed options with defaults applied', () => {
    const o = parseOptions(schema, { name: 'payments' }, 'CircuitBreaker');
    expect(o).toEqual({ name: 'payments', timeoutMs: 10_000, errorThresholdPercentage: 50, mode: 'safe' });
  });

  it('names every bad field with what was expected and what was received', () => {
    const err = errorOf({
      name: 'x',
      timeoutMs: -5,
      errorThresholdPercentage: 150,
      mode: 'turbo',
      retry: { maxAttempts: 'three' },
      nodes: ['a', 7],
    });
    expect(err.code).toBe('INVALID_OPTIONS');
    expect(err.where).toBe('CircuitBreaker');
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i]));
    expect(byPath.timeoutMs).toMatchObject({ expected: 'number >= 0', received: 'number -5' });
    expect(byPath.errorThresholdPercentage).toMatchObject({ expected: 'number <= 100', received: 'number 150' });
    expect(byPath.mode).toMatchObject({ expected: 'one of "fast" | "safe"', received: 'string "turbo"' });
    expect(byPath['retry.maxAttempts']).toMatchObject({ expected: 'number', received: 'string "three"' });
    expect(byPath['nodes[1]']).toMatchObject({ expected: 'string', received: 'number 7' });
    expect(err.issues).toHaveLength(5);
    expect(err.message).toContain('Invalid options for CircuitBreaker');
    expect(err.message).toContain('timeoutMs: expected number >= 0, received number -5');
  });

  it('reports missing required fields and unknown keys by name', () => {
    const err = errorOf({ timeoutMs: 5, timeout: 5 });
    const paths = err.issues.map((i) => i.path).sort();
    expect(paths).toEqual(['name', 'timeout']);
    expect(err.issues.find((i) => i.path === 'name')).toMatchObject({ expected: 'string', received: 'undefined' });
    expect(err.issues.find((i) => i.path === 'timeout')).toMatchObject({ expected: 'no such option' });
  });

  it('describes a non-object input at the root', () => {
    const err = errorOf(42);
    expect(err.issues[0]).toMatchObject({ path: '(root)', expected: 'object', received: 'number 42' });
  });
});

describe('parseOptions: custom checks', () => {
  const custom = z
    .object({
      clock: clockSchema().optional(),
      logger: loggerSchema().optional(),
      isFailure: functionSchema<(e: unknown) => boolean>('isFailure').optional(),
      store: objectSchema<object>('store').optional(),
      client: z.custom<object>((v) => v === 'client', customCheck('client', 'an ioredis client')).optional(),
      // Messages written by hand, as packages do.
      signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, { message: 'expected an AbortSignal' }).optional(),
      subscriber: z.custom((v) => v === 1, { message: 'expected subscriber to be an ioredis client' }).optional(),
      limiter: z.custom((v) => v === 1, { message: 'a Clock (an object with now())' }).optional(),
      bare: z.custom((v) => v === 1).optional(),
    })
    .strict();

  it('says "expected" once, with what the check wanted', () => {
    const err = (() => {
      try {
        parseOptions(
          custom,
          {
            clock: 5,
            logger: {},
            isFailure: 'no',
            store: null,
            client: 1,
            signal: 2,
            subscriber: 3,
            limiter: 4,
            bare: 5,
          },
          'X',
        );
      } catch (e) {
        return e as InvalidOptionsError;
      }
      throw new Error('expected parseOptions to throw');
    })();
    expect(err.message).not.toMatch(/expected expected/);
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i.expected]));
    expect(byPath).toEqual({
      clock: 'a Clock (an object with now, monotonic, setTimeout, clearTimeout, setInterval, clearInterval)',
      logger: 'a pino-compatible logger (with child, debug, info, warn, error)',
      isFailure: 'a function',
      store: 'an object',
      client: 'an ioredis client',
      signal: 'an AbortSignal',
      subscriber: 'an ioredis client',
      limiter: 'a Clock (an object with now())',
      bare: 'a valid value',
    });
    expect(err.message).toContain(
      '  - clock: expected a Clock (an object with now, monotonic, setTimeout, clearTimeout, setInterval, clearInterval), received number 5',
    );
    expect(err.message).toContain('  - isFailure: expected a function, received string "no"');
    // The validator's own sentence is kept as the issue's message.
    expect(err.issues.find((i) => i.path === 'isFailure')?.message).toBe('expected isFailure to be a function');
  });

  it('quotes a cross-field rule that is not a noun phrase', () => {
    const ranged = z
      .object({ min: z.number(), max: z.number() })
      .refine((o) => o.max >= o.min, { message: 'max must be >= min', path: ['max'] });
    expect(() => parseOptions(ranged, { min: 5, max: 1 }, 'Range')).toThrow(
      '  - max: expected a value satisfying "max must be >= min", received number 1',
    );
  });
});

describe('parseOptions: unions', () => {
  const store = z.object({
    store: z.union([
      z.object({ kind: z.literal('memory'), size: z.number() }).strict(),
      z.object({ kind: z.literal('redis'), url: z.string(), db: z.number().int() }).strict(),
    ]),
    port: z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
    mode: z.union([z.literal('a'), z.literal('b')]).optional(),
    tagged: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('x'), n: z.number() }),
        z.object({ kind: z.literal('y') }),
      ])
      .optional(),
  });

  function issuesOf(input: unknown) {
    try {
      parseOptions(store, input, 'Store');
    } catch (e) {
      return (e as InvalidOptionsError).issues.map(({ path, expected, received }) => ({ path, expected, received }));
    }
    throw new Error('expected parseOptions to throw');
  }

  it('reports the closest branch field by field, at full paths', () => {
    expect(issuesOf({ store: { kind: 'redis', url: 5, db: 1.5 } })).toEqual([
      { path: 'store.url', expected: 'string', received: 'number 5' },
      { path: 'store.db', expected: 'int', received: 'number 1.5' },
    ]);
    expect(issuesOf({ store: { kind: 'memory', size: 1, extra: true } })).toEqual([
      { path: 'store.extra', expected: 'no such option', received: 'boolean true' },
    ]);
  });

  it('lists what each branch takes when the value itself has the wrong type', () => {
    expect(issuesOf({ store: 5 })).toEqual([{ path: 'store', expected: 'object', received: 'number 5' }]);
    expect(issuesOf({ store: { kind: 'memory', size: 1 }, port: true })).toEqual([
      { path: 'port', expected: 'number | string', received: 'boolean true' },
    ]);
    expect(issuesOf({ store: { kind: 'memory', size: 1 }, mode: 'c' })).toEqual([
      { path: 'mode', expected: 'one of "a" | "b"', received: 'string "c"' },
    ]);
  });

  it('names the discriminator and its values, or the field inside the matching branch', () => {
    expect(issuesOf({ store: { kind: 'memory', size: 1 }, tagged: { kind: 'z' } })).toEqual([
      { path: 'tagged.kind', expected: 'one of "x" | "y"', received: 'string "z"' },
    ]);
    expect(issuesOf({ store: { kind: 'memory', size: 1 }, tagged: { kind: 'x', n: 'one' } })).toEqual([
      { path: 'tagged.n', expected: 'number', received: 'string "one"' },
    ]);
  });
});

describe('formatPath / describeValue', () => {
  it('formats paths and values', () => {
    expect(formatPath([])).toBe('(root)');
    expect(formatPath(['a', 0, 'b'])).toBe('a[0].b');
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue(() => 1)).toBe('function (anonymous)');
    expect(describeValue([1, 2])).toBe('array(2)');
    expect(describeValue(new Map())).toBe('object Map');
    expect(describeValue('x'.repeat(100))).toHaveLength(69);
  });
});
