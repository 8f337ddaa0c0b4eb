import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RedisLockBackend } from '../src/backends/redis';
import { createLockManager } from '../src/index';
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

// The same contract with the socket corked per tick: corking changes when bytes leave, nothing else.
lockBackendContract('redis, coalesceWrites', {
  create: () => ({
    backend: new RedisLockBackend({
      redis: fx.current.redis,
      prefix: fx.current.prefix,
      lingerMs: 50,
      coalesceWrites: true,
    }),
    resource: () => `c${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});

describe('coalesceWrites', () => {
  /** Whether the client's socket is corked right after a synchronous tryAcquire call (before any await). */
  async function corkedAfterCall(coalesceWrites: boolean | undefined): Promise<boolean> {
    const redis = fx.current.duplicate();
    await redis.ping();
    const m = createLockManager({
      redis,
      prefix: fx.current.prefix,
      ...(coalesceWrites === undefined ? {} : { coalesceWrites }),
    });
    const pending = m.backend.tryAcquire(`cork${n++}`, 'token', 'exclusive', 1_000);
    const corked = (redis.stream as { writableCorked: number }).writableCorked > 0;
    expect((await pending).acquired).toBe(true);
    await m.close();
    return corked;
  }

  it('is off by default: each script leaves at once', async () => {
    expect(await corkedAfterCall(undefined)).toBe(false);
  });

  it('when on, corks the socket until the end of the tick', async () => {
    expect(await corkedAfterCall(true)).toBe(true);
  });
});
