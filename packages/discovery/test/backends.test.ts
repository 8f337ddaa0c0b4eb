import { useRedisFixture } from '@ballast/testkit/vitest';
import { ConsulBackend } from '../src/backends/consul';
import { MemoryBackend } from '../src/backends/memory';
import { RedisBackend } from '../src/backends/redis';
import { createConsulClient } from '../src/consul-client';
import { backendContract } from './backend.contract';
import { describeConsul } from './fixtures/consul-target';

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
