import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RedisTransport } from '../src/backends/redis';
import { transportContract } from './transport.contract';

const fx = useRedisFixture({ name: 'event-bus-transport' });
let n = 0;

// The same contract the memory transport passes, on the real server.
transportContract('redis', {
  create: () => ({
    transport: new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:` }),
    type: `t${n++}`,
  }),
  destroy: ({ transport }) => transport.close(),
});

describe('RedisTransport specifics', () => {
  it('renewal never takes back an entry another consumer took over after this one lapsed', async () => {
    const t = new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:own:` });
    await t.ensureGroup('x', 'g');
    await t.publish('x', { a: '1' });
    const [e] = await t.read('x', 'g', 'A', 1, 0);
    const [taken] = await t.claimStale('x', 'g', 'B', 0, 10); // A's lease lapsed: B takes over
    expect(taken?.id).toBe(e!.id);
    await t.renew('x', 'g', 'A', [e!.id]); // A wakes up and renews
    await t.retryLater('x', 'g', 'A', e!.id, 0, 60_000);
    const [info] = await t.groups('x');
    expect(info!.consumers.find((c) => c.name === 'B')?.pending).toBe(1);
    expect(info!.consumers.find((c) => c.name === 'A')?.pending ?? 0).toBe(0);
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
