import { type Cluster, createLogger, hashSlot } from '@ballast/core';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { RedisTransport } from '../src/backends/redis';
import { createEventBus } from '../src/bus';
import { healthPlatformEvents } from '../src/schemas';

const fx = useRedisClusterFixture({ name: 'bus-cluster' });
let cluster: Cluster;
const prefix = `${fx.prefix}:`;

beforeAll(() => {
  cluster = fx.cluster;
});
describe('event bus on Redis Cluster', () => {
  it('publishes to both streams (different slots), consumes, and dead-letters atomically per type', async () => {
    const transport = new RedisTransport({ redis: cluster, prefix });
    const keys = transport.keys;
    expect(hashSlot(keys.stream('system.alert'))).not.toBe(hashSlot(keys.all()));
    expect(hashSlot(keys.stream('system.alert'))).toBe(hashSlot(keys.dlq('system.alert')));
    const bus = createEventBus({
      transport,
      source: 'ops',
      events: healthPlatformEvents,
      logger: createLogger({ level: 'silent' }),
    });
    const seen: string[] = [];
    let release: () => void = () => {};
    const twoSeen = new Promise<void>((r) => {
      release = r;
    });
    await bus.subscribe(
      'system.alert',
      (e) => {
        seen.push(e.data.message);
        if (seen.length === 2) release();
        if (e.data.message === 'poison') throw new Error('cannot handle');
      },
      { blockMs: 100, claimIntervalMs: 20, maxDeliveries: 1 },
    );
    const ids = [
      await bus.publish('system.alert', { severity: 'warning', message: 'disk 80%' }),
      await bus.publish('system.alert', { severity: 'critical', message: 'poison' }),
    ];
    expect(await cluster.xlen(keys.stream('system.alert'))).toBe(2);
    const all = await cluster.xrange(keys.all(), '-', '+');
    expect(all.map(([, f]) => f[f.indexOf('event_id') + 1])).toEqual(ids);
    await twoSeen;
    await expect.poll(async () => (await bus.dlq.list('system.alert')).length).toBe(1);
    await expect.poll(async () => (await bus.groups('system.alert'))[0]?.pending).toBe(0);
    expect(await bus.trim('system.alert')).toBe(2);
    await bus.close();
    await transport.close();
  });

  it('retention: the group-aware trim and the DLQ cap run in one slot ({type}) on Cluster', async () => {
    const transport = new RedisTransport({ redis: cluster, prefix: `${prefix}ret:` });
    const type = 'system.alert';
    await transport.ensureGroup(type, 'live');
    await transport.ensureGroup(type, 'abandoned'); // no consumer: dead
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await transport.publish(type, { n: String(i) }));
    const read = await transport.read(type, 'live', 'c', 2, 0); // ids[0], ids[1] pending for a live group
    await transport.ack(type, 'live', [read[0]!.id]);
    await transport.deadLetter(type, 'live', 'c', read[1]!, 'bad');
    const policy = { maxAgeMs: 0, maxLen: 1, deadGroupAfterMs: 60_000, dlqMaxLen: 0, dlqMaxAgeMs: 0 };
    // live's floor is ids[2] (not delivered yet): the length limit stops there, past the dead group's.
    expect(await transport.trim(type, policy)).toEqual({ trimmed: 2, dlqTrimmed: 0, deadGroups: ['abandoned'] });
    expect((await transport.read(type, 'live', 'c', 10, 0)).map((e) => e.id)).toEqual(ids.slice(2));
    expect((await transport.trim(type, { ...policy, dlqMaxLen: 1 })).dlqTrimmed).toBe(0);
    await transport.close();
  });

  it('per-key ordering: partition streams, their leases and DLQs each stay in one slot', async () => {
    const transport = new RedisTransport({ redis: cluster, prefix: `${prefix}ord:` });
    const keys = transport.keys;
    const stream = keys.stream('system.alert:p1');
    expect(hashSlot(stream)).toBe(hashSlot(keys.dlq('system.alert:p1')));
    expect(hashSlot(stream)).toBe(hashSlot(keys.lease('system.alert:p1', 'g')));
    const bus = createEventBus({
      transport,
      source: 'ops',
      events: healthPlatformEvents,
      partitions: 4,
      retention: { intervalMs: 0 },
      logger: createLogger({ level: 'silent' }),
    });
    const seen: string[] = [];
    let release: () => void = () => {};
    const all = new Promise<void>((r) => {
      release = r;
    });
    await bus.subscribe(
      'system.alert',
      async (e) => {
        seen.push(e.data.message);
        await new Promise<void>((r) => setImmediate(r));
        if (seen.length === 20) release();
      },
      { ordered: true, orderedPollMs: 10 },
    );
    for (let i = 0; i < 10; i++) {
      for (const host of ['a', 'b']) {
        await bus.publish('system.alert', { severity: 'warning', message: `${host}${i}` }, { partitionKey: host });
      }
    }
    await all;
    for (const host of ['a', 'b']) {
      expect(seen.filter((m) => m.startsWith(host))).toEqual(Array.from({ length: 10 }, (_, i) => `${host}${i}`));
    }
    await bus.close();
    await transport.close();
  });
});
