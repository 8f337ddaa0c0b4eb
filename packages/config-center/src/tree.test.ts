import { describe, expect, it } from 'vitest';
import { decodeRemoteValue, deepEqual, deepFreeze, deepMerge, flatten, getPath, unflatten } from './tree';

describe('flatten (seed 000 _upload_config)', () => {
  it('joins nested mapping keys with "/" and keeps lists, nulls and scalars as leaves', () => {
    const doc = {
      database: { url: 'postgres://db', pool: { min: 2, max: 10 } },
      features: { beta: true },
      hosts: ['a', 'b'],
      nothing: null,
      empty: {},
    };
    expect(flatten(doc)).toEqual({
      'database/url': 'postgres://db',
      'database/pool/min': 2,
      'database/pool/max': 10,
      'features/beta': true,
      hosts: ['a', 'b'],
      nothing: null,
    });
  });

  it('prefixes every key like _upload_config(data, prefix)', () => {
    expect(flatten({ a: { b: 1 } }, 'db')).toEqual({ 'db/a/b': 1 });
  });

  it('unflatten skips a key naming __proto__, constructor or prototype: a store entry cannot pollute every object', () => {
    const own = JSON.parse('{"__proto__": {"p3": 1}}'); // an own key named __proto__, as a JSON store can hold
    const tree = unflatten({ ...own, 'x/__proto__/polluted': true, 'constructor/prototype/p2': 1, 'a/b': 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).p2).toBeUndefined();
    expect(Object.getPrototypeOf(tree)).toBe(Object.prototype);
    expect(tree).toEqual({ a: { b: 1 } });
  });

  it('round-trips through unflatten (an empty mapping is the one thing seed 000 drops)', () => {
    const doc = { a: { b: { c: 1, d: [1, { x: 2 }] }, e: 'x' }, f: false };
    expect(unflatten(flatten(doc))).toEqual(doc);
  });

  it('unflatten lets a deeper key win over a shorter leaf at the same path', () => {
    expect(unflatten({ a: 1, 'a/b': 2 })).toEqual({ a: { b: 2 } });
  });
});

describe('tree helpers', () => {
  it('deepMerge merges mappings, replaces lists and scalars, leaves inputs untouched', () => {
    const base = { a: { b: 1, c: [1, 2] }, d: 1 };
    const over = { a: { c: [3] }, e: 2 };
    expect(deepMerge(base, over)).toEqual({ a: { b: 1, c: [3] }, d: 1, e: 2 });
    expect(base).toEqual({ a: { b: 1, c: [1, 2] }, d: 1 });
  });

  it('getPath reads dotted paths and returns undefined past a leaf', () => {
    expect(getPath({ a: { b: { c: 3 } } }, 'a.b.c')).toBe(3);
    expect(getPath({ a: 1 }, 'a.b')).toBeUndefined();
    expect(getPath({ a: 1 }, '')).toEqual({ a: 1 });
  });

  it('deepEqual compares structurally', () => {
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] })).toBe(false);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
  });

  it('deepFreeze freezes nested objects and arrays', () => {
    const v = deepFreeze({ a: { b: [1, { c: 2 }] } });
    expect(Object.isFrozen(v.a.b[1])).toBe(true);
    expect(() => {
      (v.a as { b: unknown }).b = 1;
    }).toThrow(TypeError);
  });

  it('decodeRemoteValue parses JSON and keeps a hand-written non-JSON value as a string', () => {
    expect(decodeRemoteValue('10')).toBe(10);
    expect(decodeRemoteValue('"x"')).toBe('x');
    expect(decodeRemoteValue('localhost')).toBe('localhost');
  });
});
