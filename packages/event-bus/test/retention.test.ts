// §3 retention: age limits against entry ids, the live-group floor, dead groups (warning + metric), the DLQ
// caps — on Redis (old entries written with explicit old ids: Redis' clock cannot be faked; consumer idle times
// are the server's, so the dead-group case waits a short real time) and on the memory transport (FakeClock).
import type { Redis } from '@ballast/core';
import { captureLogs, FakeClock } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemoryTransport } from '../src/backends/memory';
import { RedisTransport } from '../src/backends/redis';
import { createEventBus, type EventBus } from '../src/bus';
import { fieldsOf, idsOf, publishN } from './transport-helpers';
import { policy } from './transport-retention.cases';

const collect = useInMemoryMetrics();
const fx = useRedisFixture({ name: 'event-bus-retention' });
let n = 0;
const transports: RedisTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) await t.close();
});

function redisTransport(): RedisTransport {
  const t = new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:${n++}:` });
  transports.push(t);
  return t;
}

/** Appends entries with ids `ageMs` in the past (what the stream would hold had they been published then). */
async function addOld(redis: Redis, key: string, ageMs: number, count: number): Promise<string[]> {
  const ms = Date.now() - ageMs;
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) ids.push((await redis.xadd(key, `${ms}-${i}`, 'n', `old${i}`)) as string);
  return ids;
}

async function counter(name: string, attrs: Record<string, string>): Promise<number> {
  const points = ((await collect())(name)?.dataPoints ?? []) as {
    attributes: Record<string, unknown>;
    value: number;
  }[];
  return points
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((a, p) => a + p.value, 0);
}

describe('retention on Redis', () => {
  const HOUR = 3_600_000;

  it('maxAgeMs removes old entries of a stream no group reads, and keeps fresh ones', async () => {
    const t = redisTransport();
    const key = t.keys.stream('t');
    await addOld(fx.current.redis, key, HOUR, 3);
    const fresh = await publishN(t, 't', 2);
    expect((await t.trim('t')).trimmed).toBe(0); // no limit, no group: nothing
    expect((await t.trim('t', policy({ maxAgeMs: 60_000 }))).trimmed).toBe(3);
    expect((await fx.current.redis.xrange(key, '-', '+')).map(([id]) => id)).toEqual(fresh);
  });

  it('maxAgeMs never passes a live group: its pending entry and its undelivered ones stay', async () => {
    const t = redisTransport();
    await t.ensureGroup('t', 'g');
    const old = await addOld(fx.current.redis, t.keys.stream('t'), HOUR, 3);
    await publishN(t, 't', 1);
    const p = policy({ maxAgeMs: 60_000, deadGroupAfterMs: HOUR });
    expect(idsOf(await t.read('t', 'g', 'c', 2, 0))).toEqual(old.slice(0, 2));
    await t.ack('t', 'g', [old[0]!]);
    expect((await t.trim('t', p)).trimmed).toBe(1); // old[0]; old[1] is pending
    await t.ack('t', 'g', [old[1]!]);
    expect((await t.trim('t', p)).trimmed).toBe(1); // old[1]; old[2] is not delivered yet
    const rest = await t.read('t', 'g', 'c', 10, 0);
    expect(rest[0]!.id).toBe(old[2]);
    await t.ack('t', 'g', idsOf(rest));
    expect((await t.trim('t', p)).trimmed).toBe(2); // old[2], and the fresh one everybody acknowledged
  });

  it('a group whose consumers were silent for deadGroupAfterMs stops holding old entries back', async () => {
    const t = redisTransport();
    await t.ensureGroup('t', 'g');
    const old = await addOld(fx.current.redis, t.keys.stream('t'), HOUR, 3);
    await t.read('t', 'g', 'c', 1, 0); // old[0] pending for c, then c goes silent
    const p = policy({ maxAgeMs: 60_000, deadGroupAfterMs: 400 });
    expect(await t.trim('t', p)).toEqual({ trimmed: 0, dlqTrimmed: 0, deadGroups: [] });
    // The server's idle time of c is what makes the group dead: wait for it, as the server reports it.
    await expect
      .poll(async () => (await t.groups('t'))[0]!.consumers[0]!.idleMs, { timeout: 3_000, interval: 50 })
      .toBeGreaterThanOrEqual(400);
    expect(await t.trim('t', p)).toEqual({ trimmed: 3, dlqTrimmed: 0, deadGroups: ['g'] });
    expect(await fx.current.redis.xlen(t.keys.stream('t'))).toBe(0);
    expect(old).toHaveLength(3);
  });

  it('the DLQ is capped by age too', async () => {
    const t = redisTransport();
    await addOld(fx.current.redis, t.keys.dlq('t'), HOUR, 2);
    await t.ensureGroup('t', 'g');
    await t.publish('t', fieldsOf(0));
    const [e] = await t.read('t', 'g', 'c', 1, 0);
    await t.deadLetter('t', 'g', 'c', e!, 'bad');
    expect((await t.trim('t', policy({ dlqMaxAgeMs: 60_000 }))).dlqTrimmed).toBe(2);
    expect((await t.listDeadLetters('t')).map((d) => d.originalId)).toEqual([e!.id]);
  });
});

describe('retention through the bus (memory transport, FakeClock)', () => {
  const events = { 'a.happened': z.object({ i: z.number() }), 'b.happened': z.object({ i: z.number() }) };
  let bus: EventBus<typeof events> | undefined;
  afterEach(async () => {
    await bus?.close();
  });

  it("the bus's timer trims by age, warns and counts a dead group's loss and the DLQ cap", async () => {
    const clock = new FakeClock();
    const logs = captureLogs({ level: 'warn' });
    const transport = new MemoryTransport({ clock });
    bus = createEventBus({
      transport,
      clock,
      logger: logs.logger,
      source: 'test',
      events,
      retention: { maxAgeMs: 60_000, deadGroupAfterMs: 120_000, dlqMaxLen: 1, intervalMs: 30_000 },
    });
    // a.happened: nobody subscribes; b.happened: a group whose only consumer holds one entry and goes silent.
    for (let i = 0; i < 3; i++) await bus.publish('a.happened', { i });
    await transport.ensureGroup('b.happened', 'gone');
    for (let i = 0; i < 3; i++) await bus.publish('b.happened', { i });
    const [held, dead1, dead2] = await transport.read('b.happened', 'gone', 'c', 3, 0);
    await transport.deadLetter('b.happened', 'gone', 'c', dead1!, 'bad');
    await transport.deadLetter('b.happened', 'gone', 'c', dead2!, 'bad');

    await clock.advance(90_000); // past maxAgeMs; c silent 90 s < deadGroupAfterMs
    await expect.poll(() => transport.entries('a.happened').length).toBe(0);
    // held is pending in a live group: it and everything after it stay.
    expect(transport.entries('b.happened').map((e) => e.id)).toEqual([held!.id, dead1!.id, dead2!.id]);
    expect((await bus.dlq.list('b.happened')).length).toBe(1);
    const dlqLine = await logs.waitFor((l) => l.msg === 'dead letters dropped by the DLQ caps');
    expect(dlqLine).toMatchObject({ eventType: 'b.happened', dropped: 1 });
    expect(await counter('ballast_event_bus_dlq_trimmed_total', { type: 'b.happened' })).toBe(1);
    expect(await counter('ballast_event_bus_dead_group_trims_total', { group: 'gone' })).toBe(0);

    await clock.advance(60_000); // c silent 150 s: the group is dead
    const line = await logs.waitFor((l) => String(l.msg).startsWith('retention trimmed entries a dead consumer group'));
    expect(line).toMatchObject({ eventType: 'b.happened', group: 'gone', level: 40 });
    expect(transport.entries('b.happened')).toEqual([]);
    expect(await counter('ballast_event_bus_dead_group_trims_total', { type: 'b.happened', group: 'gone' })).toBe(1);
    expect(await counter('ballast_event_bus_trimmed_total', { type: 'a.happened' })).toBe(3);
  });

  it('retention options are validated with the field named', () => {
    expect(() => createEventBus({ source: 's', events, retention: { maxAgeMs: -1 } as never })).toThrowError(
      /retention\.maxAgeMs/,
    );
  });
});
