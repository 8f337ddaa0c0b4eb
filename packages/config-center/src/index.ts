export { ConsulConfigStore, type ConsulConfigStoreOptions, normalizePrefix } from './backends/consul';
export { MemoryConfigStore, type MemoryConfigStoreOptions } from './backends/memory';
export { RedisConfigStore, type RedisConfigStoreOptions } from './backends/redis';
export { Config, type CreateConfigOptions, createConfig, type DegradedModeSwitch } from './config';
export {
  type ConsulKv,
  type ConsulKvOptions,
  createConsulKv,
  type KvListOptions,
  type KvPair,
  type KvTxnOp,
  type KvTxnResult,
} from './consul-kv';
export { diffEntries, type EntryChange } from './diff';
export * from './errors';
export { interpolateString, interpolateTree } from './interpolate';
export { configKeys } from './keys';
export {
  type ConfigOptions,
  type ConsulSourceOptions,
  configOptionsSchema,
  consulSourceSchema,
  type EnvSourceOptions,
  envSourceSchema,
  type FileSourceOptions,
  fileSourceSchema,
} from './options';
export { type ConfigFormat, formatOf, parseDocument } from './parse';
export type { ConfigPath, ConfigValue, DeepReadonly, Path, PathValue } from './paths';
export { loadFromFile, type PushToConsulOptions, pushToConsul } from './push';
export { isSecretKey, REDACTED, redactEntries } from './redact';
export {
  type ConsulLayersOptions,
  consulKv,
  consulLayers,
  type DefaultsSource,
  defaults,
  type EnvSource,
  env,
  type FileSource,
  file,
  memoryStore,
  type RemoteSource,
  redisHash,
  remote,
  type Source,
} from './sources';
export type { CommitMeta, ConfigStore, StoreState, VersionRecord } from './store';
export { deepMerge, flatten, type Tree, unflatten } from './tree';
export type { ConfigChange } from './watchers';
export type { WriteOptions } from './writes';
