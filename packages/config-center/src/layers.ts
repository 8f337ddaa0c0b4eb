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
function resolveKey(part: string, reference: unknown): string {
  if (isPlainObject(reference)) {
    if (Object.hasOwn(reference, part)) return part;
    const n = norm(part);
    for (const key of Object.keys(reference)) if (norm(key) === n) return key;
  }
  return part.toLowerCase();
}

/** An env value: JSON when it parses as JSON (`20`, `true`, `["a"]`), else the string. */
function envValue(raw: string): unknown {
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
export function envLayer(source: EnvSource, env: NodeJS.ProcessEnv, reference: Tree): Tree {
  const out: Tree = {};
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith(source.prefix) || name.length === source.prefix.length) continue;
    const parts = name.slice(source.prefix.length).split(source.separator);
    if (parts.some((p) => p === '')) continue;
    let node: Tree = out;
    let ref: unknown = reference;
    parts.forEach((part, i) => {
      const key = resolveKey(part, ref);
      ref = isPlainObject(ref) ? ref[key] : undefined;
      if (i === parts.length - 1) {
        node[key] = envValue(raw);
      } else {
        if (!isPlainObject(node[key])) node[key] = {};
        node = node[key] as Tree;
      }
    });
  }
  return out;
}
