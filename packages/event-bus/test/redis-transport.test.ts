import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RedisTransport } from '../src/backends/redis';
import { transportContract } from './transport.contract';

const fx = useRedisFixture({ name: 'event-bus-transport' });
let n = 0;

// The same contract the memory transport passes, on the real server.
transportContract('redis', {
  create: () => {
    const transport = new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:${n}:` });
    return {
      transport,
      type: `t${n++}`,
      allLength: () => fx.current.redis.xlen(transport.keys.all()),
    };
  },
  destroy: ({ transport }) => transport.close(),
});

describe('RedisTransport specifics', () => {
  it('stamps dlq_at from the injected clock', async () => {
    const clock = new FakeClock({ now: Date.UTC(2030, 0, 1) });
    const t = new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:clock:`, clock });
    await t.ensureGroup('x', 'g');
    await t.publish('x', { a: '1' });
    const [e] = await t.read('x', 'g', 'c', 1, 0);
    await clock.advance(1_234);
    const dlqId = await t.deadLetter('x', 'g', 'c', e!, 'r');
    expect((await t.getDeadLetter('x', dlqId!))?.deadAt).toBe(Date.UTC(2030, 0, 1) + 1_234);
    await t.close();
  });

  it('maps NOGROUP to GroupNotFoundError', async () => {
    const t = new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:nogroup:` });
    await t.publish('y', { a: '1' });
    await expect(t.read('y', 'missing', 'c', 1, 0)).rejects.toMatchObject({
      code: 'GROUP_NOT_FOUND',
      group: 'missing',
    });
    await expect(t.claimStale('y', 'missing', 'c', 0, 1)).rejects.toMatchObject({ code: 'GROUP_NOT_FOUND' });
    await t.close();
  });
});
