// keyLayout 'seed': Ballast speaks seed 000's Redis layout exactly — streams `events:<type>` and `events:all`,
// groups `group:<type>`, the envelope's fields with `data`/`metadata` as JSON — so a producer or consumer
// written against seed 000 (here: raw ioredis, as its Python code does with redis-py) talks to Ballast.
import { randomUUID } from 'node:crypto';
import { isInvalidOptionsError } from '@ballast/core';
import { useRedisClusterFixture, useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RedisTransport } from '../src/backends/redis';
import { createEventBus, type EventBus } from '../src/bus';

const fx = useRedisFixture({ name: 'event-bus-seed' });
const cluster = useRedisClusterFixture({ name: 'event-bus-seed' });
const events = { 'user.registered': z.object({ user_id: z.string(), email: z.string() }) };
const open: EventBus<typeof events>[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
});

describe("keyLayout 'seed' (seed 000's names)", () => {
  it('a raw seed-style producer (XADD events:<type> and events:all) is consumed by Ballast, group group:<type>', async () => {
    const { redis, prefix } = fx.current;
    const bus = createEventBus({ redis, prefix, source: 'users', events, keyLayout: 'seed' });
    open.push(bus);
    const got: unknown[] = [];
    let arrived!: () => void;
    const done = new Promise<void>((r) => (arrived = r));
    await bus.subscribe('user.registered', (e) => {
      got.push(e);
      arrived();
    });
    // What seed 000's EventBus.publish writes (its consumer json.loads data and metadata).
    const entry = {
      event_id: randomUUID(),
      event_type: 'user.registered',
      source_service: 'legacy-user-service',
      timestamp: new Date().toISOString(),
      data: JSON.stringify({ user_id: 'u1', email: 'a@example.com' }),
      correlation_id: 'c-1',
      user_id: 'u1',
      metadata: JSON.stringify({}),
    };
    const flat = Object.entries(entry).flat();
    await redis.xadd(`${prefix}:events:user.registered`, '*', ...flat);
    await redis.xadd(`${prefix}:events:all`, '*', ...flat);
    await done;
    expect(got[0]).toMatchObject({
      event_id: entry.event_id,
      event_type: 'user.registered',
      source_service: 'legacy-user-service',
      data: { user_id: 'u1', email: 'a@example.com' },
      correlation_id: 'c-1',
      user_id: 'u1',
    });
    const groups = (await redis.xinfo('GROUPS', `${prefix}:events:user.registered`)) as unknown[][];
    expect(groups.map((g) => g[1])).toEqual(['group:user.registered']);
  });

  it('events Ballast publishes are read by a raw seed-style consumer (XREADGROUP group:<type>, json fields)', async () => {
    const { redis } = fx.current;
    const prefix = `${fx.current.prefix}:out`;
    const bus = createEventBus({ redis, prefix, source: 'users', events, keyLayout: 'seed' });
    open.push(bus);
    const stream = `${prefix}:events:user.registered`;
    await redis.xgroup('CREATE', stream, 'group:user.registered', '0', 'MKSTREAM');
    const id = await bus.publish(
      'user.registered',
      { user_id: 'u2', email: 'b@example.com' },
      { correlationId: 'c-2' },
    );
    const reply = (await redis.xreadgroup(
      'GROUP',
      'group:user.registered',
      'consumer:legacy',
      'COUNT',
      10,
      'STREAMS',
      stream,
      '>',
    )) as [string, [string, string[]][]][];
    const [, flat] = reply[0]![1][0]!;
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    expect(fields.event_id).toBe(id);
    expect(fields.event_type).toBe('user.registered');
    expect(fields.source_service).toBe('users');
    expect(new Date(fields.timestamp!).toISOString()).toBe(fields.timestamp);
    expect(JSON.parse(fields.data!)).toEqual({ user_id: 'u2', email: 'b@example.com' });
    expect(fields.correlation_id).toBe('c-2');
    expect(JSON.parse(fields.metadata!)).toBeTypeOf('object');
    expect(await redis.xlen(`${prefix}:events:all`)).toBeGreaterThanOrEqual(1);
    // The default layout does not collide: its stream is events:{user.registered}.
    expect(await redis.exists(`${prefix}:events:{user.registered}`)).toBe(0);
  });

  it('is refused on a Redis Cluster client with InvalidOptionsError naming keyLayout', () => {
    let error: unknown;
    try {
      new RedisTransport({ redis: cluster.cluster, prefix: cluster.prefix, keyLayout: 'seed' });
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionsError(error)).toBe(true);
    expect(String(error)).toContain('keyLayout');
  });
});
