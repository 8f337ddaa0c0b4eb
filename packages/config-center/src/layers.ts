import { readFile } from 'node:fs/promises';
import { ConfigParseError } from './errors';
import { interpolateTree } from './interpolate';
import { parseDocument } from './parse';
import type { EnvSource, FileSource } from './sources';
import { isPlainObject, type Tree } from './tree';

/** Reads, parses and interpolates a file layer. A missing optional file is `{}`. */
export async function loadFileLayer(source: FileSource, env: NodeJS.ProcessEnv): Promise<Tree> {
  let text: string;
  try {
    text = await readFile(source.path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && source.optional) return {};
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigParseError(source.path, 0, 0, 'file not found', { cause: error });
    }
    throw error;
  }
  const doc = parseDocument(text, source.path, source.format);
  return source.interpolate ? interpolateTree(doc, env, source.path) : doc;
}

const norm = (s: string) => s.replace(/[_-]/g, '').toLowerCase();

/** The key of `reference` that `part` names, ignoring case and `_`/`-` (`POOL_MAX` → `poolMax`), else `part` lower-cased. */
function resolveKey(part: string, reference: unknown, schemaKeys: readonly string[] = []): string {
  if (isPlainObject(reference)) {
    if (Object.hasOwn(reference, part)) return part;
    const n = norm(part);
    for (const key of Object.keys(reference)) if (norm(key) === n) return key;
  }
  // Not in the lower layers: the schema's own keys (`TIMEOUT_MS` → `timeoutMs` of a field with a default).
  const n = norm(part);
  for (const key of schemaKeys) if (norm(key) === n) return key;
  return part.toLowerCase();
}

/** What the schema expects at a path, as far as an env string needs to know. */
export type EnvLeafKind = 'string' | 'number' | 'boolean' | 'json' | undefined;
/** The schema's expected type at a path (`['api', 'key']`), undefined when the schema does not say; `keys`: its object keys there. */
export type EnvTypeOf = ((path: readonly string[]) => EnvLeafKind) & { keys?: (path: readonly string[]) => string[] };

interface ZodLike {
  _zod?: {
    def?: {
      type?: string;
      shape?: Record<string, ZodLike>;
      innerType?: ZodLike;
      in?: ZodLike;
      catchall?: ZodLike;
      valueType?: ZodLike;
    };
  };
}

/** Walks a zod schema down `path` (objects, records; optional/default/nullable/pipe unwrapped). */
export function schemaTypeOf(schema: unknown): EnvTypeOf {
  const unwrap = (s: ZodLike | undefined): ZodLike | undefined => {
    for (let i = 0; s && i < 16; i++) {
      const def = s._zod?.def;
      if (!def) return undefined;
      if (def.innerType) s = def.innerType;
      else if (def.type === 'pipe' && def.in) s = def.in;
      else return s;
    }
    return s;
  };
  const at = (path: readonly string[]): ZodLike | undefined => {
    let s = unwrap(schema as ZodLike);
    for (const part of path) {
      const def = s?._zod?.def;
      if (def?.type === 'object') s = unwrap(def.shape?.[part] ?? def.catchall);
      else if (def?.type === 'record') s = unwrap(def.valueType);
      else return undefined;
    }
    return s;
  };
  const keys = (path: readonly string[]) => {
    const def = at(path)?._zod?.def;
    return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
  };
  const kind = (path: readonly string[]): EnvLeafKind => {
    const s = at(path);
    const type = s?._zod?.def?.type;
    if (type === 'string' || type === 'enum' || type === 'literal' || type === 'template_literal') return 'string';
    if (type === 'number' || type === 'int' || type === 'bigint') return 'number';
    if (type === 'boolean') return 'boolean';
    return type === undefined ? undefined : 'json';
  };
  return Object.assign(kind, { keys });
}

/**
 * An env value, as the schema types it: a string field keeps the string as is (`APP_API__KEY=12345678` stays
 * `'12345678'`); a number or boolean field takes `20` / `true`; other fields, and paths the schema does not know,
 * take JSON when it parses (`["a"]`), else the string.
 */
function envValue(raw: string, kind: EnvLeafKind): unknown {
  if (kind === 'string') return raw;
  if (kind === 'number') {
    const n = Number(raw.trim());
    return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
  }
  if (kind === 'boolean') {
    const v = raw.trim().toLowerCase();
    return v === 'true' ? true : v === 'false' ? false : raw;
  }
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * The env layer: every variable starting with `prefix`, nested by `separator`, each segment matched against the
 * keys the lower layers (`reference`) already have, so `APP_DB__POOL_MAX` overrides `db.poolMax`.
 */
export function envLayer(
  source: EnvSource,
  env: NodeJS.ProcessEnv,
  reference: Tree,
  typeOf: EnvTypeOf = () => undefined,
  origins?: Map<string, string>,
): Tree {
  const out: Tree = {};
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith(source.prefix) || name.length === source.prefix.length) continue;
    const parts = name.slice(source.prefix.length).split(source.separator);
    if (parts.some((p) => p === '')) continue;
    let node: Tree = out;
    let ref: unknown = reference;
    const path: string[] = [];
    parts.forEach((part, i) => {
      const key = resolveKey(part, ref, typeOf.keys?.(path));
      path.push(key);
      ref = isPlainObject(ref) ? ref[key] : undefined;
      if (i === parts.length - 1) {
        node[key] = envValue(raw, typeOf(path));
        origins?.set(path.join('.'), name);
      } else {
        if (!isPlainObject(node[key])) node[key] = {};
        node = node[key] as Tree;
      }
    });
  }
  return out;
}
