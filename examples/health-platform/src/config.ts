/**
 * Platform configuration through @ballast/config-center: typed (zod), in its four layers —
 * defaults < `config/health-platform.yaml` (shipped with the example, hot-reloaded) < Consul KV (the run's
 * Consul: the emulator, or a real one with `CONSUL_HTTP_ADDR`; versioned check-and-set commits, watched with
 * blocking queries) < env (`HP_CONFIG_…`). Each process keeps a disk cache of the Consul layer (last-known-good:
 * it starts even when Consul does not answer). The chaos switches the story flips are Consul KV writes, so a
 * failure is injected the way an operator would: one config commit every process sees.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Config,
  type ConfigStore,
  ConsulConfigStore,
  consulKv,
  createConfig,
  defaults,
  env,
  file,
} from '@ballast/config-center';
import type { Logger } from '@ballast/core';
import { z } from 'zod';

export const platformSchema = z.object({
  gateway: z.object({
    /** Seed 003: reset after 30 s; the demo shortens it so the story sees recovery. */
    breakerResetMs: z.number().int().positive(),
    retryInitialMs: z.number().int().min(0),
    rateLimitPerSecond: z.number().int().positive(),
    rateLimitBurst: z.number().int().positive(),
    /**
     * Peers whose `X-Forwarded-For` the gateway believes (proxy-addr's trust list: addresses, CIDRs or
     * `loopback`/`linklocal`/`uniquelocal`). Empty by default: the rate limit keys on the TCP peer, so a client
     * cannot pick its own key by sending the header.
     */
    trustedProxies: z.array(z.string()),
  }),
  auth: z.object({
    jwtSecret: z.string().min(16),
    tokenTtlSeconds: z.number().int().positive(),
    /** Accounts whose login token carries `role: 'admin'` (needed for `/admin/*`, `/service-cache/clear`). */
    adminEmails: z.array(z.string()),
  }),
  chaos: z.object({
    /** blockchain-service answers 500 to every ledger call. */
    blockchain: z.boolean(),
    /** blockchain-service answers ledger writes this many ms late (0: at once). */
    blockchainDelayMs: z.number().int().min(0).max(30_000),
    /** blockchain-service fails rollbacks (a compensation that cannot succeed). */
    blockchainRollback: z.boolean(),
    /** xiaoke-service refuses new analysis tasks. */
    xiaoke: z.boolean(),
    /** xiaoke-service's `/diagnose` answers 500 (its diagnosis model crashes mid-consultation). */
    xiaokeDiagnose: z.boolean(),
    /** What xiaoke's health checker sees of its (simulated) model backend. */
    xiaokeModelDown: z.boolean(),
    /** This one instance id (e.g. `rag-service-2`) answers 500 to every call but its health check ('' : none). */
    failInstance: z.string(),
  }),
});
export type PlatformConfig = Config<typeof platformSchema>;

export const xiaokeSchema = z.object({
  service: z.object({ degraded_mode: z.boolean() }),
  analysis: z.object({ workers: z.number().int().positive(), timeoutMs: z.number().int().positive() }),
});
export type XiaokeConfig = Config<typeof xiaokeSchema>;

/** Where one run keeps its config: a Consul KV prefix per run (concurrent runs share nothing). */
export interface ConfigPlace {
  consulUrl: string;
  /** The run's key prefix. */
  prefix: string;
  /** Names this process's disk cache file. */
  process: string;
  logger?: Logger;
}

export const CONFIG_FILE = fileURLToPath(new URL('../config/health-platform.yaml', import.meta.url));

/** The Consul KV prefix of one config of one run. */
export const consulPrefix = (name: string, runPrefix: string) => `health-platform/${runPrefix}/${name}/`;

const cacheFile = (name: string, place: ConfigPlace) =>
  join(tmpdir(), `${place.prefix}.${place.process}.${name}.config.json`);

/**
 * The platform config's Consul KV layer as a store of its own: the gateway's dashboard shows its versions and
 * flips its flags through it. Its owner closes it.
 */
export function platformConfigStore(place: Pick<ConfigPlace, 'consulUrl' | 'prefix'>): ConfigStore {
  return new ConsulConfigStore({
    prefix: consulPrefix('platform', place.prefix),
    url: place.consulUrl,
    waitMs: 10_000,
  });
}

/**
 * `seed`: the process that starts the run (the supervisor, or the one process) writes the chaos switches to Consul
 * once, all off, so an operator sees them there and flips them as flags.
 */
export async function createPlatformConfig(place: ConfigPlace, secret: string, options: { seed?: boolean } = {}) {
  const config = await createConfig({
    schema: platformSchema,
    cacheFile: cacheFile('platform', place),
    // The secret is per run and never leaves the processes' memory: not in Consul, not in the cache file.
    cache: { redact: ['auth.jwtSecret'] },
    ...(place.logger ? { logger: place.logger } : {}),
    sources: [
      defaults({
        gateway: {
          breakerResetMs: 30_000,
          retryInitialMs: 100,
          rateLimitPerSecond: 100,
          rateLimitBurst: 200,
          trustedProxies: [],
        },
        auth: { jwtSecret: secret, tokenTtlSeconds: 3_600, adminEmails: [] },
        chaos: {
          blockchain: false,
          blockchainDelayMs: 0,
          blockchainRollback: false,
          xiaoke: false,
          xiaokeDiagnose: false,
          xiaokeModelDown: false,
          failInstance: '',
        },
      }),
      file(CONFIG_FILE),
      consulKv({ prefix: consulPrefix('platform', place.prefix), url: place.consulUrl, waitMs: 10_000 }),
      env({ prefix: 'HP_CONFIG_' }),
    ],
  });
  if (options.seed) {
    const store = platformConfigStore(place);
    try {
      const { entries } = await store.read();
      if (!Object.keys(entries).some((k) => k.startsWith('chaos'))) {
        await config.setMany({ chaos: config.get('chaos') }, { message: 'the chaos switches, all off' });
      }
    } finally {
      await store.close();
    }
  }
  return config;
}

export function createXiaokeConfig(place: ConfigPlace) {
  return createConfig({
    schema: xiaokeSchema,
    cacheFile: cacheFile('xiaoke', place),
    ...(place.logger ? { logger: place.logger } : {}),
    sources: [
      defaults({ service: { degraded_mode: false }, analysis: { workers: 4, timeoutMs: 10_000 } }),
      consulKv({ prefix: consulPrefix('xiaoke-service', place.prefix), url: place.consulUrl, waitMs: 10_000 }),
      env({ prefix: 'HP_XIAOKE_' }),
    ],
  });
}
