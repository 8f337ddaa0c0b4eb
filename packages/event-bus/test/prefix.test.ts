import { createLogger, isBallastError } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';
import { eventKeys } from '../src/keys';

const fx = useRedisFixture({ name: 'event-bus-prefix' });
const events = { 'user.registered': z.object({ id: z.string() }) };
const logger = createLogger({ level: 'silent' });

describe('key prefix: core’s one rule (`x` → `x:…`)', () => {
  it("prefix 'x' writes x:events:{type} and x:events:all, never xevents:…", async () => {
    const { redis, prefix: p } = fx.current;
    const bus = createEventBus({ redis, prefix: `${p}:app`, source: 's', events, logger });
    await bus.publish('user.registered', { id: '1' });
    expect(await redis.xlen(`${p}:app:events:{user.registered}`)).toBe(1);
    expect(await redis.xlen(`${p}:app:events:all`)).toBe(1);
    expect(await redis.exists(`${p}:appevents:all`)).toBe(0);
    await bus.close();
  });

  it("a prefix already ending in ':' means the same keys (no '::')", async () => {
    const { redis, prefix: p } = fx.current;
    const bus = createEventBus({ redis, prefix: `${p}:colon:`, source: 's', events, logger });
    await bus.publish('user.registered', { id: '1' });
    expect(await redis.xlen(`${p}:colon:events:all`)).toBe(1);
    expect(await redis.exists(`${p}:colon::events:all`)).toBe(0);
    await bus.close();
  });

  it('every key kind follows the rule; no prefix keeps the plain names; braces are refused', () => {
    const k = eventKeys('x');
    expect([k.stream('t'), k.all(), k.dlq('t'), k.dedupe('t', 'g', 'e1', 'h')]).toEqual([
      'x:events:{t}',
      'x:events:all',
      'x:events:dlq:{t}',
      'x:events:dedupe:{t}:g:h:e1',
    ]);
    expect(eventKeys().all()).toBe('events:all');
    let error: unknown;
    try {
      eventKeys('a{b}');
    } catch (e) {
      error = e;
    }
    expect(isBallastError(error) && error.code).toBe('INVALID_KEY');
  });
});
