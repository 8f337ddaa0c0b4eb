/**
 * The Redis backend's contract on the local 3-master Redis Cluster (127.0.0.1:7001-7003, started by
 * `npm test`): registrations, heartbeats, expiry and change notification must hold when keys live on
 * different nodes.
 */
import { randomUUID } from 'node:crypto';
import { type Cluster, createRedis } from '@ballast/core';
import { afterAll, beforeAll } from 'vitest';
import { RedisBackend } from '../src/backends/redis';
import { backendContract } from './backend.contract';

let cluster: Cluster;
const prefix = `test-discovery-cluster-${randomUUID().slice(0, 8)}`;
let n = 0;

beforeAll(async () => {
  cluster = createRedis({ nodes: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'] }) as Cluster;
  await cluster.ping();
});

afterAll(async () => {
  await Promise.all(
    cluster.nodes('master').map(async (node) => {
      const keys = await node.keys(`${prefix}*`);
      for (const k of keys) await node.del(k);
    }),
  );
  cluster.disconnect();
});

backendContract('redis-cluster', {
  create: () => ({
    backend: new RedisBackend({ redis: cluster, prefix, sweepIntervalMs: 100 }),
    name: (base: string) => `${base}-${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});
