import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { ConsulBackend } from '../src/backends/consul';
import { MemoryBackend } from '../src/backends/memory';
import { RedisBackend } from '../src/backends/redis';
import { createConsulClient } from '../src/consul-client';
import { backendContract } from './backend.contract';
import { describeConsul, until } from './fixtures/consul-target';

let n = 0;
const name = (base: string) => `${base}-${n++}`;

backendContract('memory', {
  create: () => ({ backend: new MemoryBackend(), name }),
  destroy: ({ backend }) => backend.close(),
});

const fx = useRedisFixture({ name: 'discovery-backend' });
backendContract('redis', {
  create: () => ({
    backend: new RedisBackend({ redis: fx.current.redis, prefix: fx.current.prefix, sweepIntervalMs: 100 }),
    name,
  }),
  destroy: ({ backend }) => backend.close(),
});

describeConsul('consul backend', (target) => {
  backendContract('consul', {
    create: () => ({
      backend: new ConsulBackend({
        client: createConsulClient({ url: target().url, token: target().token, timeoutMs: 5_000 }),
      }),
      name: (base) => target().name(base),
    }),
    destroy: ({ backend }) => backend.close(),
  });
});

describe('deregisterCriticalAfterMs', () => {
  it('memory: a TTL instance critical for that long is removed', async () => {
    const clock = new FakeClock();
    const b = new MemoryBackend({ clock });
    await b.register({
      id: 'd1',
      name: 'dc',
      address: 'a',
      port: 1,
      tags: [],
      meta: {},
      check: { ttlMs: 1_000, deregisterCriticalAfterMs: 60_000 },
      status: 'passing',
    });
    await clock.advance(1_000);
    expect((await b.query('dc')).instances[0]?.status).toBe('critical');
    await clock.advance(59_999);
    expect((await b.query('dc')).instances).toHaveLength(1);
    await clock.advance(1);
    expect((await b.query('dc')).instances).toEqual([]);
    expect(await b.isRegistered('d1')).toBe(false);
  });

  it('redis: the read that sees it critical for that long removes it and bumps the index', async () => {
    const b = new RedisBackend({ redis: fx.current.redis, prefix: fx.current.prefix });
    const svc = name('dc-redis');
    // The Redis backend takes any duration (the 1 min floor is register()'s): 300 ms keeps the test short.
    await b.register({
      id: `${svc}-1`,
      name: svc,
      address: 'a',
      port: 1,
      tags: [],
      meta: {},
      check: { ttlMs: 200, deregisterCriticalAfterMs: 300 },
      status: 'passing',
    });
    const first = await b.query(svc);
    await until(async () => (await b.query(svc)).instances.length === 0, 5_000, 'reaped');
    expect((await b.query(svc)).index).toBeGreaterThan(first.index);
    await b.close();
  });
});
