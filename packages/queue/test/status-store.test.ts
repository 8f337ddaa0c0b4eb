/**
 * The RabbitMQ backend's status stores: the Redis one coalesces the creates and moves of one tick into one
 * script call (applied in call order, each caller getting its own result), and both stores answer the same
 * way to the same operations — on a single Redis and on the local Cluster.
 */
import type { RedisClient } from '@ballast/core';
import { countCommands } from '@ballast/testkit';
import { useRedisClusterFixture, useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { type JobState, MemoryStatusStore, RedisStatusStore, type StatusStore } from '../src/index';

const fx = useRedisFixture({ name: 'queue-status' });
const cfx = useRedisClusterFixture({ name: 'queue-status-cluster' });
let n = 0;

/** One tick of mixed operations, with the answers a store must give. */
async function mixedTick(store: StatusStore) {
  return Promise.all([
    store.create('a', { name: 't' }, 'waiting', 1),
    store.create('b', { name: 't' }, 'waiting', 2),
    store.create('a', { name: 'again' }, 'waiting', 3),
    store.move('a', { state: 'active', score: 10, set: { processedAt: 10 } }),
    store.move('gone', { state: 'active', score: 10 }),
    store.move('b', { state: 'completed', score: 11, keep: [-1, -1] }),
    store.move('b', { state: 'active', score: 12, unlessState: ['completed', 'failed', 'dead'] }),
    store.move('a', { incr: { attemptsMade: 2 }, appendError: '{"attempt":1}', ifState: 'active' }),
    store.move('a', { incr: { attemptsMade: 5 }, ifState: 'waiting' }),
  ]);
}
const MIXED = [true, true, false, true, false, true, false, true, false];

async function snapshot(store: StatusStore) {
  const states: JobState[] = ['waiting', 'active', 'completed'];
  const lists = await Promise.all(states.map((s) => store.list(s, 0, 10)));
  const a = await store.get('a');
  return {
    lists,
    a: { state: a?.state, attemptsMade: a?.attemptsMade, errors: a?.errors, processedAt: a?.processedAt },
  };
}

describe('RedisStatusStore', () => {
  it('sends the creates and moves of one tick as one script call, in order, each with its own answer', async () => {
    const counted = countCommands(fx.current.redis);
    const store = new RedisStatusStore(counted.client as RedisClient, `s${n++}`, fx.current.prefix);
    // The script is loaded by the first call (EVALSHA, then EVAL after NOSCRIPT): count from the next one.
    await store.isPaused();
    await store.create('warm', { name: 't' }, 'waiting', 0);
    const before = counted.sent();
    expect(await mixedTick(store)).toEqual(MIXED);
    expect(counted.sent() - before).toBe(1);
  });

  it('splits a large tick into calls of at most 500 operations', async () => {
    const counted = countCommands(fx.current.redis);
    const store = new RedisStatusStore(counted.client as RedisClient, `s${n++}`, fx.current.prefix);
    await store.create('warm', { name: 't' }, 'waiting', 0);
    const before = counted.sent();
    const ids = Array.from({ length: 1_200 }, (_, i) => `j${i}`);
    const created = await Promise.all(ids.map((id, i) => store.create(id, { name: 't' }, 'waiting', i)));
    expect(created.every(Boolean)).toBe(true);
    expect(counted.sent() - before).toBe(3);
    expect((await store.counts()).waiting).toBe(1_201);
  });

  it('answers like the memory store, on a single Redis and on the Cluster', async () => {
    const memory = new MemoryStatusStore();
    const single = new RedisStatusStore(fx.current.redis, `s${n++}`, fx.current.prefix);
    const cluster = new RedisStatusStore(cfx.cluster, `s${n++}`, cfx.prefix);
    for (const store of [memory, single, cluster]) expect(await mixedTick(store)).toEqual(MIXED);
    const expected = await snapshot(memory);
    expect(expected).toEqual({
      lists: [[], ['a'], ['b']],
      a: { state: 'active', attemptsMade: '2', errors: '[{"attempt":1}]', processedAt: '10' },
    });
    expect(await snapshot(single)).toEqual(expected);
    expect(await snapshot(cluster)).toEqual(expected);
  });
});
