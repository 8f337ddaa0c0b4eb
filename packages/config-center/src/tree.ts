/**
 * Plain-object trees: seed 000's flattening (`_upload_config`), its inverse, deep merge, path reads, deep
 * equality and deep freeze. A "plain object" is what JSON/YAML/TOML parsers produce for a mapping.
 */

export type Tree = { [key: string]: unknown };

export function isPlainObject(value: unknown): value is Tree {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Seed 000's `_upload_config`, exactly: every key of a mapping becomes `prefix/key`; a nested mapping recurses
 * (so an empty mapping writes nothing); anything else — scalar, list, null — is one leaf holding that value.
 *
 * @example flatten({ db: { pool: { max: 10 } }, tags: ['a'] }) // { 'db/pool/max': 10, tags: ['a'] }
 */
export function flatten(tree: Tree, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (node: Tree, at: string) => {
    for (const [key, value] of Object.entries(node)) {
      const full = at ? `${at}/${key}` : key;
      if (isPlainObject(value)) walk(value, full);
      else out[full] = value;
    }
  };
  walk(tree, prefix);
  return out;
}

const UNSAFE_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** The inverse of `flatten`: `{ 'db/pool/max': 10 }` → `{ db: { pool: { max: 10 } } }`. Empty segments are skipped. */
export function unflatten(entries: Record<string, unknown>): Tree {
  const root: Tree = {};
  // Shorter keys first, so a leaf `a` written before `a/b` is replaced by the mapping rather than lost silently.
  for (const key of Object.keys(entries).sort((x, y) => x.length - y.length)) {
    const parts = key.split('/').filter((p) => p !== '');
    // A segment naming Object.prototype's plumbing would write into the prototype every object shares (a store
    // entry `x/__proto__/polluted` made `({}).polluted` true): such a key is skipped, never walked into.
    if (parts.length === 0 || parts.some((p) => UNSAFE_SEGMENTS.has(p))) continue;
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (!isPlainObject(next)) node[part] = {};
      node = node[part] as Tree;
    }
    node[parts[parts.length - 1]!] = entries[key];
  }
  return root;
}

/** Dotted config key → seed 000's slash key: `db.pool.max` → `db/pool/max`. */
export function toRemoteKey(path: string): string {
  return path.split('.').join('/');
}

/** Deep merge: mappings merge key by key, anything else in `over` replaces what `base` had. Inputs untouched. */
export function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

/** The value at a dotted path, or `undefined`. `''` is the whole tree. */
export function getPath(tree: unknown, path: string): unknown {
  if (path === '') return tree;
  let node: unknown = tree;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Structural equality of JSON-like values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** Freezes a value and everything reachable from it (objects and arrays); returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Remote values are JSON (seed 000 writes `json.dumps(value)`); a value written by hand that is not JSON is a string. */
export function decodeRemoteValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
