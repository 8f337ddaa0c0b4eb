import { createLogger } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisTransport } from '../src/backends/redis';
import { createEventBus, type EventBus } from '../src/bus';
import type { EventEnvelope } from '../src/envelope';
import { healthPlatformEvents } from '../src/schemas';
import { busContract } from './bus.contract';

const fx = useRedisFixture({ name: 'event-bus' });

/**
 * Test helper: ages every pending entry of every group of a stream by ARGV[1] ms — what the passing of that
 * much time does to Redis' idle times — keeping its consumer and delivery count.
 * KEYS[1] events:{type}; ARGV[1] ms. Returns the number of entries aged.
 */
const AGE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = 0
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name
  for i = 1, #g, 2 do if g[i] == 'name' then name = g[i + 1] end end
  for _, p in ipairs(redis.call('XPENDING', KEYS[1], name, '-', '+', 100000)) do
    redis.call('XCLAIM', KEYS[1], name, p[2], 0, p[1], 'IDLE', p[3] + tonumber(ARGV[1]), 'JUSTID')
    n = n + 1
  end
end
return n`;
const AGE_STEP_MS = 250;
let backends = 0;

// The bus-level scenarios on the real server: the bus's timers on a fake clock, Redis' idle times moved on
// in step with it (AGE), blocking reads kept short so the consumers' loops turn over in real time.
busContract('redis', {
  create: () => {
    const clock = new FakeClock();
    const transport = new RedisTransport({
      redis: fx.current.redis,
      prefix: `${fx.current.prefix}:suite${backends++}:`,
      clock,
    });
    return {
      transport,
      clock,
      async advance(ms, types) {
        for (let left = ms; left > 0; left -= AGE_STEP_MS) {
          const step = Math.min(AGE_STEP_MS, left);
          for (const type of types) await fx.current.redis.eval(AGE, 1, transport.keys.stream(type), step);
          await clock.advance(step);
        }
      },
      subscribeDefaults: { blockMs: 20 },
      allLength: () => fx.current.redis.xlen(transport.keys.all()),
    };
  },
  destroy: ({ transport }) => transport.close(),
});
const quiet = createLogger({ level: 'silent' });
const buses: EventBus<typeof healthPlatformEvents>[] = [];
afterEach(async () => {
  for (const b of buses.splice(0)) await b.close();
});

let seq = 0;
/** A bus under its own key prefix: tests never see each other's streams or groups. */
function bus(source = 'user-service') {
  const b = createEventBus({
    transport: new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:${seq++}:` }),
    source,
    events: healthPlatformEvents,
    logger: quiet,
  });
  buses.push(b);
  return b;
}

/** Resolves when `n` events have been collected. */
function collector<T>(n: number) {
  const got: T[] = [];
  let done: () => void = () => {};
  const all = new Promise<void>((r) => {
    done = r;
  });
  return {
    got,
    all,
    push(v: T) {
      got.push(v);
      if (got.length === n) done();
    },
  };
}

const fast = { blockMs: 50, claimIntervalMs: 20, idleTimeoutMs: 5_000 };

describe('event bus on real Redis: keys and scripts', () => {
  it("publishes seed 000's envelope to events:{type} and events:all, and a subscriber gets it", async () => {
    const b = bus();
    const c = collector<EventEnvelope>(1);
    await b.subscribe('user.registered', (e) => c.push(e), fast);
    const id = await b.publish(
      'user.registered',
      { email: 'ann@example.com', username: 'ann' },
      { userId: 'u1', correlationId: 'c1' },
    );
    await c.all;
    expect(c.got[0]).toMatchObject({
      event_id: id,
      event_type: 'user.registered',
      source_service: 'user-service',
      data: { email: 'ann@example.com', username: 'ann' },
      user_id: 'u1',
      correlation_id: 'c1',
    });
    expect(new Date(c.got[0]!.timestamp).toISOString()).toBe(c.got[0]!.timestamp);
    const keys = (b.transport as RedisTransport).keys;
    expect(await fx.current.redis.xlen(keys.stream('user.registered'))).toBe(1);
    expect(await fx.current.redis.xlen(keys.all())).toBe(1);
  });

  it('group-aware trim never removes an entry a group has not acknowledged', async () => {
    const b = bus();
    const t = b.transport;
    const type = 'user.login';
    await t.ensureGroup(type, 'g1');
    await t.ensureGroup(type, 'g2');
    for (let i = 0; i < 10; i++) await b.publish(type, { email: `u${i}@x.io` });
    const r1 = await t.read(type, 'g1', 'c', 100, 0);
    await t.ack(
      type,
      'g1',
      r1.map((e) => e.id),
    );
    const r2 = await t.read(type, 'g2', 'c', 100, 0);
    await t.ack(
      type,
      'g2',
      r2.slice(0, 4).map((e) => e.id),
    );
    expect(await b.trim(type)).toBe(4);
    const keys = (b.transport as RedisTransport).keys;
    const left = (await fx.current.redis.xrange(keys.stream(type), '-', '+')).map(([id]) => id);
    expect(left).toEqual(r2.slice(4).map((e) => e.id));
    await t.ack(
      type,
      'g2',
      r2.slice(4).map((e) => e.id),
    );
    expect(await b.trim(type)).toBe(6);
  });

  it('rejects invalid data on publish with a typed error naming the field', async () => {
    const b = bus();
    await expect(b.publish('user.registered', { email: 'nope', username: '' } as never)).rejects.toMatchObject({
      code: 'EVENT_INVALID',
      issues: expect.arrayContaining([
        expect.objectContaining({ path: 'email' }),
        expect.objectContaining({ path: 'username' }),
      ]),
    });
    await expect(b.publish('no.such' as never, {} as never)).rejects.toMatchObject({ code: 'UNKNOWN_EVENT_TYPE' });
  });
});

describe('maintenance', () => {
  it('trims acknowledged entries and removes idle consumers with nothing pending, never one with pending', async () => {
    const b = bus();
    const t = b.transport;
    const done = collector<string>(3);
    const sub = await b.subscribe('user.login', (e) => done.push(e.event_id), {
      ...fast,
      maintenanceIntervalMs: 0,
      removeIdleConsumersAfterMs: 1,
    });
    for (let i = 0; i < 3; i++) await b.publish('user.login', { email: `m${i}@x.io` });
    await done.all;
    await expect.poll(async () => (await b.groups('user.login'))[0]?.pending).toBe(0);
    await sub.close();
    // A consumer that read one entry and vanished keeps it pending: it must survive the cleanup.
    await b.publish('user.login', { email: 'held@x.io' });
    const held = await t.read('user.login', 'group:user.login', 'vanished', 1, 0);
    expect(held).toHaveLength(1);
    // Every consumer idle ≥ 1 ms by the server's clock (the condition removal needs, not a guessed wait).
    await expect.poll(async () => (await b.groups('user.login'))[0]!.consumers.every((c) => c.idleMs >= 1)).toBe(true);
    const result = await sub.maintain();
    expect(result.trimmed).toBe(3);
    const consumers = (await b.groups('user.login'))[0]!.consumers.map((c) => c.name);
    expect(result.removedConsumers).toEqual([sub.consumer]);
    expect(consumers).toEqual(['vanished']);
    expect((await b.groups('user.login'))[0]!.pending).toBe(1);
  });
});

describe('publishMany', () => {
  it('validates every item first, then publishes the burst; recovers from an emptied script cache without duplicates', async () => {
    const b = bus();
    const keys = (b.transport as RedisTransport).keys;
    await expect(
      b.publishMany('user.login', [{ data: { email: 'ok@x.io' } }, { data: { email: 'bad' } }]),
    ).rejects.toMatchObject({ code: 'EVENT_INVALID' });
    expect(await fx.current.redis.exists(keys.stream('user.login'))).toBe(0);
    await fx.current.redis.script('FLUSH'); // other tests' scripts reload on their own (EVALSHA → EVAL)
    const ids = await b.publishMany('user.login', [
      { data: { email: 'a@x.io' }, userId: 'u1' },
      { data: { email: 'b@x.io' } },
      { data: { email: 'c@x.io' } },
    ]);
    expect(new Set(ids).size).toBe(3);
    const entries = await fx.current.redis.xrange(keys.stream('user.login'), '-', '+');
    expect(entries.map(([, f]) => f[f.indexOf('event_id') + 1])).toEqual(ids);
    expect(await fx.current.redis.xlen(keys.all())).toBe(3);
  });
});
