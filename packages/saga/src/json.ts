import { describeValue } from '@ballast/core';
import { ContextNotSerializableError } from './errors';

/** JSON with object keys sorted: equal values give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** A value JSON stores and reads back unchanged. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * Throws `ContextNotSerializableError` naming the first path whose value JSON would drop or change
 * (functions, undefined, symbols, bigints, non-finite numbers, class instances such as Date or Map, cycles).
 */
export function assertJson(saga: string, value: unknown, path = 'context', seen = new Set<object>()): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return;
    throw new ContextNotSerializableError(saga, path, describeValue(value));
  }
  if (typeof value !== 'object') throw new ContextNotSerializableError(saga, path, describeValue(value));
  if (seen.has(value)) throw new ContextNotSerializableError(saga, path, 'a circular reference');
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertJson(saga, value[i], `${path}[${i}]`, seen);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new ContextNotSerializableError(saga, path, `an instance of ${proto?.constructor?.name ?? 'a class'}`);
    }
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue; // JSON drops undefined fields: harmless, reads back as absent
      assertJson(saga, v, `${path}.${k}`, seen);
    }
  }
  seen.delete(value);
}
