/**
 * Platform configuration through @ballast/config-center: typed (zod), layered (defaults < remote),
 * the remote layer in a Redis hash (hot via pub/sub) or in memory. The chaos switches the story flips live
 * here, so a failure is injected the way an operator would: one config write every instance sees.
 */
import { type Config, createConfig, defaults, memoryStore, redisHash } from '@ballast/config-center';
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
    /** blockchain-service answers ledger writes this many ms late (0: at once). */
    blockchainDelayMs: z.number().int().min(0).max(30_000),
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

export function createPlatformConfig(redis: RedisClient | undefined, prefix: string, secret: string) {
  return createConfig({
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
        chaos: {
          blockchain: false,
          blockchainDelayMs: 0,
          blockchainRollback: false,
          xiaoke: false,
          xiaokeModelDown: false,
        },
      }),
      remoteLayer('health-platform', redis, prefix),
    ],
  });
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
