// §4 per-key ordering on Redis Streams: `publish(type, data, { partitionKey })` and `ordered` subscribers.
// The chaos case publishes CHAOS_EVENTS events over 100 keys while consumers are killed (their Redis
// connection cut and their handlers silenced at once, as a process kill would) and replaced; every key's
// events must be handled in publish order — a redelivery may repeat only the key's latest event (the one the
// killed consumer had not acknowledged) — and none may be lost. CHAOS_EVENTS=50000 for a long run.
import type { Redis } from '@ballast/core';
import { createLogger } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemoryTransport } from '../src/backends/memory';
import { RedisTransport } from '../src/backends/redis';
import { createEventBus, type EventBus } from '../src/bus';
import { partitionOf, partitionType } from '../src/ordered';

const fx = useRedisFixture({ name: 'event-bus-ordered' });
const events = { 'order.step': z.object({ key: z.string(), seq: z.number().int() }) };
type Bus = EventBus<typeof events>;
const quiet = createLogger({ level: 'silent' });
const CHAOS_EVENTS = Number(process.env.CHAOS_EVENTS ?? 10_000);
const KEYS = 100;
let n = 0;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

function busOn(redis: Redis, prefix: string, partitions = 8): Bus {
  const bus = createEventBus({
    transport: new RedisTransport({ redis, prefix, logger: quiet }),
    source: 'test',
    events,
    partitions,
    logger: quiet,
    retention: { intervalMs: 0 },
  });
  cleanup.push(async () => {
    await bus.close();
    await bus.transport.close();
  });
  return bus;
}

/** Per key: the seqs handled, in handling order; `violations` lists every handling out of publish order. */
function orderLog() {
  const max = new Map<string, number>();
  const seen = new Map<string, Set<number>>();
  const violations: string[] = [];
  let distinct = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    violations,
    get distinct() {
      return distinct;
    },
    record(key: string, seq: number) {
      const m = max.get(key) ?? -1;
      // In order: the next one, or the latest again (redelivered after a kill before its ack).
      if (seq !== m + 1 && seq !== m) violations.push(`${key}: ${seq} after ${m}`);
      if (seq > m) max.set(key, seq);
      const s = seen.get(key) ?? new Set<number>();
      seen.set(key, s);
      if (!s.has(seq)) {
        s.add(seq);
        distinct += 1;
        for (const w of waiters.filter((w) => distinct >= w.count)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    },
    until(count: number): Promise<void> {
      if (distinct >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
  };
}

describe('per-key ordering (Redis)', () => {
  it('partitionKey routes to the partition stream; the key of a failing event waits, other keys go on', async () => {
    const prefix = `${fx.current.prefix}:basic${n++}:`;
    const bus = busOn(fx.current.redis, prefix, 4);
    const keys = (bus.transport as RedisTransport).keys;
    const log: string[] = [];
    let failuresLeft = 2;
    let released: () => void = () => {};
    const allDone = new Promise<void>((r) => {
      released = r;
    });
    await bus.subscribe(
      'order.step',
      async (e) => {
        const { key, seq } = e.data;
        if (key === 'a' && seq === 1 && failuresLeft-- > 0) {
          log.push(`${key}${seq}!`);
          throw new Error('transient');
        }
        log.push(`${key}${seq}`);
        if (log.filter((l) => !l.endsWith('!')).length === 6) released();
      },
      { ordered: true, retryBackoff: { initialMs: 100, factor: 1, maxMs: 100, jitter: 'none' }, orderedPollMs: 10 },
    );
    for (let seq = 0; seq < 3; seq++) {
      for (const key of ['a', 'b']) await bus.publish('order.step', { key, seq }, { partitionKey: key });
    }
    await allDone;
    const stream = keys.stream(partitionType('order.step', partitionOf('a', 4)));
    expect(await fx.current.redis.exists(stream)).toBe(1);
    expect(await fx.current.redis.exists(keys.stream('order.step'))).toBe(0); // nothing in the plain stream
    const of = (k: string) => log.filter((l) => l.startsWith(k));
    expect(of('a')).toEqual(['a0', 'a1!', 'a1!', 'a1', 'a2']);
    expect(of('b')).toEqual(['b0', 'b1', 'b2']);
    // b went on while a1 waited out its backoffs (keys never wait on each other, in one partition or two).
    expect(log.indexOf('b2')).toBeLessThan(log.indexOf('a1'));
  });

  it('synchronous handlers: per-key order, a `false` blocks its key until handled, other keys go on', async () => {
    const bus = busOn(fx.current.redis, `${fx.current.prefix}:sync${n++}:`, 4);
    const log: string[] = [];
    let failuresLeft = 2;
    let released: () => void = () => {};
    const allDone = new Promise<void>((r) => {
      released = r;
    });
    await bus.subscribe(
      'order.step',
      (e) => {
        const { key, seq } = e.data;
        if (key === 'a' && seq === 1 && failuresLeft-- > 0) {
          log.push(`${key}${seq}!`);
          return false;
        }
        log.push(`${key}${seq}`);
        if (log.filter((l) => !l.endsWith('!')).length === 6) released();
        return undefined;
      },
      { ordered: true, retryBackoff: { initialMs: 100, factor: 1, maxMs: 100, jitter: 'none' }, orderedPollMs: 10 },
    );
    for (let seq = 0; seq < 3; seq++) {
      for (const key of ['a', 'b']) await bus.publish('order.step', { key, seq }, { partitionKey: key });
    }
    await allDone;
    const of = (k: string) => log.filter((l) => l.startsWith(k));
    expect(of('a')).toEqual(['a0', 'a1!', 'a1!', 'a1', 'a2']);
    expect(of('b')).toEqual(['b0', 'b1', 'b2']);
    expect(log.indexOf('b2')).toBeLessThan(log.indexOf('a1'));
  });

  it('an event failing maxDeliveries times is dead-lettered and its key moves on', async () => {
    const bus = busOn(fx.current.redis, `${fx.current.prefix}:dlq${n++}:`, 2);
    const log: number[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const sub = await bus.subscribe(
      'order.step',
      (e) => {
        if (e.data.seq === 0) throw new Error('poison');
        log.push(e.data.seq);
        if (e.data.seq === 1) done();
      },
      { ordered: true, maxDeliveries: 2, retryBackoff: { initialMs: 10, jitter: 'none' }, orderedPollMs: 10 },
    );
    const dead: string[] = [];
    sub.onDeadLetter((d) => dead.push(d.reason));
    await bus.publish('order.step', { key: 'k', seq: 0 }, { partitionKey: 'k' });
    await bus.publish('order.step', { key: 'k', seq: 1 }, { partitionKey: 'k' });
    await finished;
    expect(dead).toEqual(['handler failed 2 times: poison']);
    expect(log).toEqual([1]);
  });

  it(`chaos: ${CHAOS_EVENTS} events over ${KEYS} keys, consumers killed and replaced: order per key, none lost`, async () => {
    const prefix = `${fx.current.prefix}:chaos${n++}:`;
    const order = orderLog();
    const publisher = busOn(fx.current.redis, prefix);
    const consumers: { bus: Bus; redis: Redis; dead: boolean }[] = [];
    const startConsumer = async () => {
      const redis = fx.current.redis.duplicate();
      redis.on('error', () => {}); // this test's own connection, cut on purpose by kill()
      const c = { bus: busOn(redis, prefix), redis, dead: false };
      cleanup.push(async () => redis.quit().then(() => undefined));
      consumers.push(c);
      await c.bus.subscribe(
        'order.step',
        async (e) => {
          if (c.dead) throw new Error('killed'); // a dead process runs nothing
          order.record(e.data.key, e.data.seq);
          await new Promise<void>((r) => setImmediate(r));
        },
        { ordered: true, concurrency: 50, batchSize: 50, orderedLeaseMs: 600, orderedPollMs: 5, drainTimeoutMs: 200 },
      );
    };
    const kill = (c: { redis: Redis; dead: boolean }) => {
      c.dead = true;
      c.redis.disconnect(); // no ack, no lease renewal, no release: like a killed process
    };
    for (let i = 0; i < 3; i++) await startConsumer();
    const perKey = CHAOS_EVENTS / KEYS;
    const publishing = (async () => {
      for (let seq = 0; seq < perKey; seq++) {
        await Promise.all(
          Array.from({ length: KEYS }, (_, k) =>
            publisher.publish('order.step', { key: `k${k}`, seq }, { partitionKey: `k${k}` }),
          ),
        );
      }
    })();
    for (const at of [0.2, 0.45, 0.7]) {
      await order.until(Math.floor(CHAOS_EVENTS * at));
      kill(consumers.find((c) => !c.dead)!);
      await startConsumer();
    }
    await publishing;
    // Bounded: a lost event fails the count below instead of the test's timeout.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([order.until(CHAOS_EVENTS), new Promise((r) => (bound = setTimeout(r, 30_000)))]);
    clearTimeout(bound);
    expect(order.violations).toEqual([]);
    expect(order.distinct).toBe(CHAOS_EVENTS);
  }, 60_000);
});

describe('per-key ordering (memory transport)', () => {
  it('routes by partitionKey and keeps each key in order', async () => {
    const bus = createEventBus({ transport: new MemoryTransport(), source: 't', events, partitions: 4 });
    cleanup.push(() => bus.close());
    const order = orderLog();
    await bus.subscribe('order.step', (e) => order.record(e.data.key, e.data.seq), {
      ordered: true,
      orderedPollMs: 5,
    });
    for (let seq = 0; seq < 20; seq++) {
      for (let k = 0; k < 5; k++) await bus.publish('order.step', { key: `k${k}`, seq }, { partitionKey: `k${k}` });
    }
    await order.until(100);
    expect(order.violations).toEqual([]);
  });
});

describe('ordered consumer housekeeping', () => {
  it("maintain() applies the bus's retention to every partition stream", async () => {
    const transport = new MemoryTransport();
    const bus = createEventBus({ transport, source: 't', events, partitions: 2, retention: { intervalMs: 0 } });
    cleanup.push(() => bus.close());
    const order = orderLog();
    const sub = await bus.subscribe('order.step', (e) => order.record(e.data.key, e.data.seq), {
      ordered: true,
      orderedPollMs: 5,
      maintenanceIntervalMs: 0,
    });
    for (let seq = 0; seq < 5; seq++) {
      for (const key of ['x', 'y', 'z']) await bus.publish('order.step', { key, seq }, { partitionKey: key });
    }
    await order.until(15);
    await expect.poll(async () => (await sub.maintain()).trimmed, { timeout: 2_000 }).toBeGreaterThan(0);
    await expect
      .poll(
        () =>
          transport.entries(partitionType('order.step', 0)).length +
          transport.entries(partitionType('order.step', 1)).length,
      )
      .toBe(0);
  });
});
