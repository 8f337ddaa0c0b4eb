import { normalizePrefix } from './backends/consul';
import { type ConsulKv, createConsulKv } from './consul-kv';
import { loadFileLayer } from './layers';
import { flatten, type Tree } from './tree';

/**
 * Seed 000's `load_from_file`, reading half: a JSON, YAML or TOML file (with `${VAR:-default}` interpolation),
 * flattened into `a/b/c` keys exactly as `_upload_config` does.
 */
export async function loadFromFile(
  path: string,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<Record<string, unknown>> {
  const doc = await loadFileLayer(
    {
      kind: 'file',
      name: `file:${path}`,
      path,
      format: undefined,
      optional: false,
      watch: false,
      debounceMs: 0,
      interpolate: true,
    },
    options.env ?? process.env,
  );
  return flatten(doc);
}

export interface PushToConsulOptions {
  /** Default `CONSUL_HTTP_ADDR` (with `CONSUL_HTTP_SSL` etc., as Consul's CLI reads them) or `http://127.0.0.1:8500`. */
  url?: string;
  /** Default `CONSUL_HTTP_TOKEN`. */
  token?: string;
  /** Or a ready KV client. */
  kv?: ConsulKv;
}

/**
 * Seed 000's `_upload_config`, writing half: every leaf of `object` is PUT as JSON at `<prefix><a/b/c>`
 * (`pushToConsul('services/user-service/', { db: { pool: { max: 20 } } })` writes
 * `services/user-service/db/pool/max` = `20`). Plain writes, not a version: a running config picks them up
 * through its blocking query. Returns the keys written.
 */
export async function pushToConsul(prefix: string, object: Tree, options: PushToConsulOptions = {}): Promise<string[]> {
  const { url, token } = options;
  const kv =
    options.kv ?? createConsulKv({ ...(url === undefined ? {} : { url }), ...(token === undefined ? {} : { token }) });
  const base = normalizePrefix(prefix);
  const keys: string[] = [];
  for (const [key, value] of Object.entries(flatten(object))) {
    await kv.put(`${base}${key}`, JSON.stringify(value));
    keys.push(`${base}${key}`);
  }
  return keys;
}
