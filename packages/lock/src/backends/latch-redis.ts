import { childLogger, defineScript, guardRedis, type Logger, type RedisClient, runScript } from '@ballast/core';
import type { LatchBackend } from '../latch-backend';
import latchCountDownSource from '../lua/latch-count-down.lua';
import latchTrySetSource from '../lua/latch-try-set.lua';
import { latchKeys } from '../primitive-keys';
import { ChannelHub } from './channels';

const TRY_SET = defineScript('latch:try-set', latchTrySetSource);
const COUNT_DOWN = defineScript('latch:count-down', latchCountDownSource);

export interface RedisLatchBackendOptions {
  redis: RedisClient;
  /** A connection for SUBSCRIBE; default `redis.duplicate()`, created on first `await`. */
  subscriber?: RedisClient;
  prefix?: string;
  logger?: Logger;
  commandTimeoutMs?: number;
}

/** Latches on Redis: a count key per latch, counted down by a script that publishes when it reaches zero. */
export class RedisLatchBackend implements LatchBackend {
  readonly kind = 'redis';
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #hub: ChannelHub;

  constructor(o: RedisLatchBackendOptions) {
    this.#redis = guardRedis(o.redis, { commandTimeoutMs: o.commandTimeoutMs });
    this.#prefix = o.prefix ?? 'ballast';
    this.#hub = new ChannelHub({
      redis: o.redis,
      subscriber: o.subscriber,
      logger: childLogger(o.logger, { component: 'latch-backend' }),
      what: 'latch',
      commandTimeoutMs: o.commandTimeoutMs,
    });
  }

  async trySetCount(name: string, count: number, ttlMs: number): Promise<boolean> {
    const k = latchKeys(this.#prefix, name);
    return (await runScript<number>(this.#redis, TRY_SET, [k.count], [count, Math.ceil(ttlMs)])) === 1;
  }

  async countDown(name: string): Promise<number> {
    const k = latchKeys(this.#prefix, name);
    return Number(await runScript<number>(this.#redis, COUNT_DOWN, [k.count], [k.opened]));
  }

  async getCount(name: string): Promise<number> {
    return Number((await this.#redis.get(latchKeys(this.#prefix, name).count)) ?? 0);
  }

  onOpen(name: string, listener: () => void): { off: () => void; ready: Promise<void> } {
    return this.#hub.listen(latchKeys(this.#prefix, name).opened, listener);
  }

  async close(): Promise<void> {
    this.#hub.close();
  }
}
