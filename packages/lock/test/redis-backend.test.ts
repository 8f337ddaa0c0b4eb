import { useRedisFixture } from '@ballast/testkit/vitest';
import { RedisLockBackend } from '../src/backends/redis';
import { lockBackendContract } from './backend.contract';

const fx = useRedisFixture({ name: 'lock-backend' });
let n = 0;

// The contract the memory backend passes, on the real server.
lockBackendContract('redis', {
  create: () => ({
    backend: new RedisLockBackend({ redis: fx.current.redis, prefix: fx.current.prefix, lingerMs: 50 }),
    resource: () => `r${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});
