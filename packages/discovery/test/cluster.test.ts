import type { Cluster } from '@ballast/core';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { beforeAll } from 'vitest';
import { RedisBackend } from '../src/backends/redis';
import { backendContract } from './backend.contract';

const fx = useRedisClusterFixture({ name: 'discovery-cluster' });
let cluster: Cluster;
const prefix = fx.prefix;
let n = 0;

beforeAll(() => {
  cluster = fx.cluster;
});

backendContract('redis-cluster', {
  create: () => ({
    backend: new RedisBackend({ redis: cluster, prefix, sweepIntervalMs: 100 }),
    name: (base: string) => `${base}-${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});
