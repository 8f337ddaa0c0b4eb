import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidOptionsError } from './errors';
import { describeValue, formatPath, parseOptions } from './options';

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
