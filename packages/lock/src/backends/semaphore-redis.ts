import { childLogger, defineScript, guardRedis, type Logger, type RedisClient, runScript } from '@ballast/core';
import semaphoreAcquireSource from '../lua/semaphore-acquire.lua';
import semaphoreAvailableSource from '../lua/semaphore-available.lua';
import semaphoreExtendSource from '../lua/semaphore-extend.lua';
import semaphoreReleaseSource from '../lua/semaphore-release.lua';
import { semaphoreKeys } from '../primitive-keys';
import type { SemaphoreAttempt, SemaphoreBackend } from '../semaphore-backend';
import { ChannelHub } from './channels';

const ACQUIRE = defineScript('semaphore:acquire', semaphoreAcquireSource);
const EXTEND = defineScript('semaphore:extend', semaphoreExtendSource);
const RELEASE = defineScript('semaphore:release', semaphoreReleaseSource);
const AVAILABLE = defineScript('semaphore:available', semaphoreAvailableSource);

export interface RedisSemaphoreBackendOptions {
  redis: RedisClient;
  /** A connection for SUBSCRIBE (release wake-ups); default `redis.duplicate()`, created on first wait. */
  subscriber?: RedisClient;
  prefix?: string;
  logger?: Logger;
  /** Each command's bound (core's `guardRedis`): past it, a call fails with `BackendUnavailableError`. Default 5 s. */
  commandTimeoutMs?: number;
}

/** Semaphores on Redis: acquire, extend, release and available are one Lua script each; expiries on the server's clock. */
export class RedisSemaphoreBackend implements SemaphoreBackend {
  readonly kind = 'redis';
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #hub: ChannelHub;

  constructor(o: RedisSemaphoreBackendOptions) {
    this.#redis = guardRedis(o.redis, { commandTimeoutMs: o.commandTimeoutMs });
    this.#prefix = o.prefix ?? 'ballast';
    this.#hub = new ChannelHub({
      redis: o.redis,
      subscriber: o.subscriber,
      logger: childLogger(o.logger, { component: 'semaphore-backend' }),
      what: 'semaphore',
      commandTimeoutMs: o.commandTimeoutMs,
    });
  }

  async tryAcquire(
    name: string,
    holder: string,
    permits: number,
    limit: number,
    ttlMs: number,
  ): Promise<SemaphoreAttempt> {
    const k = semaphoreKeys(this.#prefix, name);
    const r = await runScript<number[]>(
      this.#redis,
      ACQUIRE,
      [k.holders, k.expiry],
      [holder, permits, limit, Math.ceil(ttlMs)],
    );
    if (r[0] === -1) throw new Error(`semaphore holder id "${holder}" is in use`);
    return r[0] === 1 ? { acquired: true, left: Number(r[1]) } : { acquired: false, retryAfterMs: Number(r[1]) };
  }

  async extend(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const k = semaphoreKeys(this.#prefix, name);
    return (await runScript<number>(this.#redis, EXTEND, [k.holders, k.expiry], [holder, Math.ceil(ttlMs)])) === 1;
  }

  async release(name: string, holder: string): Promise<boolean> {
    const k = semaphoreKeys(this.#prefix, name);
    return (await runScript<number>(this.#redis, RELEASE, [k.holders, k.expiry], [holder, k.released])) === 1;
  }

  async available(name: string, limit: number): Promise<number> {
    const k = semaphoreKeys(this.#prefix, name);
    return Number(await runScript<number>(this.#redis, AVAILABLE, [k.holders, k.expiry], [limit]));
  }

  onRelease(name: string, listener: () => void): { off: () => void; ready: Promise<void> } {
    return this.#hub.listen(semaphoreKeys(this.#prefix, name).released, listener);
  }

  async close(): Promise<void> {
    this.#hub.close();
  }
}
