import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach } from 'vitest';
import { RedisConfigStore } from '../src/backends/redis';
import type { RemoteSource } from '../src/sources';
import { redisHash } from '../src/sources';
import { remoteContract } from './store.contract';

const fx = useRedisFixture({ name: 'config-center' });
let n = 0;
const opened: RemoteSource[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.store.close();
});

// The contract the memory store passes, on the real server, each client with its own subscriber connection.
remoteContract('redis', {
  create: () => {
    const name = `svc${n++}`;
    return {
      maxVersions: 5,
      open: () => {
        const source = redisHash({ redis: fx.current.redis, prefix: fx.current.prefix, name, maxVersions: 5 });
        opened.push(source);
        return source;
      },
    };
  },
});

void RedisConfigStore;
