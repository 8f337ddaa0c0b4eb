/**
 * Backends from flags or the usual environment variables: `--redis` / `REDIS_URL` (default
 * redis://127.0.0.1:6379), `--prefix` / `BALLAST_PREFIX` (default `ballast`). A Redis that does not answer
 * within `--timeout` (default 5 s) is a `CliError` naming it — the command never hangs.
 */
import type { Redis } from 'ioredis';
import { CliError, EXIT } from './io';

export interface ConnectionOptions {
  redis?: string;
  prefix?: string;
  timeout?: number;
}

export function redisUrl(o: ConnectionOptions): string {
  return o.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export function prefixOf(o: ConnectionOptions): string {
  return o.prefix ?? process.env.BALLAST_PREFIX ?? 'ballast';
}

/** Runs `fn` with a connected Redis client and always disconnects. */
export async function withRedis<T>(o: ConnectionOptions, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const url = redisUrl(o);
  const timeoutMs = o.timeout ?? 5_000;
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: unknown;
  redis.on('error', (e) => {
    lastError = e;
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    // The 'error' event has the cause (ECONNREFUSED, ENOTFOUND…); the rejection only says the link closed.
    const first = lastError ?? error;
    const cause = first instanceof Error ? first.message : String(first);
    throw new CliError(`Redis at ${url} is unreachable: ${cause}`, EXIT.failure);
  }
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
