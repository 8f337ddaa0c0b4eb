import type { z } from 'zod';
import type { ConfigIssue } from './errors';
import { envLayer, schemaTypeOf } from './layers';
import type { DeepReadonly } from './paths';
import type { Source } from './sources';
import { deepFreeze, deepMerge, type Tree } from './tree';

/** One layer of a config: a source and the last value of it that was accepted. */
export interface Layer {
  source: Source;
  tree: Tree;
  /** Remote layers: the version of `tree`. */
  version?: number;
  /** Remote layers: `tree` comes from the disk cache, not the remote. */
  stale?: boolean;
}

export type Built<T> = { ok: true; snapshot: DeepReadonly<T>; raw: Tree } | { ok: false; issues: ConfigIssue[] };

/**
 * Merges `layers` in order (an env layer is resolved against what is below it) and parses the result with the
 * schema: the frozen snapshot and the frozen raw merge (for keys outside the schema: flags, degraded mode), or
 * every issue as `{ key: 'db.pool.max', message }`.
 */
export function buildSnapshot<S extends z.ZodType>(
  schema: S,
  layers: readonly Layer[],
  env: NodeJS.ProcessEnv,
): Built<z.output<S>> {
  let raw: Tree = {};
  const typeOf = schemaTypeOf(schema);
  // Which environment variable set which dotted key: an error names the variable, not only the key.
  const origins = new Map<string, string>();
  for (const layer of layers) {
    const tree = layer.source.kind === 'env' ? envLayer(layer.source, env, raw, typeOf, origins) : layer.tree;
    raw = deepMerge(raw, tree);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    return {
      ok: false,
      issues: result.error.issues.map((i) => {
        const key = i.path.map(String).join('.') || '(root)';
        const variable = origins.get(key);
        return { key, message: variable ? `${i.message} (from environment variable ${variable})` : i.message };
      }),
    };
  }
  return { ok: true, snapshot: deepFreeze(result.data) as DeepReadonly<z.output<S>>, raw: deepFreeze(raw) };
}
