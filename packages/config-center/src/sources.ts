import { parseOptions, type RedisClient } from '@ballast/core';
import { z } from 'zod';
import { ConsulConfigStore, type ConsulConfigStoreOptions } from './backends/consul';
import { MemoryConfigStore, type MemoryConfigStoreOptions } from './backends/memory';
import { RedisConfigStore, type RedisConfigStoreOptions } from './backends/redis';
import { type EnvSourceOptions, envSourceSchema, type FileSourceOptions, fileSourceSchema } from './options';
import type { ConfigFormat } from './parse';
import type { ConfigStore } from './store';
import type { Tree } from './tree';

/** Fixed layer order, whatever order sources are listed in: defaults < file < remote < env. */
export const LAYER_RANK = { defaults: 0, file: 1, remote: 2, env: 3 } as const;

export interface DefaultsSource {
  readonly kind: 'defaults';
  readonly name: string;
  readonly values: Tree;
}

export interface FileSource {
  readonly kind: 'file';
  readonly name: string;
  readonly path: string;
  readonly format: ConfigFormat | undefined;
  readonly optional: boolean;
  readonly watch: boolean;
  readonly debounceMs: number;
  readonly interpolate: boolean;
}

export interface RemoteSource {
  readonly kind: 'remote';
  readonly name: string;
  readonly store: ConfigStore;
  /** Close the store with the config (true when the source created it). */
  readonly owned: boolean;
}

export interface EnvSource {
  readonly kind: 'env';
  readonly name: string;
  readonly prefix: string;
  readonly separator: string;
}

export type Source = DefaultsSource | FileSource | RemoteSource | EnvSource;

/** The lowest layer: values in code. */
export function defaults(values: Tree): DefaultsSource {
  return { kind: 'defaults', name: 'defaults', values };
}

/** A JSON, YAML or TOML file, hot-reloaded (debounced) and interpolated (`${VAR}`, `${VAR:-default}`). */
export function file(path: string, options: FileSourceOptions = {}): FileSource {
  const o = parseOptions(fileSourceSchema, { ...options, path }, `file("${path}")`);
  return {
    kind: 'file',
    name: `file:${path}`,
    path: o.path,
    format: o.format,
    optional: o.optional,
    watch: o.watch,
    debounceMs: o.debounceMs,
    interpolate: o.interpolate,
  };
}

/** Environment variables: `<prefix>DB__POOL__MAX=20` → `db.pool.max = 20` (JSON-parsed when it parses). */
export function env(options: EnvSourceOptions = {}): EnvSource {
  const o = parseOptions(envSourceSchema, options, 'env()');
  return { kind: 'env', name: `env:${o.prefix || '*'}`, prefix: o.prefix, separator: o.separator };
}

/** Any `ConfigStore` as the remote layer. The caller closes a store it passes in. */
export function remote(store: ConfigStore, name: string = store.name): RemoteSource {
  return { kind: 'remote', name, store, owned: false };
}

/** An in-process remote layer (a `MemoryConfigStore`), or a shared one passed in. */
export function memoryStore(options: MemoryConfigStoreOptions | { store: MemoryConfigStore } = {}): RemoteSource {
  if ('store' in options) return remote(options.store, 'memory');
  return { kind: 'remote', name: 'memory', store: new MemoryConfigStore(options), owned: true };
}

/** The remote layer in a Redis hash, propagated by pub/sub (see `RedisConfigStore`). */
export function redisHash(options: RedisConfigStoreOptions & { redis: RedisClient }): RemoteSource {
  const store = new RedisConfigStore(options);
  return { kind: 'remote', name: store.name, store, owned: true };
}

/** The remote layer in Consul KV under `prefix` (seed 000: `services/{name}/`), hot via blocking queries. */
export function consulKv(options: ConsulConfigStoreOptions): RemoteSource {
  const store = new ConsulConfigStore(options);
  return { kind: 'remote', name: store.name, store, owned: true };
}

const layerName = z
  .string()
  .min(1)
  .refine((v) => !v.includes('/'), 'no "/" (it would nest the KV prefix)');

const consulLayersSchema = z
  .object({
    /** The application name: `config/<service>/`. */
    service: layerName,
    /** Active profiles, lowest precedence first: `config/<service>,<profile>/`. */
    profiles: z.array(layerName).default([]),
    /** KV root (spring.cloud.consul.config.prefix). */
    root: z.string().min(1).default('config'),
    /** The layer every service reads (spring.cloud.consul.config.default-context). */
    defaultContext: layerName.default('application'),
    /** Between the context and a profile (spring.cloud.consul.config.profile-separator). */
    profileSeparator: z.string().min(1).default(','),
  })
  .passthrough();

export type ConsulLayersOptions = Omit<ConsulConfigStoreOptions, 'prefix' | 'name' | 'historyPrefix'> &
  z.input<typeof consulLayersSchema>;

/**
 * Spring Cloud Consul's layout as remote sources, lowest precedence first: `<root>/<defaultContext>/`, then
 * `<root>/<defaultContext><sep><profile>/` per profile, then the same for `<service>` — so the service beats the
 * shared layer, a profile beats no profile, and a later profile beats an earlier one. Missing prefixes are empty
 * layers. `set` writes to the first remote source unless `{ source: 'consul:<root>/<service>/' }` names one.
 */
export function consulLayers(options: ConsulLayersOptions): RemoteSource[] {
  const { service, profiles, root, defaultContext, profileSeparator, ...store } = parseOptions(
    consulLayersSchema,
    options,
    'consulLayers',
  ) as z.output<typeof consulLayersSchema> & Omit<ConsulConfigStoreOptions, 'prefix'>;
  const base = root.replace(/\/+$/, '');
  const prefixes: string[] = [];
  for (const context of [defaultContext, service]) {
    prefixes.push(`${base}/${context}/`);
    for (const p of profiles) prefixes.push(`${base}/${context}${profileSeparator}${p}/`);
  }
  return prefixes.map((prefix) => consulKv({ ...store, prefix }));
}
