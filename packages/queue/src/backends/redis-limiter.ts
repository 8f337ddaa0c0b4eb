import { createKeyBuilder, defineScript, type ScriptBatcher } from '@ballast/core';
import type { LimiterStore } from '../limiter';
import takeSource from '../lua/limiter-take.lua';

const TAKE = defineScript('queue:limiter-take', takeSource);

/** A queue's limiter in Redis (same hash tag as its jobs): a TAT key and a block key, one script. */
export class RedisLimiterStore implements LimiterStore {
  readonly #keys: string[];

  constructor(
    private readonly batch: ScriptBatcher,
    name: string,
    prefix: string,
  ) {
    const b = createKeyBuilder({ prefix, scope: 'queue', tag: name });
    this.#keys = [b.key('limiter'), b.key('limited')];
  }

  async take(want: number, max: number, durationMs: number): Promise<{ granted: number; waitMs: number }> {
    const [granted, waitMs] = await this.batch.run<[number, number]>(TAKE, this.#keys, [
      durationMs / max,
      durationMs,
      want,
      0,
    ]);
    return { granted, waitMs };
  }

  async refund(count: number, max: number, durationMs: number): Promise<void> {
    await this.batch.run(TAKE, this.#keys, [durationMs / max, durationMs, 1, count]);
  }

  async block(ms: number): Promise<void> {
    // SET … GT keeps a longer block (Redis 7); PX from now.
    await this.batch.run(BLOCK, [this.#keys[1]!], [Math.max(1, Math.ceil(ms))]);
  }
}

const BLOCK = defineScript(
  'queue:limiter-block',
  "local left = redis.call('PTTL', KEYS[1])\n" +
    "if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end\nreturn 1",
);
