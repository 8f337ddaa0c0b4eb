import { type Cluster, createLogger, type Redis } from '@ballast/core';
import { useRedisClusterFixture, useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemoryTransport } from '../src/backends/memory';
import { createEventBus, publishEventLua } from '../src/bus';
import { isCrossSlotError, isEventValidationError, isOutboxUnsupportedError } from '../src/errors';
import { eventKeys } from '../src/keys';

const fx = useRedisFixture({ name: 'event-bus-outbox' });
const cfx = useRedisClusterFixture({ name: 'event-bus-outbox-cluster' });
const logger = createLogger({ level: 'silent' });
const events = { 'order.placed': z.object({ orderId: z.string() }) };
let run = 0;

type Entry = [string, string[]];
const field = ([, f]: Entry, name: string) => f[f.indexOf(name) + 1];

/** Receives the next event of the bus's default group. */
async function nextEvent(bus: ReturnType<typeof createEventBus<typeof events>>) {
  let got: (v: { id: string; orderId: string }) => void = () => {};
  const received = new Promise<{ id: string; orderId: string }>((r) => {
    got = r;
  });
  const sub = await bus.subscribe('order.placed', (e) => got({ id: e.event_id, orderId: e.data.orderId }), {
    blockMs: 50,
  });
  return { received, close: () => sub.close() };
}

describe('outbox on standalone Redis', () => {
  const setup = () => {
    const prefix = `${fx.current.prefix}:o${run++}:`;
    const redis = fx.current.redis as Redis;
    return { redis, keys: eventKeys(prefix), bus: createEventBus({ redis, prefix, source: 'shop', events, logger }) };
  };

  it('publishIn writes the event in the caller’s MULTI: both streams and the state commit together, then it is consumed', async () => {
    const { redis, keys, bus } = setup();
    const state = `${keys.stream('order.placed')}:state`;
    const tx = redis.multi().set(state, 'placed');
    const eventId = bus.publishIn(tx, 'order.placed', { orderId: 'o1' });
    expect(await redis.xlen(keys.stream('order.placed'))).toBe(0); // nothing before exec
    await tx.exec();
    expect(await redis.get(state)).toBe('placed');
    const [entry] = (await redis.xrange(keys.stream('order.placed'), '-', '+')) as Entry[];
    expect(field(entry!, 'event_id')).toBe(eventId);
    expect(((await redis.xrange(keys.all(), '-', '+')) as Entry[]).map((e) => field(e, 'event_id'))).toEqual([eventId]);
    const consumer = await nextEvent(bus);
    expect(await consumer.received).toEqual({ id: eventId, orderId: 'o1' });
    await consumer.close();
    await bus.close();
  });

  it('publishes nothing when the caller’s transaction aborts (WATCH)', async () => {
    const { redis, keys, bus } = setup();
    const state = `${keys.stream('order.placed')}:state`;
    const watcher = redis.duplicate();
    await watcher.watch(state);
    await redis.set(state, 'changed by someone else');
    const tx = watcher.multi().set(state, 'placed');
    bus.publishIn(tx, 'order.placed', { orderId: 'o2' });
    expect(await tx.exec()).toBeNull();
    expect(await redis.xlen(keys.stream('order.placed'))).toBe(0);
    expect(await redis.exists(keys.all())).toBe(0);
    watcher.disconnect();
    await bus.close();
  });

  it('prepare + publishEventLua publish from the caller’s own script, atomically with its writes', async () => {
    const { redis, keys, bus } = setup();
    const state = `${keys.stream('order.placed')}:state`;
    const ev = bus.prepare('order.placed', { orderId: 'o3' });
    expect(ev.keys).toEqual([keys.stream('order.placed'), keys.all()]);
    const script = `${publishEventLua}
redis.call('SET', KEYS[1], ARGV[1])
local id, next = ballast_publish(KEYS[2], KEYS[3], ARGV, 2)
return {id, ARGV[next]}`;
    const [id, after] = (await redis.eval(
      script,
      1 + ev.keys.length,
      state,
      ...ev.keys,
      'placed',
      ...ev.args,
      'tail',
    )) as [string, string];
    expect(after).toBe('tail'); // the caller's arguments after the event's are found
    expect(await redis.get(state)).toBe('placed');
    const [entry] = (await redis.xrange(keys.stream('order.placed'), '-', '+')) as Entry[];
    expect(entry![0]).toBe(id);
    expect(field(entry!, 'event_id')).toBe(ev.eventId);
    expect(await redis.xlen(keys.all())).toBe(1);
    const consumer = await nextEvent(bus);
    expect(await consumer.received).toEqual({ id: ev.eventId, orderId: 'o3' });
    await consumer.close();
    await bus.close();
  });

  it('validates like publish and refuses a transport without MULTI, with typed errors', async () => {
    const { redis, bus } = setup();
    const tx = redis.multi();
    expect(isEventValidationError(catching(() => bus.publishIn(tx, 'order.placed', { orderId: 1 } as never)))).toBe(
      true,
    );
    tx.discard();
    const memory = createEventBus({ transport: new MemoryTransport(), source: 's', events, logger });
    expect(isOutboxUnsupportedError(catching(() => memory.prepare('order.placed', { orderId: 'x' })))).toBe(true);
    await Promise.all([bus.close(), memory.close()]);
  });
});

describe('outbox on Redis Cluster', () => {
  const setup = () => {
    const prefix = `${cfx.prefix}:o${run++}:`;
    const cluster = cfx.cluster as Cluster;
    return {
      cluster,
      keys: eventKeys(prefix),
      bus: createEventBus({ redis: cluster, prefix, source: 'shop', events, logger }),
    };
  };

  it('publishIn commits with state of the same slot (hash tag {type}); events:all is not written there', async () => {
    const { cluster, keys, bus } = setup();
    const state = `${keys.stream('order.placed')}:state`; // …events:{order.placed}:state, same slot
    const tx = cluster.multi().set(state, 'placed');
    const eventId = bus.publishIn(tx, 'order.placed', { orderId: 'c1' });
    await tx.exec();
    expect(await cluster.get(state)).toBe('placed');
    const [entry] = (await cluster.xrange(keys.stream('order.placed'), '-', '+')) as Entry[];
    expect(field(entry!, 'event_id')).toBe(eventId);
    expect(await cluster.exists(keys.all())).toBe(0);
    const consumer = await nextEvent(bus);
    expect(await consumer.received).toEqual({ id: eventId, orderId: 'c1' });
    await consumer.close();
    await bus.close();
  });

  it('refuses keys of another slot with CrossSlotError naming them, before anything is sent', async () => {
    const { cluster, keys, bus } = setup();
    const other = `${cfx.prefix}:orders:o1`; // no hash tag: another slot
    const tx = cluster.multi().set(other, 'placed');
    const error = catching(() => bus.publishIn(tx, 'order.placed', { orderId: 'c2' }));
    expect(isCrossSlotError(error)).toBe(true);
    expect(error).toMatchObject({ eventType: 'order.placed', keys: [other] });
    tx.discard();
    const prepared = catching(() => bus.prepare('order.placed', { orderId: 'c3' }, { sameSlotAs: [other] }));
    expect(isCrossSlotError(prepared)).toBe(true);
    // Same-slot script on the Cluster: one key of the event (events:all is in another slot).
    const ev = bus.prepare('order.placed', { orderId: 'c4' }, { sameSlotAs: [`${keys.stream('order.placed')}:s`] });
    expect(ev.keys).toEqual([keys.stream('order.placed')]);
    await cluster.eval(`${publishEventLua}\nreturn ballast_publish(KEYS[1], nil, ARGV, 1)`, 1, ...ev.keys, ...ev.args);
    expect(await cluster.xlen(keys.stream('order.placed'))).toBe(1);
    await bus.close();
  });
});

function catching(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
