/**
 * The contract-suite pattern, shown on a toy interface. Real packages do the same with their store or
 * transport: one `defineContract`, then one line per backend. The memory backend must pass exactly what
 * the Redis backend passes against the real server.
 */
import { expect, it } from 'vitest';
import { defineContract, useRedisFixture } from '../src/vitest';

interface CounterStore {
  incr(key: string, by?: number): Promise<number>;
  get(key: string): Promise<number>;
  reset(key: string): Promise<void>;
}

class MemoryCounterStore implements CounterStore {
  readonly #values = new Map<string, number>();
  async incr(key: string, by = 1) {
    const v = (this.#values.get(key) ?? 0) + by;
    this.#values.set(key, v);
    return v;
  }
  async get(key: string) {
    return this.#values.get(key) ?? 0;
  }
  async reset(key: string) {
    this.#values.delete(key);
  }
}

const counterContract = defineContract<CounterStore>('CounterStore', (make) => {
  it('starts at zero and counts', async () => {
    const s = await make();
    expect(await s.get('a')).toBe(0);
    expect(await s.incr('a')).toBe(1);
    expect(await s.incr('a', 4)).toBe(5);
    expect(await s.get('a')).toBe(5);
  });

  it('keeps keys apart and resets one', async () => {
    const s = await make();
    await s.incr('a', 2);
    await s.incr('b', 3);
    await s.reset('a');
    expect([await s.get('a'), await s.get('b')]).toEqual([0, 3]);
  });

  it('is atomic under concurrent increments', async () => {
    const s = await make();
    await Promise.all(Array.from({ length: 50 }, () => s.incr('c')));
    expect(await s.get('c')).toBe(50);
  });
});

counterContract('memory', { create: () => new MemoryCounterStore() });

const fx = useRedisFixture({ name: 'contract-example' });
let instance = 0;
counterContract('redis', {
  create: () => {
    const { redis, key } = fx.current;
    const ns = `i${instance++}`; // every test gets a fresh namespace
    return {
      incr: (k, by = 1) => redis.incrby(key(ns, k), by),
      get: async (k) => Number((await redis.get(key(ns, k))) ?? 0),
      reset: async (k) => void (await redis.del(key(ns, k))),
    } satisfies CounterStore;
  },
  destroy: () => fx.current.cleanup().then(() => undefined),
});
