import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RedisLockBackend } from '../src/backends/redis';
import { createLockManager } from '../src/index';
import { lockKeys } from '../src/keys';
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
  async function corkedAfterCall(
    coalesceWrites: boolean | 'auto' | undefined,
    { busy = false, coalesceScripts = false } = {},
  ): Promise<boolean> {
    const redis = fx.current.duplicate();
    await redis.ping();
    // coalesceScripts off by default here: the writes option is about the scripts sent one call each.
    const m = createLockManager({
      redis,
      prefix: fx.current.prefix,
      coalesceScripts,
      ...(coalesceWrites === undefined ? {} : { coalesceWrites }),
    });
    // Another command in flight on the connection (written, not answered yet): a concurrent caller's.
    const other = busy ? redis.ping() : undefined;
    const pending = m.backend.tryAcquire(`cork${n++}`, 'token', 'exclusive', 1_000);
    const corked = (redis.stream as { writableCorked: number }).writableCorked > 0;
    expect((await pending).acquired).toBe(true);
    await other;
    await m.close();
    return corked;
  }

  it("by default ('auto') a lone caller's script leaves at once", async () => {
    expect(await corkedAfterCall(undefined)).toBe(false);
  });

  it("by default ('auto') a script sent while others are in flight waits for the tick's other writes", async () => {
    expect(await corkedAfterCall(undefined, { busy: true })).toBe(true);
    expect(await corkedAfterCall(false, { busy: true })).toBe(false);
  });

  it('when on, corks the socket until the end of the tick', async () => {
    expect(await corkedAfterCall(true)).toBe(true);
  });

  it('never corks the batched exclusive calls (coalesceScripts): their few calls leave in writes of their own', async () => {
    // Corked, Redis reads a tick's calls at once and answers them in one reply: node and Redis take turns.
    expect(await corkedAfterCall(undefined, { busy: true, coalesceScripts: true })).toBe(false);
    expect(await corkedAfterCall(true, { coalesceScripts: true })).toBe(false);
  });
});

describe('release wake-ups', () => {
  it('a release nobody was refused by publishes nothing; one after a refusal wakes the channel', async () => {
    const b = new RedisLockBackend({ redis: fx.current.redis, prefix: fx.current.prefix, lingerMs: 50 });
    const r = `quiet${n++}`;
    const sub = fx.current.duplicate();
    const messages: string[] = [];
    let ended: () => void = () => {};
    const end = new Promise<void>((resolve) => {
      ended = resolve;
    });
    sub.on('message', (_channel: string, message: string) => {
      messages.push(message);
      if (message === 'end') ended();
    });
    const channel = lockKeys(fx.current.prefix, r).released;
    await sub.subscribe(channel);
    // Uncontended: acquire, release — no one listens for it, nothing is published.
    expect((await b.tryAcquire(r, 'a', 'exclusive', 10_000)).acquired).toBe(true);
    expect(await b.release(r, 'a', 'exclusive')).toBe(0);
    // Contended: b is refused while a holds it, so a's release wakes the channel.
    expect((await b.tryAcquire(r, 'a', 'exclusive', 10_000)).acquired).toBe(true);
    expect((await b.tryAcquire(r, 'b', 'exclusive', 10_000)).acquired).toBe(false);
    expect(await b.release(r, 'a', 'exclusive')).toBe(0);
    // One channel's messages arrive in order: every wake-up published before it is in by then.
    await fx.current.redis.publish(channel, 'end');
    await end;
    expect(messages).toEqual(['', 'end']);
    sub.disconnect();
    await b.close();
  });
});
