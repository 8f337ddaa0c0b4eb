import { createLogger } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisTransport } from '../src/backends/redis';
import { createEventBus, type EventBus } from '../src/bus';
import type { EventEnvelope } from '../src/envelope';
import { healthPlatformEvents } from '../src/schemas';

const fx = useRedisFixture({ name: 'event-bus' });
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

describe('event bus on real Redis', () => {
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

  it('redelivers a failed entry after its backoff, and acks it once handled', async () => {
    const b = bus();
    const c = collector<number>(2);
    await b.subscribe(
      'user.login',
      (_e, ctx) => {
        c.push(ctx.deliveries);
        if (ctx.deliveries === 1) throw new Error('transient');
      },
      { ...fast, retryBackoff: { initialMs: 30, maxMs: 30, jitter: 'none' } },
    );
    await b.publish('user.login', { email: 'a@b.co' });
    await c.all;
    expect(c.got).toEqual([1, 2]);
    await expect.poll(async () => (await b.groups('user.login'))[0]?.pending).toBe(0);
  });

  it('dead-letters after exactly maxDeliveries, with the reason, and replay delivers it again', async () => {
    const b = bus();
    let calls = 0;
    let healthy = false;
    const dead = collector<unknown>(1);
    const handled = collector<string>(1);
    const sub = await b.subscribe(
      'system.alert',
      (e) => {
        calls++;
        if (!healthy) throw new Error('downstream is down');
        handled.push(e.event_id);
      },
      { ...fast, maxDeliveries: 3, retryBackoff: { initialMs: 10, maxMs: 10, jitter: 'none' } },
    );
    sub.onDeadLetter((d) => dead.push(d));
    const id = await b.publish('system.alert', { severity: 'critical', message: 'disk full' });
    await dead.all;
    expect(calls).toBe(3);
    const [letter] = await b.dlq.list('system.alert');
    expect(letter).toMatchObject({ deliveries: 3, group: 'group:system.alert' });
    expect(letter!.reason).toMatch(/handler failed 3 times: downstream is down/);
    expect(JSON.parse(letter!.fields.data!)).toEqual({ severity: 'critical', message: 'disk full' });
    expect((await b.groups('system.alert'))[0]?.pending).toBe(0);
    healthy = true;
    await b.dlq.replay('system.alert', letter!.id);
    await handled.all;
    expect(handled.got).toEqual([id]);
    expect(await b.dlq.list('system.alert')).toEqual([]);
  });

  it('schema-invalid and undecodable payloads go to the DLQ and never stop the consumer', async () => {
    const b = bus();
    const keys = (b.transport as RedisTransport).keys;
    const good = collector<string>(1);
    const dead = collector<string>(2);
    const sub = await b.subscribe('user.registered', (e) => good.push(e.data.username), fast);
    sub.onDeadLetter((d) => dead.push(d.reason));
    // Written around the bus, as a buggy or foreign producer would.
    await b.transport.publish('user.registered', {
      event_id: 'x1',
      event_type: 'user.registered',
      source_service: 'legacy',
      timestamp: new Date().toISOString(),
      data: JSON.stringify({ email: 'not-an-email' }),
    });
    await fx.current.redis.xadd(keys.stream('user.registered'), '*', 'garbage', '\u0000\u0001');
    await b.publish('user.registered', { email: 'bob@example.com', username: 'bob' });
    await Promise.all([good.all, dead.all]);
    expect(good.got).toEqual(['bob']);
    expect(dead.got.some((r) => r.startsWith('invalid data:') && r.includes('email'))).toBe(true);
    expect(dead.got.some((r) => r.startsWith('undecodable: missing field "event_id"'))).toBe(true);
    expect(await b.dlq.list('user.registered')).toHaveLength(2);
  });

  it("takes over a crashed consumer's entries after the idle timeout", async () => {
    const b = bus();
    // A consumer that read and died: its entry stays pending under its name.
    await b.transport.ensureGroup('diagnosis.completed', 'group:diagnosis.completed');
    await b.publish('diagnosis.completed', { diagnosisId: 'd1', result: 'ok' });
    const [taken] = await b.transport.read('diagnosis.completed', 'group:diagnosis.completed', 'crashed', 10, 0);
    expect(taken).toBeDefined();
    const c = collector<{ id: string; deliveries: number }>(1);
    await b.subscribe(
      'diagnosis.completed',
      (e, ctx) => c.push({ id: e.data.diagnosisId, deliveries: ctx.deliveries }),
      {
        ...fast,
        idleTimeoutMs: 150,
      },
    );
    await c.all;
    expect(c.got).toEqual([{ id: 'd1', deliveries: 2 }]);
  });

  it('a handler slower than the idle timeout keeps its entry: its lease is renewed', async () => {
    const b = bus();
    const opts = { ...fast, idleTimeoutMs: 150, renewIntervalMs: 30, claimIntervalMs: 20 };
    const seen: string[] = [];
    let release: () => void = () => {};
    const started = new Promise<void>((r) => {
      release = r;
    });
    let finish: () => void = () => {};
    const slow = new Promise<void>((r) => {
      finish = r;
    });
    await b.subscribe(
      'health_record.updated',
      async (_e, ctx) => {
        seen.push(`A:${ctx.deliveries}`);
        release();
        await slow;
      },
      { ...opts, consumer: 'A' },
    );
    await b.publish('health_record.updated', { recordId: 'r1' });
    await started;
    await b.subscribe('health_record.updated', (_e, ctx) => void seen.push(`B:${ctx.deliveries}`), {
      ...opts,
      consumer: 'B',
    });
    // Four idle timeouts pass while A works; B polls for stale entries every 20 ms the whole time.
    await new Promise((r) => setTimeout(r, 600));
    finish();
    await expect.poll(async () => (await b.groups('health_record.updated'))[0]?.pending).toBe(0);
    expect(seen).toEqual(['A:1']);
  });

  it('close() drains: stops reading, finishes the in-flight handler, acks it', async () => {
    const b = bus();
    let finished = false;
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    const sub = await b.subscribe(
      'recommendation.generated',
      async () => {
        entered();
        await new Promise((r) => setTimeout(r, 100));
        finished = true;
      },
      fast,
    );
    await b.publish('recommendation.generated', { recommendationId: 'x' });
    await inHandler;
    await sub.close();
    expect(finished).toBe(true);
    expect((await b.groups('recommendation.generated'))[0]?.pending).toBe(0);
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
    await new Promise((r) => setTimeout(r, 5)); // idle ≥ 1 ms for every consumer
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
