import { type Clock, type Logger, objectSchema } from '@ballast/core';
import { z } from 'zod';

/** Options of `createConfig` besides `schema` and `sources` (validated with zod; defaults from the seeds). */
export const configOptionsSchema = z
  .object({
    /**
     * Where the last-known-good remote layers are cached (a JSON file). When a remote cannot be read at start,
     * its cached layer is used and the service starts. None: no disk cache.
     */
    cacheFile: z.string().min(1).optional(),
    /**
     * The disk cache file: `redact` lists dotted keys (`db.password`) never written to it (a start from the cache
     * then needs them from another layer, e.g. `env`). `key` (a passphrase or raw key bytes, e.g. from a secret
     * store) encrypts the file with AES-256-GCM: a file sealed with another key, altered, or left in clear is not
     * used (logged). The file is written with mode 0600, atomically.
     */
    cache: z
      .object({
        redact: z.array(z.string().min(1)).default([]),
        key: z
          .union([
            z.string().min(1, 'an empty key encrypts nothing'),
            // z.custom, not z.instanceof: the declaration must name no zod type the lowest zod 4 peer lacks
            // (ZodInstanceOf is not in zod 4.0).
            z.custom<Uint8Array>((k) => k instanceof Uint8Array && k.length > 0, {
              message: 'expected a non-empty Uint8Array (an empty key encrypts nothing)',
            }),
          ])
          .optional(),
      })
      .strict()
      .default({ redact: [] }),
    /**
     * Follow a remote whose version goes back or that is emptied at version 0 (a wiped KV store). Default false:
     * such a state is refused with `RemoteResetError` and the last-known-good stays.
     */
    acceptRemoteReset: z.boolean().default(false),
    /** How long the first read of each remote may take before the disk cache is used instead. */
    startupTimeoutMs: z.number().int().positive().default(5_000),
    /** Where `isEnabled(name)` reads feature flags: `<flagsPath>.<name>`. */
    flagsPath: z.string().min(1).default('features'),
    /** The degraded-mode switch (seed 002: `config_manager.set("service.degraded_mode", True)`). */
    degradedPath: z.string().min(1).default('service.degraded_mode'),
    /** Check-and-set retries of `set` when another writer moved the remote in between (no `expectedVersion`). */
    casRetries: z.number().int().min(0).default(5),
    /** Process env read by `env()` sources and `${VAR}` interpolation. Default `process.env`. */
    env: z.record(z.string(), z.string().optional()).optional(),
    clock: objectSchema<Clock>('clock').optional(),
    logger: objectSchema<Logger>('logger').optional(),
  })
  .strict();

export type ConfigOptions = z.input<typeof configOptionsSchema>;

export const fileSourceSchema = z
  .object({
    path: z.string().min(1),
    /** Default: from the extension (`.json`, `.toml`, else YAML). */
    format: z.enum(['json', 'yaml', 'toml']).optional(),
    /** A missing file is an empty layer instead of an error. */
    optional: z.boolean().default(false),
    /** Reload when the file changes (seed 002: hot reload). */
    watch: z.boolean().default(true),
    /** Changes within this window reload once (editors write a file in several steps). */
    debounceMs: z.number().int().min(0).default(100),
    /** `${VAR}` / `${VAR:-default}` in string values. */
    interpolate: z.boolean().default(true),
  })
  .strict();

export type FileSourceOptions = Omit<z.input<typeof fileSourceSchema>, 'path'>;

export const envSourceSchema = z
  .object({
    /** Only variables starting with it (stripped), e.g. `USER_SERVICE_`. */
    prefix: z.string().default(''),
    /** Nesting separator: `APP_DB__POOL__MAX` → `db.pool.max`. */
    separator: z.string().min(1).default('__'),
  })
  .strict();

export type EnvSourceOptions = z.input<typeof envSourceSchema>;

export const consulSourceSchema = z
  .object({
    /** KV prefix (seed 000: `services/{name}/`). */
    prefix: z.string().min(1),
    /**
     * Consul HTTP address, `host:port` with an optional `http://`/`https://`. Default `CONSUL_HTTP_ADDR` or
     * `http://127.0.0.1:8500`; `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`, `CONSUL_CACERT` apply as in Consul's CLI.
     */
    url: z.string().min(1).optional(),
    /** ACL token sent as `X-Consul-Token`. Default `CONSUL_HTTP_TOKEN`. */
    token: z.string().min(1).optional(),
    /** Where versions and the version counter live. Default `ballast/config-history/<prefix>`. */
    historyPrefix: z.string().min(1).optional(),
    /** Blocking query wait (seed 000: `wait="30s"`). */
    waitMs: z.number().int().positive().default(30_000),
    /** Versions kept (seed 002: `max_versions: 10`). */
    maxVersions: z.number().int().positive().default(10),
    /** Retry delay after a failed watch request (seed 000 sleeps 5 s); jittered, doubling up to this cap. */
    retryMaxMs: z.number().int().positive().default(5_000),
    /** Per-request timeout for non-blocking calls. */
    requestTimeoutMs: z.number().int().positive().default(5_000),
    /**
     * Operations per `/v1/txn` (Consul's cap: 128 per the Transactions API page, 64 in older releases). A commit
     * that needs more is staged under `<prefix>.ballast/v/<N>/` and switched by one pointer key.
     */
    txnMaxOps: z.number().int().min(8).default(64),
    /**
     * Watch requests per second (a token bucket with `burst`): an answer that does not block (no or a 0
     * `X-Consul-Index`, a key rewritten in a loop) cannot turn the watch into a busy loop.
     */
    watchRateLimit: z
      .object({ burst: z.number().int().positive().default(100), perSecond: z.number().positive().default(100) })
      .strict()
      .default({ burst: 100, perSecond: 100 }),
    name: z.string().min(1).optional(),
  })
  .strict();

export type ConsulSourceOptions = z.input<typeof consulSourceSchema>;
