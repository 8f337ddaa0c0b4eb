import { isBallastError } from '@ballast/core';
import fc from 'fast-check';

/** Values that break naive validation: wrong types, NaN, ±Infinity, negatives, huge, empty, callables, symbols. */
export const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ withBigInt: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true }),
  fc.double(),
  fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }),
  fc.string(),
  fc.constantFrom<unknown>(
    null,
    undefined,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -1,
    0,
    Number.MAX_SAFE_INTEGER,
    '',
    [],
    {},
    () => 1,
    Symbol('junk'),
    10n,
    new Date(Number.NaN),
    Object.create(null),
  ),
);

/**
 * Junk options for a factory: anything at all; or an object whose known keys (and some unknown ones) hold
 * junk, optionally mixed with valid `base` values so validation gets past the first field.
 */
export function junkOptions(keys: readonly string[], base: Record<string, unknown> = {}): fc.Arbitrary<unknown> {
  const known = fc.record(Object.fromEntries(keys.map((k) => [k, junkValue])), { requiredKeys: [] });
  return fc.oneof(
    { weight: 1, arbitrary: junkValue },
    { weight: 4, arbitrary: known.map((o) => ({ ...base, ...o })) },
    { weight: 1, arbitrary: fc.dictionary(fc.string(), junkValue).map((o) => ({ ...base, ...o })) },
  );
}

/** What a factory did with one input: built something, or threw. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export async function attempt(fn: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Passes when `fn` built something or threw a typed Ballast error; anything else fails the property. */
export async function typedOrBuilt(fn: () => unknown, dispose?: (value: unknown) => unknown): Promise<boolean> {
  const r = await attempt(fn);
  if (r.ok) {
    await dispose?.(r.value);
    return true;
  }
  if (isBallastError(r.error)) return true;
  const e = r.error as { constructor?: { name?: string }; message?: string };
  throw new Error(`untyped ${e?.constructor?.name ?? typeof r.error}: ${e?.message ?? String(r.error)}`);
}

export const RUNS = { numRuns: Number(process.env.FUZZ_RUNS ?? 300) };
