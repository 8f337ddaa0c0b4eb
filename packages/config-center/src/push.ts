import { ConsulConfigStore, normalizePrefix } from './backends/consul';
import { type ConsulKv, createConsulKv } from './consul-kv';
import { isConfigConflictError } from './errors';
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
  /** Recorded with the version. */
  message?: string;
  /** Check-and-set retries when another writer commits in between. Default 5. */
  casRetries?: number;
}

/**
 * Seed 000's `_upload_config`, writing half: every leaf of `object` is written as JSON at `<prefix><a/b/c>`
 * (`pushToConsul('services/user-service/', { db: { pool: { max: 20 } } })` writes
 * `services/user-service/db/pool/max` = `20`), merged over the keys already there, as one new version of the
 * prefix: one `/v1/txn` checked against the version it read (retried on a conflict), recorded in the history like
 * any `set`, so a running config sees it as one update and `rollback` can undo it. Returns the keys written.
 */
export async function pushToConsul(prefix: string, object: Tree, options: PushToConsulOptions = {}): Promise<string[]> {
  const { url, token } = options;
  const kv =
    options.kv ?? createConsulKv({ ...(url === undefined ? {} : { url }), ...(token === undefined ? {} : { token }) });
  const store = new ConsulConfigStore({ prefix: normalizePrefix(prefix) || prefix, kv });
  const leaves = flatten(object);
  try {
    for (let attempt = 0; ; attempt++) {
      const state = await store.read();
      try {
        await store.commit(
          state.version,
          { ...state.entries, ...leaves },
          { at: Date.now(), ...(options.message === undefined ? {} : { message: options.message }) },
        );
        break;
      } catch (error) {
        if (!isConfigConflictError(error) || attempt >= (options.casRetries ?? 5)) throw error;
      }
    }
  } finally {
    await store.close();
  }
  const base = store.prefix;
  return Object.keys(leaves).map((key) => `${base}${key}`);
}
