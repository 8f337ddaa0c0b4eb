// The Redis rate limiter with Redis unreachable: core's BackendUnavailableError, not ioredis's raw error.
import { createServer } from 'node:net';
import { isBackendUnavailableError, Redis } from '@ballast/core';
import { afterAll, describe, expect, it } from 'vitest';
import { redisRateLimit } from '../src/redis-rate-limit';

const clients: Redis[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});
function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('redisRateLimit with Redis down', () => {
  it('a decision fails with BackendUnavailableError', async () => {
    // maxRetriesPerRequest 0: the client gives up at once, so the test shows the mapping, not the timeout.
    const redis = new Redis(`redis://127.0.0.1:${await deadPort()}`, { maxRetriesPerRequest: 0 });
    redis.on('error', () => {});
    clients.push(redis);
    const limiter = redisRateLimit({ redis, name: 'api', limit: 10 });
    const error = await limiter.check('client-1').catch((e: unknown) => e);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect(error).toMatchObject({ backend: 'redis' });
  });
});
