/**
 * Platform configuration through @ballast/config-center: typed (zod), layered (defaults < remote),
 * the remote layer in a Redis hash (hot via pub/sub) or in memory. The chaos switches the story flips live
 * here, so a failure is injected the way an operator would: one config write every instance sees.
 */
import {
  type Config,
  type ConfigStore,
  createConfig,
  defaults,
  MemoryConfigStore,
  memoryStore,
  RedisConfigStore,
  redisHash,
  remote,
} from '@ballast/config-center';
import type { RedisClient } from '@ballast/core';
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
    /** blockchain-service fails rollbacks (a compensation that cannot succeed). */
    blockchainRollback: z.boolean(),
    /** xiaoke-service refuses new analysis tasks. */
    xiaoke: z.boolean(),
    /** What xiaoke's health checker sees of its (simulated) model backend. */
    xiaokeModelDown: z.boolean(),
  }),
});
export type PlatformConfig = Config<typeof platformSchema>;

export const xiaokeSchema = z.object({
  service: z.object({ degraded_mode: z.boolean() }),
  analysis: z.object({ workers: z.number().int().positive(), timeoutMs: z.number().int().positive() }),
});
export type XiaokeConfig = Config<typeof xiaokeSchema>;

function remoteLayer(name: string, redis: RedisClient | undefined, prefix: string) {
  return redis ? redisHash({ redis, name, prefix }) : memoryStore();
}

/** The platform config's remote layer: a Redis hash (hot via pub/sub) or memory. Its owner closes it. */
export function platformConfigStore(redis: RedisClient | undefined, prefix: string): ConfigStore {
  return redis ? new RedisConfigStore({ redis, name: 'health-platform', prefix }) : new MemoryConfigStore();
}

/**
 * Defaults < the remote `store` (shared with the dashboard's config panel). The chaos switches are written to
 * the remote once, so an operator sees them there and flips them as flags.
 */
export async function createPlatformConfig(store: ConfigStore, secret: string) {
  const config = await createConfig({
    schema: platformSchema,
    sources: [
      defaults({
        gateway: {
          breakerResetMs: 3_000,
          retryInitialMs: 100,
          rateLimitPerSecond: 200,
          rateLimitBurst: 400,
          trustedProxies: [],
        },
        auth: { jwtSecret: secret, tokenTtlSeconds: 3_600, adminEmails: ['ops@health-platform.local'] },
        chaos: { blockchain: false, blockchainRollback: false, xiaoke: false, xiaokeModelDown: false },
      }),
      remote(store),
    ],
  });
  const { entries } = await store.read();
  if (!Object.keys(entries).some((k) => k.startsWith('chaos'))) {
    await config.setMany({ chaos: config.get('chaos') }, { message: 'the chaos switches, all off' });
  }
  return config;
}

export function createXiaokeConfig(redis: RedisClient | undefined, prefix: string) {
  return createConfig({
    schema: xiaokeSchema,
    sources: [
      defaults({ service: { degraded_mode: false }, analysis: { workers: 4, timeoutMs: 10_000 } }),
      remoteLayer('xiaoke-service', redis, prefix),
    ],
  });
}
