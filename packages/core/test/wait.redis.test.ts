/**
 * `waitForReplicas` against the local Redis (no replicas: WAIT answers 0 after its timeout) and a server that
 * accepts connections and never answers (bounded by timeoutMs + commandTimeoutMs, typed). The Cluster routing is
 * proven by the saga and queue durability tests (INFO commandstats on the slot's master).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBackendUnavailableError } from '../src/index';
import { createRedis, type Redis } from '../src/redis';
import { waitForReplicas } from '../src/redis-wait';

let redis: Redis;
let hung: Server;
const sockets = new Set<Socket>();

beforeAll(async () => {
  redis = createRedis({ url: 'redis://127.0.0.1:6379' }) as Redis;
  await redis.ping();
  hung = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  redis.disconnect();
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => hung.close(() => resolve()));
});

describe('waitForReplicas', () => {
  it('asks the standalone client and reports the acks and the node', async () => {
    const t = performance.now();
    expect(await waitForReplicas(redis, 'any', { replicas: 1, timeoutMs: 100 })).toEqual({
      acked: 0,
      node: '127.0.0.1:6379',
    });
    expect(performance.now() - t).toBeGreaterThanOrEqual(80);
    expect(await waitForReplicas(redis, 'any', { replicas: 0, timeoutMs: 100 })).toEqual({
      acked: 0,
      node: '127.0.0.1:6379',
    });
  });

  it('a server that never answers: BackendUnavailableError within timeoutMs + commandTimeoutMs', async () => {
    const { port } = hung.address() as { port: number };
    const silent = createRedis({ url: `redis://127.0.0.1:${port}` }) as Redis;
    silent.on('error', () => {});
    try {
      const t = performance.now();
      const error = await waitForReplicas(silent, 'k', {
        replicas: 1,
        timeoutMs: 100,
        commandTimeoutMs: 200,
        backend: 'redis:test',
      }).catch((e: unknown) => e);
      const took = performance.now() - t;
      expect(isBackendUnavailableError(error)).toBe(true);
      expect(error).toMatchObject({ backend: 'redis:test', operation: 'wait' });
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(3_000);
    } finally {
      silent.disconnect();
    }
  });
});
