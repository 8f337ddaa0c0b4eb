import { AbortedError, InvalidOptionsError, isAbortedError } from '@ballast/core';
import { track } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { BulkheadPolicy, bulkhead } from './bulkhead';
import { isShedError, ShedError } from './errors';

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('bulkhead', () => {
  it('runs at most maxConcurrent calls at once', async () => {
    const policy = bulkhead({ maxConcurrent: 2, maxQueued: 10 });
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 6 }, () => deferred());
    const calls = gates.map((gate, i) =>
      policy.execute(async () => {
        running++;
        peak = Math.max(peak, running);
        await gate.promise;
        running--;
        return i;
      }),
    );
    await flush();
    expect(policy.running).toBe(2);
    expect(policy.queued).toBe(4);
    for (const gate of gates) {
      gate.resolve();
      await flush();
      expect(running).toBeLessThanOrEqual(2);
    }
    expect(await Promise.all(calls)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(policy.running).toBe(0);
    expect(policy.queued).toBe(0);
  });

  it('starts waiting calls first-in first-out as slots free', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueued: 5 });
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof deferred<void>>>();
    const call = (name: string) => {
      const gate = deferred();
      gates.set(name, gate);
      return policy.execute(async () => {
        started.push(name);
        await gate.promise;
        return name;
      });
    };
    const results = ['a', 'b', 'c', 'd'].map(call);
    await flush();
    expect(started).toEqual(['a']);
    gates.get('a')!.resolve();
    await flush();
    expect(started).toEqual(['a', 'b']);
    // Finishing out of start order does not matter: the queue order does.
    gates.get('b')!.resolve();
    await flush();
    expect(started).toEqual(['a', 'b', 'c']);
    gates.get('c')!.resolve();
    gates.get('d')!.resolve();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
    expect(started).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a new call after a slot frees still queues behind earlier waiters', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueued: 5 });
    const started: string[] = [];
    const first = deferred();
    const run = (name: string, gate?: Promise<void>) =>
      policy.execute(async () => {
        started.push(name);
        await gate;
      });
    const a = run('a', first.promise);
    const b = run('b');
    first.resolve();
    const c = run('c'); // called while 'a' is finishing
    await Promise.all([a, b, c]);
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('sheds with ShedError when every slot and the queue are full, without breaking', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueued: 1, name: 'pdf' });
    const shedEvents: unknown[] = [];
    policy.onShed((e) => shedEvents.push(e));
    const gate = deferred();
    const running = policy.execute(() => gate.promise.then(() => 'first'));
    const waiting = policy.execute(() => 'second');
    let thirdRan = false;
    const third = policy.execute(() => {
      thirdRan = true;
      return 'third';
    });
    await expect(third).rejects.toBeInstanceOf(ShedError);
    const error = await third.catch((e: unknown) => e);
    expect(isShedError(error)).toBe(true);
    expect((error as ShedError).source).toBe('pdf');
    expect((error as ShedError).message).toContain('pdf');
    expect(thirdRan).toBe(false);
    expect(shedEvents).toEqual([{ name: 'pdf', running: 1, queued: 1 }]);
    gate.resolve();
    expect(await running).toBe('first');
    expect(await waiting).toBe('second');
    // Capacity is back.
    await expect(policy.execute(() => 'again')).resolves.toBe('again');
  });

  it('sheds the second concurrent call with the default maxQueued of 0', async () => {
    const policy = bulkhead(1);
    expect(policy).toBeInstanceOf(BulkheadPolicy);
    expect(policy.options).toEqual({ maxConcurrent: 1, maxQueued: 0, name: 'bulkhead' });
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    await expect(policy.execute(() => 'x')).rejects.toSatisfy(isShedError);
    gate.resolve();
    await first;
  });

  it('a waiting call whose signal aborts leaves the queue at once and never runs', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueued: 2 });
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    const controller = new AbortController();
    let abortedRan = false;
    const aborted = track(
      policy.execute(() => {
        abortedRan = true;
      }, controller.signal),
    );
    const next = policy.execute(() => 'next');
    expect(policy.queued).toBe(2);
    const reason = new Error('gone');
    controller.abort(reason);
    await flush();
    expect(aborted.error).toBeInstanceOf(AbortedError);
    expect((aborted.error as AbortedError).cause).toBe(reason);
    expect(policy.queued).toBe(1);
    gate.resolve();
    await first;
    expect(await next).toBe('next');
    expect(abortedRan).toBe(false);
    expect(policy.running).toBe(0);
  });

  it('an aborted waiter frees its queue place for a new caller', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueued: 1 });
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    const controller = new AbortController();
    const waiter = policy.execute(() => 'w', controller.signal).catch((e: unknown) => e);
    controller.abort();
    expect(isAbortedError(await waiter)).toBe(true);
    const replacement = policy.execute(() => 'replacement');
    gate.resolve();
    await first;
    expect(await replacement).toBe('replacement');
  });

  it('aborting after a waiter started does not affect it', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueued: 1 });
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    const controller = new AbortController();
    const second = deferred<string>();
    const waiter = track(policy.execute(() => second.promise, controller.signal));
    gate.resolve();
    await first;
    await flush();
    expect(policy.running).toBe(1);
    controller.abort();
    second.resolve('finished');
    await flush();
    expect(waiter.value).toBe('finished');
    expect(policy.running).toBe(0);
  });

  it('rejects with AbortedError without queueing when the signal is already aborted', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueued: 1 });
    const controller = new AbortController();
    controller.abort();
    let ran = false;
    await expect(
      policy.execute(() => {
        ran = true;
      }, controller.signal),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(ran).toBe(false);
    expect(policy.running).toBe(0);
  });

  it('releases the slot when a call fails (async or sync) and hands it to the next waiter', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueued: 3 });
    const gate = deferred();
    const boom = new Error('boom');
    const failing = policy.execute(async () => {
      await gate.promise;
      throw boom;
    });
    const syncFailure = new Error('sync');
    const throwing = policy.execute(() => {
      throw syncFailure;
    });
    const after = policy.execute(() => 'after');
    gate.resolve();
    await expect(failing).rejects.toBe(boom);
    await expect(throwing).rejects.toBe(syncFailure);
    expect(await after).toBe('after');
    expect(policy.running).toBe(0);
    expect(policy.queued).toBe(0);
  });

  it("passes the caller's signal and attempt 0 to fn", async () => {
    const policy = bulkhead(2);
    const controller = new AbortController();
    const ctx = await policy.execute((c) => c, controller.signal);
    expect(ctx.signal).toBe(controller.signal);
    expect(ctx.attempt).toBe(0);
    const noSignal = await policy.execute((c) => c);
    expect(noSignal.signal.aborted).toBe(false);
  });

  it('validates its options', () => {
    expect(() => bulkhead(0)).toThrow(InvalidOptionsError);
    expect(() => bulkhead({ maxConcurrent: 1, maxQueued: -1 })).toThrow(/maxQueued/);
  });
});
