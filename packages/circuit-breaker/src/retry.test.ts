/**
 * The retry policy: how many tries (maxRetries / maxAttempts and their validation), which errors it retries
 * (retryOn; never an open breaker or an abort), the caller's signal and the context handed to fn, and the
 * onRetry / onGiveUp events. The wait between tries: retry-backoff.test.ts; the budget: retry-budget.test.ts.
 */
import { AbortedError, InvalidOptionsError, isAbortedError } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { BrokenCircuitError } from './errors';
import type { PolicyContext } from './policy';
import { type RetryEvent, type RetryOptions, retry } from './retry';

function invalid(options: RetryOptions): InvalidOptionsError {
  try {
    retry(options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return error as InvalidOptionsError;
  }
  throw new Error('expected retry() to throw');
}

describe('retry', () => {
  it('retries up to maxRetries, then rethrows the last error unchanged', async () => {
    const errors = [new Error('e1'), new Error('e2'), new Error('e3'), new Error('e4'), new Error('e5')];
    let calls = 0;
    const policy = retry({ maxRetries: 3, backoff: false });
    expect(policy.maxRetries).toBe(3);
    const result = policy.execute(() => {
      throw errors[calls++];
    });
    await expect(result).rejects.toBe(errors[3]);
    expect(calls).toBe(4);
  });

  it('returns the first success without further tries', async () => {
    let calls = 0;
    const policy = retry({ maxRetries: 5, backoff: false });
    const value = await policy.execute(async () => {
      calls++;
      if (calls < 3) throw new Error(`try ${calls}`);
      return `ok after ${calls}`;
    });
    expect(value).toBe('ok after 3');
    expect(calls).toBe(3);
  });

  it('defaults to 3 retries', async () => {
    let calls = 0;
    const policy = retry({ backoff: false });
    expect(policy.maxRetries).toBe(3);
    await expect(
      policy.execute(() => {
        calls++;
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(calls).toBe(4);
  });

  it('maxRetries: 0 tries exactly once', async () => {
    let calls = 0;
    await expect(
      retry({ maxRetries: 0 }).execute(() => {
        calls++;
        throw new Error('once');
      }),
    ).rejects.toThrow('once');
    expect(calls).toBe(1);
  });

  it('accepts maxAttempts (total tries, first included) as the alternative', async () => {
    let calls = 0;
    const policy = retry({ maxAttempts: 2, backoff: false });
    expect(policy.maxRetries).toBe(1);
    await expect(
      policy.execute(() => {
        calls++;
        throw new Error(`try ${calls}`);
      }),
    ).rejects.toThrow('try 2');
    expect(calls).toBe(2);
  });

  it('rejects maxRetries together with maxAttempts, naming maxAttempts', () => {
    const error = invalid({ maxRetries: 2, maxAttempts: 3 });
    expect(error.where).toBe('retry');
    expect(error.issues.map((i) => i.path)).toEqual(['maxAttempts']);
    expect(error.message).toContain('maxAttempts');
  });

  it('rejects bad counts and unknown options by name', () => {
    expect(invalid({ maxAttempts: 0 }).issues.map((i) => i.path)).toEqual(['maxAttempts']);
    expect(invalid({ maxRetries: -1 }).issues.map((i) => i.path)).toEqual(['maxRetries']);
    expect(invalid({ maxRetries: 1.5 }).issues.map((i) => i.path)).toEqual(['maxRetries']);
    expect(invalid({ retries: 3 } as unknown as RetryOptions).issues.map((i) => i.path)).toEqual(['retries']);
  });

  it('stops when retryOn says no, and passes it the error and the retry number', async () => {
    const seen: [string, number][] = [];
    let calls = 0;
    const policy = retry({
      maxRetries: 5,
      backoff: false,
      retryOn: (error, attempt) => {
        seen.push([(error as Error).message, attempt]);
        return attempt < 2;
      },
    });
    await expect(
      policy.execute(() => {
        calls++;
        throw new Error(`try ${calls}`);
      }),
    ).rejects.toThrow('try 2');
    expect(calls).toBe(2);
    expect(seen).toEqual([
      ['try 1', 1],
      ['try 2', 2],
    ]);
  });

  it('retryOn may select errors (e.g. only 5xx)', async () => {
    let calls = 0;
    const policy = retry({ maxRetries: 5, backoff: false, retryOn: (e) => (e as { status?: number }).status === 503 });
    const notFound = Object.assign(new Error('not found'), { status: 404 });
    await expect(
      policy.execute(() => {
        calls++;
        throw calls < 3 ? Object.assign(new Error('unavailable'), { status: 503 }) : notFound;
      }),
    ).rejects.toBe(notFound);
    expect(calls).toBe(3);
  });

  it('does not retry BrokenCircuitError by default', async () => {
    let calls = 0;
    const open = new BrokenCircuitError('users', 'open');
    await expect(
      retry({ maxRetries: 3, backoff: false }).execute(() => {
        calls++;
        throw open;
      }),
    ).rejects.toBe(open);
    expect(calls).toBe(1);
  });

  it('does not retry AbortedError by default', async () => {
    let calls = 0;
    const aborted = new AbortedError();
    await expect(
      retry({ maxRetries: 3, backoff: false }).execute(() => {
        calls++;
        throw aborted;
      }),
    ).rejects.toBe(aborted);
    expect(calls).toBe(1);
  });

  it("stops promptly when the caller's signal aborts during a backoff wait, leaving no timer", async () => {
    const clock = new FakeClock();
    const policy = retry({ maxRetries: 3, backoff: { jitter: 'none' }, clock });
    const controller = new AbortController();
    let calls = 0;
    const result = track(
      policy.execute(() => {
        calls++;
        throw new Error('down');
      }, controller.signal),
    );
    await clock.advance(100); // inside the 500 ms wait
    expect(calls).toBe(1);
    expect(clock.pendingCount).toBe(1);
    const reason = new Error('user left');
    controller.abort(reason);
    await Promise.resolve();
    await Promise.resolve();
    expect(result.done).toBe(true);
    expect(isAbortedError(result.error)).toBe(true);
    expect((result.error as AbortedError).cause).toBe(reason);
    expect(clock.pendingCount).toBe(0);
    await clock.advance(10_000);
    expect(calls).toBe(1);
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    let calls = 0;
    await expect(
      retry({ backoff: false }).execute(() => {
        calls++;
      }, controller.signal),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(calls).toBe(0);
  });

  it('does not retry an error thrown after the caller aborted', async () => {
    const controller = new AbortController();
    let calls = 0;
    const failure = new Error('failed while aborting');
    await expect(
      retry({ maxRetries: 3, backoff: false }).execute(() => {
        calls++;
        controller.abort();
        throw failure;
      }, controller.signal),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  it('hands fn an incrementing attempt and the caller signal', async () => {
    const contexts: PolicyContext[] = [];
    const controller = new AbortController();
    await retry({ maxRetries: 2, backoff: false }).execute((ctx) => {
      contexts.push(ctx);
      if (contexts.length < 3) throw new Error('again');
      return 'done';
    }, controller.signal);
    expect(contexts.map((c) => c.attempt)).toEqual([0, 1, 2]);
    for (const c of contexts) expect(c.signal).toBe(controller.signal);
  });

  it('hands fn a never-aborting signal without a caller signal', async () => {
    const contexts: PolicyContext[] = [];
    await retry({ maxRetries: 1, backoff: false }).execute((ctx) => {
      contexts.push(ctx);
      if (contexts.length < 2) throw new Error('again');
    });
    expect(contexts.map((c) => [c.attempt, c.signal.aborted])).toEqual([
      [0, false],
      [1, false],
    ]);
  });

  it('fires onGiveUp once with the last error when retries run out', async () => {
    const policy = retry({ maxRetries: 2, backoff: false });
    const gaveUp: RetryEvent[] = [];
    const retried: RetryEvent[] = [];
    policy.onGiveUp((e) => gaveUp.push(e));
    policy.onRetry((e) => retried.push(e));
    let calls = 0;
    const last = new Error('e3');
    await expect(
      policy.execute(() => {
        calls++;
        throw calls === 3 ? last : new Error(`e${calls}`);
      }),
    ).rejects.toBe(last);
    expect(retried.map((e) => e.attempt)).toEqual([1, 2]);
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]).toMatchObject({ attempt: 3, maxRetries: 2, error: last });
  });

  it('fires onGiveUp for a non-retryable error, and not on success', async () => {
    const policy = retry({ maxRetries: 2, backoff: false });
    const gaveUp: unknown[] = [];
    policy.onGiveUp((e) => gaveUp.push(e.error));
    await expect(policy.execute(() => 'fine')).resolves.toBe('fine');
    expect(gaveUp).toEqual([]);
    const open = new BrokenCircuitError('b', 'open');
    await expect(
      policy.execute(() => {
        throw open;
      }),
    ).rejects.toBe(open);
    expect(gaveUp).toEqual([open]);
  });

  it('accepts plain (non-promise) return values', async () => {
    await expect(retry().execute(() => 42)).resolves.toBe(42);
  });
});
