/** What the discovery-config scenario's parent and workers share: configs and the lines workers report. */

export interface ServiceSpec {
  name: string;
  /** `ttl`: TTL check with heartbeats (re-registers on a 404); `http`: HTTP check (re-registered by anti-entropy). */
  check: 'ttl' | 'http';
  instances: number;
}

export interface DiscoveryServiceConfig {
  consulUrl: string;
  services: ServiceSpec[];
  lifetimeMs: number;
}

export interface DiscoveryWatcherConfig {
  consulUrl: string;
  services: string[];
  lifetimeMs: number;
}

export interface ConfigClientConfig {
  consulUrl: string;
  /** Consul KV prefix the config reads and watches. */
  prefix: string;
  /** Sample `config.get()` every this many ms. */
  sampleEveryMs: number;
  lifetimeMs: number;
}

/** The config's schema has no defaults: a wiped prefix reads as an invalid config, which must never go live. */
export interface ChaosConfig {
  app: { value: number; generation: number };
}

/** A watcher line: passing instances of `service` at `at` (ms since epoch). */
export interface WatchReport {
  kind: 'watch';
  service: string;
  passing: number;
  at: number;
}

/** A config-client line: samples so far, gaps (get() undefined or invalid), generation served. */
export interface ConfigReport {
  kind: 'config';
  samples: number;
  gaps: number;
  generation: number;
  /** Remote updates refused by the schema (ConfigValidationError), e.g. the prefix wiped by an agent restart. */
  rejected: number;
  at: number;
  final?: boolean;
}
