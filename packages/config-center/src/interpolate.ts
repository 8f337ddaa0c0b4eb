import { MissingEnvVarError } from './errors';
import { isPlainObject } from './tree';

const REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in one string (seed 002: `${REDIS_URL:-redis://localhost:6379}`).
 * As in the shell, `:-` also applies when the variable is set but empty. `$$` is a literal `$`.
 * A `${VAR}` without default whose variable is unset throws `MissingEnvVarError` naming it and `where`.
 */
export function interpolateString(text: string, env: NodeJS.ProcessEnv, where: string): string {
  if (!text.includes('$')) return text;
  return text.replace(REF, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    const value = env[name!];
    if (fallback !== undefined) return value === undefined || value === '' ? fallback : value;
    if (value === undefined) throw new MissingEnvVarError(name!, where);
    return value;
  });
}

/**
 * Interpolates every string in a parsed document (values only, never keys), so a reference is checked where
 * it stands: the error names `<file>: <dotted key>`.
 */
export function interpolateTree<T>(value: T, env: NodeJS.ProcessEnv, file: string, at = ''): T {
  if (typeof value === 'string') return interpolateString(value, env, `${file}: ${at || '(root)'}`) as T;
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, env, file, `${at}[${i}]`)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateTree(v, env, file, at ? `${at}.${k}` : k);
    return out as T;
  }
  return value;
}
