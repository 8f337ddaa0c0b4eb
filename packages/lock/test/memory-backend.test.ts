import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { isLockBackendClosedError, LockBackendClosedError } from '../src/backends/errors';
import { MemoryLockBackend } from '../src/backends/memory';
import { lockBackendContract } from './backend.contract';

let counter = 0;
lockBackendContract('memory', {
  create: () => ({ backend: new MemoryLockBackend(), resource: () => `r${counter++}` }),
  destroy: ({ backend }) => backend.close(),
});

const WP = { writerPreference: true } as const;

function setup() {
  const clock = new FakeClock();
  return { clock, backend: new MemoryLockBackend({ clock }) };
}

describe('MemoryLockBackend (fake clock)', () => {
  it('a holder expires exactly at ttl: still holding at ttl - 1 ms, gone at ttl', async () => {
    const { clock, backend: b } = setup();
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    await clock.advance(999);
    expect(await b.tryAcquire('r', 'b', 'exclusive', 1_000)).toEqual({ acquired: false, retryAfterMs: 1 });
    expect(await b.holders('r')).toEqual({ mode: 'exclusive', holders: { a: 1 } });
    await clock.advance(1);
    expect(await b.holders('r')).toEqual({ mode: undefined, holders: {} });
    expect(await b.release('r', 'a', 'exclusive')).toBe(-1);
    expect(await b.tryAcquire('r', 'b', 'shared', 1_000)).toMatchObject({ acquired: true, count: 1 });
  });

  it('an expired holder re-acquiring starts a new hold at count 1, not a reentrant one', async () => {
    const { clock, backend: b } = setup();
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    await clock.advance(1_000);
    expect(await b.tryAcquire('r', 'a', 'shared', 1_000)).toMatchObject({ acquired: true, count: 1 });
  });

  it('each holder has its own expiry; retryAfterMs is exactly the latest expiry minus now', async () => {
    const { clock, backend: b } = setup();
    await b.tryAcquire('r', 'a', 'shared', 1_000); // expires at 1000
    await clock.advance(500);
    await b.tryAcquire('r', 'b', 'shared', 3_000); // expires at 3500
    await clock.advance(500);
    expect(await b.tryAcquire('r', 'w', 'exclusive', 1_000)).toEqual({ acquired: false, retryAfterMs: 2_500 });
    expect(await b.holders('r')).toEqual({ mode: 'shared', holders: { b: 1 } }); // 'a' expired at 1000
    await clock.advance(2_499);
    expect(await b.tryAcquire('r', 'w', 'exclusive', 1_000)).toEqual({ acquired: false, retryAfterMs: 1 });
    await clock.advance(1);
    expect((await b.tryAcquire('r', 'w', 'exclusive', 1_000)).acquired).toBe(true);
  });

  it('a holder refused for asking the other mode gets retryAfterMs of its own lease', async () => {
    const { clock, backend: b } = setup();
    await b.tryAcquire('r', 'a', 'shared', 2_000);
    await clock.advance(300);
    expect(await b.tryAcquire('r', 'a', 'exclusive', 1_000)).toEqual({ acquired: false, retryAfterMs: 1_700 });
  });

  it('a refusal on a free resource (writer preference) hints retryAfterMs 0', async () => {
    const { backend: b } = setup();
    await b.addWaiter('r', 'w', 1_000);
    expect(await b.tryAcquire('r', 'a', 'shared', 1_000, WP)).toEqual({ acquired: false, retryAfterMs: 0 });
  });

  it('extend pushes the expiry to now + ttlMs (also shortening it) and fails once expired', async () => {
    const { clock, backend: b } = setup();
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    await clock.advance(800);
    expect(await b.extend('r', 'a', 'exclusive', 1_000)).toBe(true); // now expires at 1800
    await clock.advance(999);
    expect(await b.tryAcquire('r', 'b', 'exclusive', 1_000)).toEqual({ acquired: false, retryAfterMs: 1 });
    expect(await b.extend('r', 'a', 'exclusive', 100)).toBe(true); // 1799 + 100
    await clock.advance(100);
    expect(await b.extend('r', 'a', 'exclusive', 1_000)).toBe(false);
    expect(await b.holders('r')).toEqual({ mode: undefined, holders: {} });
  });

  it('a reentrant acquisition refreshes the expiry of the whole hold', async () => {
    const { clock, backend: b } = setup();
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    await clock.advance(900);
    await b.tryAcquire('r', 'a', 'exclusive', 1_000); // expires at 1900
    await clock.advance(999);
    expect(await b.holders('r')).toEqual({ mode: 'exclusive', holders: { a: 2 } });
    await clock.advance(1);
    expect(await b.holders('r')).toEqual({ mode: undefined, holders: {} });
  });

  it('a waiter stops blocking readers when its ttl runs out; an acquisition removes it early', async () => {
    const { clock, backend: b } = setup();
    await b.addWaiter('r', 'w', 500);
    await clock.advance(499);
    expect((await b.tryAcquire('r', 'a', 'shared', 1_000, WP)).acquired).toBe(false);
    await clock.advance(1);
    expect((await b.tryAcquire('r', 'a', 'shared', 1_000, WP)).acquired).toBe(true);

    await b.addWaiter('q', 'w', 10_000);
    await b.addWaiter('q', 'x', 10_000);
    await b.tryAcquire('q', 'w', 'exclusive', 1_000, WP);
    await b.release('q', 'w', 'exclusive');
    expect((await b.tryAcquire('q', 'a', 'shared', 1_000, WP)).acquired).toBe(false); // 'x' still waits
    await b.removeWaiter('q', 'x');
    expect((await b.tryAcquire('q', 'a', 'shared', 1_000, WP)).acquired).toBe(true);
  });

  it('each waiter has its own expiry; addWaiter again refreshes it', async () => {
    const { clock, backend: b } = setup();
    await b.addWaiter('r', 'w1', 1_000);
    await b.addWaiter('r', 'w2', 300);
    await clock.advance(300);
    expect((await b.tryAcquire('r', 'a', 'shared', 1_000, WP)).acquired).toBe(false); // w1 until 1000
    await b.addWaiter('r', 'w1', 1_000); // until 1300
    await clock.advance(999);
    expect((await b.tryAcquire('r', 'a', 'shared', 1_000, WP)).acquired).toBe(false);
    await clock.advance(1);
    expect((await b.tryAcquire('r', 'a', 'shared', 1_000, WP)).acquired).toBe(true);
  });

  it('the fencing counter survives the resource going free through expiry; one counter serves every resource', async () => {
    const { clock, backend: b } = setup();
    expect(await b.tryAcquire('r', 'a', 'exclusive', 100)).toMatchObject({ fencingToken: 1 });
    expect(await b.tryAcquire('r', 'a', 'exclusive', 100)).toMatchObject({ fencingToken: 1, count: 2 }); // re-entry
    await clock.advance(100);
    expect(await b.tryAcquire('r', 'b', 'exclusive', 100)).toMatchObject({ fencingToken: 2 });
    expect(await b.tryAcquire('other', 'b', 'exclusive', 100)).toMatchObject({ fencingToken: 3 });
  });

  it('takes ttlMs rounded up to a whole ms, as the Redis backend does', async () => {
    const { clock, backend: b } = setup();
    await b.tryAcquire('r', 'a', 'exclusive', 0.2);
    expect(await b.tryAcquire('r', 'b', 'exclusive', 1)).toEqual({ acquired: false, retryAfterMs: 1 });
    await clock.advance(1);
    expect((await b.tryAcquire('r', 'b', 'exclusive', 1)).acquired).toBe(true);
  });
});

describe('MemoryLockBackend wake-ups', () => {
  it('onRelease listeners run on a microtask, never inside the releasing call', async () => {
    const b = new MemoryLockBackend();
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    let calls = 0;
    b.onRelease('r', () => calls++);
    const released = b.release('r', 'a', 'exclusive');
    expect(calls).toBe(0);
    expect(await released).toBe(0);
    await Promise.resolve();
    expect(calls).toBe(1);
  });

  it('a wake-up goes to whoever listens when it is delivered: unsubscribing in between drops it', async () => {
    const b = new MemoryLockBackend();
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    let calls = 0;
    const off = b.onRelease('r', () => calls++);
    const released = b.release('r', 'a', 'exclusive');
    off();
    await released;
    await Promise.resolve();
    expect(calls).toBe(0);
  });

  it('a listener registered twice is called twice and unsubscribed one registration at a time', async () => {
    const b = new MemoryLockBackend();
    let calls = 0;
    const listener = () => calls++;
    const off1 = b.onRelease('r', listener);
    b.onRelease('r', listener);
    off1();
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    await b.release('r', 'a', 'exclusive');
    await Promise.resolve();
    expect(calls).toBe(1);
  });
});

describe('MemoryLockBackend close', () => {
  it('is idempotent; afterwards every operation rejects with LockBackendClosedError', async () => {
    const b = new MemoryLockBackend();
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    await b.close();
    await b.close();
    const ops: [string, () => Promise<unknown>][] = [
      ['tryAcquire', () => b.tryAcquire('r', 'a', 'exclusive', 1_000)],
      ['extend', () => b.extend('r', 'a', 'exclusive', 1_000)],
      ['release', () => b.release('r', 'a', 'exclusive')],
      ['addWaiter', () => b.addWaiter('r', 'w', 1_000)],
      ['removeWaiter', () => b.removeWaiter('r', 'w')],
      ['holders', () => b.holders('r')],
    ];
    for (const [operation, op] of ops) {
      const error = await op().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isLockBackendClosedError(error), operation).toBe(true);
      expect(error).toBeInstanceOf(LockBackendClosedError);
      expect(error).toMatchObject({ code: 'LOCK_BACKEND_CLOSED', backend: 'MemoryLockBackend', operation });
    }
    expect(() => b.onRelease('r', () => {})).toThrow(LockBackendClosedError);
  });

  it('drops pending wake-ups and listeners; an unsubscribe after close is harmless', async () => {
    const b = new MemoryLockBackend();
    await b.tryAcquire('r', 'a', 'exclusive', 1_000);
    let calls = 0;
    const off = b.onRelease('r', () => calls++);
    const released = b.release('r', 'a', 'exclusive');
    const closed = b.close();
    await Promise.all([released, closed]);
    await Promise.resolve();
    expect(calls).toBe(0);
    expect(() => off()).not.toThrow();
  });
});
