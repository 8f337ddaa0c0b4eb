import { AbortedError, type Clock, InvalidOptionsError, isAbortedError } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPolicyClosedError, isTimeoutError, type PolicyClosedError, TimeoutError } from './errors';
import type { PolicyContext } from './policy';
import { TimeoutPolicy, timeout } from './timeout';

const never = <T>() => new Promise<T>(() => {});

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// Fail loudly if any expired callback rejects a promise nobody listens to.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

describe('timeout', () => {
  it('rejects with TimeoutError after timeoutMs, not before', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, name: 'users GET', clock });
    const result = track(policy.execute(() => never<string>()));
    await clock.advance(99);
    expect(result.done).toBe(false);
    await clock.advance(1);
    expect(result.done).toBe(true);
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect(isTimeoutError(result.error)).toBe(true);
    expect((result.error as TimeoutError).timeoutMs).toBe(100);
    expect((result.error as TimeoutError).message).toBe('users GET timed out after 100 ms');
  });

  it('accepts a bare number and names the operation by default', async () => {
    const policy = timeout(250);
    expect(policy).toBeInstanceOf(TimeoutPolicy);
    expect(policy.timeoutMs).toBe(250);
    const clock = new FakeClock();
    const result = track(timeout({ timeoutMs: 5, clock }).execute(() => never()));
    await clock.advance(5);
    expect((result.error as Error).message).toBe('operation timed out after 5 ms');
  });

  it('aborts the signal given to fn with the TimeoutError as its reason', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    let signal: AbortSignal | undefined;
    const abortedAt: number[] = [];
    const result = track(
      policy.execute(({ signal: s }) => {
        signal = s;
        s.addEventListener('abort', () => abortedAt.push(clock.monotonic()));
        return never();
      }),
    );
    await clock.advance(50);
    expect(signal?.aborted).toBe(false);
    await clock.advance(50);
    expect(signal?.aborted).toBe(true);
    expect(abortedAt).toEqual([100]);
    expect(isTimeoutError(signal?.reason)).toBe(true);
    expect(signal?.reason).toBe(result.error);
  });

  it('a signal first read after the timeout is already aborted with the TimeoutError', async () => {
    const clock = new FakeClock();
    let ctx: PolicyContext | undefined;
    const result = track(
      timeout({ timeoutMs: 100, clock }).execute((c) => {
        ctx = c;
        return never();
      }),
    );
    await clock.advance(100);
    expect(result.done).toBe(true);
    expect(ctx?.signal.aborted).toBe(true);
    expect(ctx?.signal.reason).toBe(result.error);
  });

  it('times out a fn that never reads its signal', async () => {
    const clock = new FakeClock();
    const result = track(timeout({ timeoutMs: 30, clock }).execute(() => never<number>()));
    await clock.advance(30);
    expect(isTimeoutError(result.error)).toBe(true);
  });

  it('a fast fn resolves and nothing fires after its deadline passes', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    let ctx: PolicyContext | undefined;
    const value = await policy.execute(async (c) => {
      ctx = c;
      void c.signal; // create the lazy signal
      return 'fast';
    });
    expect(value).toBe('fast');
    await clock.advance(10_000);
    expect(ctx?.signal.aborted).toBe(false);
    expect(clock.pendingCount).toBe(0);
  });

  it('passes synchronous values and synchronous throws through', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    await expect(policy.execute(() => 7)).resolves.toBe(7);
    await expect(policy.execute(() => null)).resolves.toBeNull();
    const boom = new Error('boom');
    await expect(
      policy.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await clock.advance(1_000);
  });

  it("rejects with fn's own error when it fails in time", async () => {
    const clock = new FakeClock();
    const d = deferred<string>();
    const failure = new Error('fn failed');
    const result = track(timeout({ timeoutMs: 100, clock }).execute(() => d.promise));
    await clock.advance(10);
    d.reject(failure);
    await clock.advance(500);
    expect(result.error).toBe(failure);
  });

  it('ignores a result arriving after the timeout', async () => {
    const clock = new FakeClock();
    const d = deferred<string>();
    const result = track(timeout({ timeoutMs: 100, clock }).execute(() => d.promise));
    await clock.advance(100);
    d.resolve('late');
    await clock.advance(0);
    expect(isTimeoutError(result.error)).toBe(true);
    expect(result.value).toBeUndefined();
  });

  it('shares one timer between 1000 concurrent calls', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    const results = Array.from({ length: 1000 }, () => track(policy.execute(() => never())));
    expect(clock.pendingCount).toBe(1);
    await clock.advance(99);
    expect(results.some((r) => r.done)).toBe(false);
    await clock.advance(1);
    expect(results.every((r) => isTimeoutError(r.error))).toBe(true);
    expect(clock.pendingCount).toBe(0);
  });

  it('one timer for calls started at different times, each expiring at its own deadline', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    const first = track(policy.execute(() => never()));
    await clock.advance(40);
    const second = track(policy.execute(() => never()));
    expect(clock.pendingCount).toBe(1);
    await clock.advance(60);
    expect(first.done).toBe(true);
    expect(second.done).toBe(false);
    expect(clock.pendingCount).toBe(1);
    await clock.advance(39);
    expect(second.done).toBe(false);
    await clock.advance(1);
    expect(isTimeoutError(second.error)).toBe(true);
  });

  it('two policies with different limits expire in time order, not call order', async () => {
    const clock = new FakeClock();
    const slow = timeout({ timeoutMs: 300, name: 'slow', clock });
    const quick = timeout({ timeoutMs: 100, name: 'quick', clock });
    const order: string[] = [];
    const note = (p: Promise<unknown>, label: string) =>
      p.catch((e: unknown) => order.push(`${label}:${(e as Error).message}@${clock.monotonic()}`));
    void note(
      slow.execute(() => never()),
      'slow',
    );
    void note(
      quick.execute(() => never()),
      'quick',
    );
    await clock.advance(1_000);
    expect(order).toEqual(['quick:quick timed out after 100 ms@100', 'slow:slow timed out after 300 ms@300']);
  });

  it("rejects with AbortedError when the caller's signal aborts, and aborts fn's signal with the caller's reason", async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    let signal: AbortSignal | undefined;
    const result = track(
      timeout({ timeoutMs: 100, clock }).execute(({ signal: s }) => {
        signal = s;
        return never();
      }, controller.signal),
    );
    await clock.advance(10);
    const reason = new Error('client went away');
    controller.abort(reason);
    await clock.advance(0);
    expect(result.error).toBeInstanceOf(AbortedError);
    expect((result.error as AbortedError).cause).toBe(reason);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(reason);
    await clock.advance(1_000); // the deadline passing later changes nothing
    expect(result.error).toBeInstanceOf(AbortedError);
  });

  it('a lazily read signal follows the caller signal too', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const d = deferred<void>();
    let seen: AbortSignal | undefined;
    const result = track(
      timeout({ timeoutMs: 100, clock }).execute(async (ctx) => {
        await d.promise;
        seen = ctx.signal; // read after the caller aborted
        return never();
      }, controller.signal),
    );
    controller.abort('stop');
    d.resolve();
    await clock.advance(0);
    expect(isAbortedError(result.error)).toBe(true);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe('stop');
  });

  it('rejects at once with AbortedError, without calling fn, for an already aborted signal', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    controller.abort();
    let called = false;
    await expect(
      timeout({ timeoutMs: 100, clock }).execute(() => {
        called = true;
      }, controller.signal),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(called).toBe(false);
    expect(clock.pendingCount).toBe(0);
  });

  it('detaches from a long-lived caller signal once the call is over', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const policy = timeout({ timeoutMs: 100, clock });
    let signal: AbortSignal | undefined;
    await policy.execute((ctx) => {
      signal = ctx.signal;
      return 'done';
    }, controller.signal);
    controller.abort('later');
    expect(signal?.aborted).toBe(false);
  });

  it('close() clears the timer and settles pending calls with PolicyClosedError, aborting their signals', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, name: 'users GET', clock });
    let seen: AbortSignal | undefined;
    const pending = track(
      policy.execute(({ signal }) => {
        seen = signal;
        return never();
      }),
    );
    const untouched = track(policy.execute(() => never())); // never reads its signal
    expect(clock.pendingCount).toBe(1);
    await policy.close();
    expect(clock.pendingCount).toBe(0);
    await clock.advance(0);
    expect(isPolicyClosedError(pending.error)).toBe(true);
    expect((pending.error as PolicyClosedError).message).toBe(
      'Timeout "users GET" has been closed (shut down): call refused',
    );
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(pending.error);
    expect(isPolicyClosedError(untouched.error)).toBe(true);
    await clock.advance(1_000);
    expect(isTimeoutError(pending.error)).toBe(false);
  });

  it('after close(), calls are refused without running and leave no timer; close() is idempotent', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    const finishing = deferred<string>();
    const a = track(policy.execute(() => finishing.promise));
    await policy.close();
    await policy.close();
    await policy.dispose(); // alias
    finishing.resolve('too late');
    await clock.advance(0);
    expect(isPolicyClosedError(a.error)).toBe(true); // settled by close, not by fn
    let ran = false;
    const later = await policy
      .execute(() => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(isPolicyClosedError(later)).toBe(true);
    expect(ran).toBe(false);
    expect(clock.pendingCount).toBe(0);
  });

  it("never asks the clock for a timer beyond Node's 2^31-1 ms limit (Node would fire it after 1 ms, over and over)", async () => {
    const clock = new FakeClock();
    const delays: number[] = [];
    const recording: Clock = {
      now: () => clock.now(),
      monotonic: () => clock.monotonic(),
      setTimeout: (callback, ms) => {
        delays.push(ms);
        return clock.setTimeout(callback, ms);
      },
      clearTimeout: (handle) => clock.clearTimeout(handle),
      setInterval: (callback, ms) => clock.setInterval(callback, ms),
      clearInterval: (handle) => clock.clearInterval(handle),
    };
    const limitMs = 3_000_000_000; // ~35 days: a valid timeoutMs
    const result = track(timeout({ timeoutMs: limitMs, clock: recording }).execute(() => never()));
    await clock.advance(limitMs - 1);
    expect(result.done).toBe(false);
    await clock.advance(1);
    expect(isTimeoutError(result.error)).toBe(true);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2_147_483_647);
  });

  it('validates its options', () => {
    expect(() => timeout(0)).toThrow(InvalidOptionsError);
    expect(() => timeout(Number.POSITIVE_INFINITY)).toThrow(/timeoutMs/);
    expect(() => timeout({ timeoutMs: 10, unknown: 1 } as never)).toThrow(/unknown/);
  });
});
