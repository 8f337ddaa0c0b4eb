import { createLogger, type Redis } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';
import { isEventValidationError } from '../src/errors';
import { eventKeys } from '../src/keys';

const fx = useRedisFixture({ name: 'event-bus-coalesce' });
const logger = createLogger({ level: 'silent' });
const events = {
  'order.placed': z.object({ n: z.number() }),
  'order.shipped': z.object({ n: z.number() }),
};
let run = 0;

/** A bus on its own prefix, and the commands its client sends (by name). */
function setup() {
  const prefix = `${fx.current.prefix}:c${run++}:`;
  const redis = fx.current.redis as Redis;
  const sent: string[] = [];
  const send = redis.sendCommand.bind(redis);
  const spy = vi.spyOn(redis, 'sendCommand').mockImplementation((command, stream) => {
    sent.push(command.name);
    return send(command, stream);
  });
  const bus = createEventBus({ redis, prefix, source: 'shop', events, logger });
  const done = async () => {
    spy.mockRestore();
    await bus.close();
  };
  return { bus, redis, sent, keys: eventKeys(prefix), done };
}

describe('concurrent publish() on standalone Redis', () => {
  it('sends the publishes of one tick in one script call, each resolving with its own id, both streams written', async () => {
    const { bus, redis, sent, keys, done } = setup();
    const ids = await Promise.all(Array.from({ length: 200 }, (_, n) => bus.publish('order.placed', { n })));
    // Today: one EVALSHA per publish (200).
    expect(sent.filter((c) => c === 'evalsha' || c === 'eval')).toHaveLength(1);
    expect(new Set(ids).size).toBe(200);
    const stream = (await redis.xrange(keys.stream('order.placed'), '-', '+')) as [string, string[]][];
    // Each call got the event id of its own data, in call order.
    expect(stream.map(([, f]) => JSON.parse(f[f.indexOf('data') + 1]!).n)).toEqual([...Array(200).keys()]);
    expect(stream.map(([, f]) => f[f.indexOf('event_id') + 1])).toEqual(ids);
    const all = (await redis.xrange(keys.all(), '-', '+')) as [string, string[]][];
    expect(all.map(([, f]) => f[f.indexOf('event_id') + 1])).toEqual(ids);
    await done();
  });

  it('splits a large tick into bounded script calls, still one per 500 events', async () => {
    const { bus, sent, done } = setup();
    const ids = await Promise.all(Array.from({ length: 1_200 }, (_, n) => bus.publish('order.placed', { n })));
    expect(new Set(ids).size).toBe(1_200);
    expect(sent.filter((c) => c === 'evalsha' || c === 'eval')).toHaveLength(3);
    await done();
  });

  it('rejects only the call whose event is invalid or whose stream fails; the others of the tick are written', async () => {
    const { bus, redis, keys, done } = setup();
    // The shipped stream's key holds a string: Redis fails those XADDs with WRONGTYPE.
    await redis.set(keys.stream('order.shipped'), 'not a stream');
    const results = await Promise.allSettled([
      bus.publish('order.placed', { n: 1 }),
      bus.publish('order.placed', { n: 'two' } as never),
      bus.publish('order.shipped', { n: 3 }),
      bus.publish('order.placed', { n: 4 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(isEventValidationError((results[1] as PromiseRejectedResult).reason)).toBe(true);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    const placed = (await redis.xrange(keys.stream('order.placed'), '-', '+')) as [string, string[]][];
    expect(placed.map(([, f]) => JSON.parse(f[f.indexOf('data') + 1]!).n)).toEqual([1, 4]);
    expect(await redis.xlen(keys.all())).toBe(2);
    await done();
  });

  it('publishMany joins the tick too and keeps its order', async () => {
    const { bus, redis, sent, keys, done } = setup();
    const [many, one] = await Promise.all([
      bus.publishMany('order.placed', [{ data: { n: 1 } }, { data: { n: 2 } }]),
      bus.publish('order.placed', { n: 3 }),
    ]);
    expect(sent.filter((c) => c === 'evalsha' || c === 'eval')).toHaveLength(1);
    const stream = (await redis.xrange(keys.stream('order.placed'), '-', '+')) as [string, string[]][];
    expect(stream.map(([, f]) => f[f.indexOf('event_id') + 1])).toEqual([...many, one]);
    await done();
  });

  it('loads the script again after SCRIPT FLUSH (NOSCRIPT falls back to EVAL, nothing written twice)', async () => {
    const { bus, redis, keys, done } = setup();
    await bus.publish('order.placed', { n: 0 });
    await redis.script('FLUSH');
    await Promise.all([bus.publish('order.placed', { n: 1 }), bus.publish('order.placed', { n: 2 })]);
    expect(await redis.xlen(keys.stream('order.placed'))).toBe(3);
    await done();
  });
});
