import { createLogger, isAbortedError, type Logger } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker';
import { bulkhead } from './bulkhead';
import {
  BrokenCircuitError,
  InvalidArgumentError,
  isBrokenCircuitError,
  isPolicyClosedError,
  isTimeoutError,
  TimeoutError,
} from './errors';
import { fallback } from './fallback';
import { NEVER_ABORTED, type Policy, type PolicyFn } from './policy';
import { type RetryEvent, retry } from './retry';
import { timeout } from './timeout';
import { PolicyWrap, wrap } from './wrap';

const silent: Logger = createLogger({ level: 'silent' });
const never = <T>() => new Promise<T>(() => {});

/** A tiny policy that records when it is entered and left, and hands fn the context it is given. */
function tracer(name: string, log: string[], attempt = 0): Policy {
  return {
    async execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
      log.push(`enter ${name}`);
      try {
        return await fn({ signal: signal ?? new AbortController().signal, attempt });
      } finally {
        log.push(`exit ${name}`);
      }
    },
  };
}

function breaker(clock: FakeClock, options: ConstructorParameters<typeof CircuitBreaker>[0] = {}): CircuitBreaker {
  return new CircuitBreaker({ name: 'dep', clock, logger: silent, metrics: false, timeoutMs: false, ...options });
}

describe('wrap', () => {
  it('runs policies outermost first and unwinds innermost first', async () => {
    const log: string[] = [];
    const policy = wrap(tracer('a', log), tracer('b', log), tracer('c', log));
    expect(policy).toBeInstanceOf(PolicyWrap);
    const value = await policy.execute(() => {
      log.push('fn');
      return 'v';
    });
    expect(value).toBe('v');
    expect(log).toEqual(['enter a', 'enter b', 'enter c', 'fn', 'exit c', 'exit b', 'exit a']);
  });

  it('unwinds the same way when fn fails', async () => {
    const log: string[] = [];
    const boom = new Error('boom');
    await expect(
      wrap(tracer('outer', log), tracer('inner', log)).execute(() => {
        log.push('fn');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(log).toEqual(['enter outer', 'enter inner', 'fn', 'exit inner', 'exit outer']);
  });

  it('with no policies is refused at once with InvalidArgumentError (it would protect nothing)', () => {
    expect(() => wrap()).toThrow(InvalidArgumentError);
    expect(() => wrap()).toThrow(/wrap: policies must be at least one policy/);
  });

  it('close() closes what it composed (and only once); later calls are refused by the closed policies', async () => {
    const clock = new FakeClock();
    const b = new CircuitBreaker({ name: 'w', clock, logger: silent });
    const t = timeout({ timeoutMs: 1_000, clock });
    const plain: Policy = { execute: (fn) => Promise.resolve(fn({ signal: NEVER_ABORTED, attempt: 0 })) };
    const policy = wrap(retry({ maxRetries: 1, backoff: false }), b, t, plain);
    expect(await policy.execute(() => 1)).toBe(1);
    const closing = policy.close();
    expect(policy.close()).toBe(closing);
    await closing;
    expect(b.isClosed).toBe(true);
    expect(isPolicyClosedError(await policy.execute(() => 1).catch((e: unknown) => e))).toBe(true);
    expect(isPolicyClosedError(await t.execute(() => 1).catch((e: unknown) => e))).toBe(true);
  });

  it("passes the caller's signal to the outermost policy", async () => {
    const controller = new AbortController();
    const seen: (AbortSignal | undefined)[] = [];
    const spy: Policy = {
      execute<T>(fn: PolicyFn<T>, signal?: AbortSignal) {
        seen.push(signal);
        return Promise.resolve(fn({ signal: signal!, attempt: 0 }));
      },
    };
    await wrap(spy, tracer('inner', [])).execute(() => 1, controller.signal);
    expect(seen).toEqual([controller.signal]);
  });

  it('wrap(retry, breaker, timeout): each try gets its own timeout, and each timeout is a breaker failure', async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { volumeThreshold: 100 });
    const r = retry({ maxRetries: 2, backoff: false, clock });
    const policy = wrap(r, b, timeout({ timeoutMs: 100, clock }));
    const tries: { attempt: number; at: number; signal: AbortSignal }[] = [];
    const result = track(
      policy.execute((ctx) => {
        tries.push({ attempt: ctx.attempt, at: clock.monotonic(), signal: ctx.signal });
        return never<string>();
      }),
    );

    await clock.advance(99);
    expect(tries.map((t) => t.at)).toEqual([0]);
    await clock.advance(1);
    expect(tries.map((t) => t.at)).toEqual([0, 100]);
    expect(tries[0]!.signal.aborted).toBe(true);
    expect(tries[1]!.signal.aborted).toBe(false); // a fresh limit for the second try

    await clock.advance(99);
    expect(tries).toHaveLength(2);
    await clock.advance(1);
    expect(tries.map((t) => t.at)).toEqual([0, 100, 200]);

    await clock.advance(99);
    expect(result.done).toBe(false);
    await clock.advance(1);
    expect(result.done).toBe(true);
    expect(result.error).toBeInstanceOf(TimeoutError);

    expect(tries.map((t) => t.attempt)).toEqual([0, 1, 2]);
    for (const t of tries) expect(isTimeoutError(t.signal.reason)).toBe(true);
    expect(b.totals).toMatchObject({ timeout: 3, failure: 0, success: 0, rejected: 0 });
  });

  it('an open breaker stops the retries at once: BrokenCircuitError is not retried', async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { volumeThreshold: 2, errorThresholdPercentage: 50 });
    const r = retry({ maxRetries: 5, backoff: false, clock });
    const retried: RetryEvent[] = [];
    const gaveUp: RetryEvent[] = [];
    r.onRetry((e) => retried.push(e));
    r.onGiveUp((e) => gaveUp.push(e));
    let calls = 0;
    const result = wrap(r, b, timeout({ timeoutMs: 1_000, clock })).execute(() => {
      calls++;
      throw new Error(`down ${calls}`);
    });
    await expect(result).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(calls).toBe(2); // the third try met the open breaker
    expect(b.state).toBe('open');
    expect(b.totals).toMatchObject({ failure: 2, rejected: 1 });
    expect(retried.map((e) => e.attempt)).toEqual([1, 2]);
    expect(gaveUp).toHaveLength(1);
    expect(isBrokenCircuitError(gaveUp[0]!.error)).toBe(true);
  });

  it('a breaker already open is not called again by retry', async () => {
    const clock = new FakeClock();
    const b = breaker(clock);
    b.forceOpen();
    let calls = 0;
    await expect(
      wrap(retry({ maxRetries: 3, backoff: false }), b).execute(() => {
        calls++;
      }),
    ).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(calls).toBe(0);
    expect(b.totals.rejected).toBe(1);
  });

  it('the retry attempt number reaches the innermost fn through every layer', async () => {
    const clock = new FakeClock();
    const attempts: number[] = [];
    const log: string[] = [];
    // `tracer` hands on attempt 0: the wrap must still give fn the retry's number.
    const policy = wrap(
      retry({ maxRetries: 3, backoff: false }),
      tracer('middle', log),
      breaker(clock, { volumeThreshold: 100 }),
      timeout({ timeoutMs: 1_000, clock }),
    );
    const value = await policy.execute(({ attempt }) => {
      attempts.push(attempt);
      if (attempt < 3) throw new Error('again');
      return 'third retry';
    });
    expect(value).toBe('third retry');
    expect(attempts).toEqual([0, 1, 2, 3]);
  });

  it('the attempt number survives when the innermost policy resets it', async () => {
    const attempts: number[] = [];
    await wrap(retry({ maxRetries: 2, backoff: false }), tracer('last', [])).execute(({ attempt }) => {
      attempts.push(attempt);
      if (attempt < 2) throw new Error('again');
    });
    expect(attempts).toEqual([0, 1, 2]);
  });

  it("the innermost fn's signal aborts when the caller aborts; the call is cancelled, not a failure", async () => {
    const clock = new FakeClock();
    const b = breaker(clock);
    const controller = new AbortController();
    let signal: AbortSignal | undefined;
    let calls = 0;
    const result = track(
      wrap(retry({ maxRetries: 3, backoff: false }), b, timeout({ timeoutMs: 1_000, clock })).execute((ctx) => {
        calls++;
        signal = ctx.signal;
        return never();
      }, controller.signal),
    );
    await clock.advance(10);
    controller.abort('user cancelled');
    await clock.advance(0);
    expect(isAbortedError(result.error)).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe('user cancelled');
    expect(calls).toBe(1);
    expect(b.totals).toMatchObject({ cancelled: 1, failure: 0, timeout: 0 });
    await clock.advance(5_000);
    expect(calls).toBe(1);
  });

  it('recommended order wrap(fallback, retry, breaker, bulkhead, timeout) answers from the fallback once the breaker opens', async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { volumeThreshold: 1, errorThresholdPercentage: 50 });
    const fellBack: unknown[] = [];
    const fb = fallback('cached', { logger: silent });
    fb.onFallback((e) => fellBack.push(e.error));
    const policy = wrap(
      fb,
      retry({ maxRetries: 3, backoff: false }),
      b,
      bulkhead(5),
      timeout({ timeoutMs: 100, clock }),
    );
    let calls = 0;
    const value = await policy.execute<string>(() => {
      calls++;
      throw new Error('down');
    });
    expect(value).toBe('cached');
    expect(calls).toBe(1);
    expect(fellBack).toHaveLength(1);
    expect(isBrokenCircuitError(fellBack[0])).toBe(true);
    // A successful call goes straight through once the breaker closes again.
    b.forceClose();
    await expect(policy.execute(() => 'fresh')).resolves.toBe('fresh');
  });
});
