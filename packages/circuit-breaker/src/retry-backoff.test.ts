/**
 * The retry policy's wait between tries: the exponential schedule on the fake clock, its maxMs cap, full
 * jitter, and delayFor overrides (e.g. Retry-After), capped and falling back to the schedule.
 */

import { FakeClock, track } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { isRetryAfterTooLongError } from './errors';
import { type RetryEvent, type RetryOptions, retry } from './retry';

/** The delays a policy waits before each retry of a call that always fails (fake clock, run to the end). */
async function delaysOf(options: Omit<RetryOptions, 'clock'>): Promise<number[]> {
  const clock = new FakeClock();
  const policy = retry({ ...options, clock });
  const delays: number[] = [];
  policy.onRetry((e) => delays.push(e.delayMs));
  const result = track(
    policy.execute(() => {
      throw new Error('down');
    }),
  );
  await clock.advance(10_000);
  expect(result.done).toBe(true);
  return delays;
}

describe('retry', () => {
  it('waits exactly 500, 1000, 2000 ms between tries with jitter none (onRetry + fake clock)', async () => {
    const clock = new FakeClock();
    const policy = retry({ maxRetries: 3, backoff: { jitter: 'none' }, clock });
    const events: RetryEvent[] = [];
    policy.onRetry((e) => events.push(e));
    const startedAt: number[] = [];
    const errors: Error[] = [];
    const result = track(
      policy.execute(() => {
        startedAt.push(clock.monotonic());
        const error = new Error(`try ${startedAt.length}`);
        errors.push(error);
        throw error;
      }),
    );

    await clock.advance(0);
    expect(startedAt).toEqual([0]);
    expect(events.map((e) => e.delayMs)).toEqual([500]);

    await clock.advance(499);
    expect(startedAt).toEqual([0]); // not before the delay
    await clock.advance(1);
    expect(startedAt).toEqual([0, 500]);

    await clock.advance(999);
    expect(startedAt).toEqual([0, 500]);
    await clock.advance(1);
    expect(startedAt).toEqual([0, 500, 1500]);

    await clock.advance(1999);
    expect(startedAt).toEqual([0, 500, 1500]);
    expect(result.done).toBe(false);
    await clock.advance(1);
    expect(startedAt).toEqual([0, 500, 1500, 3500]);

    expect(result.done).toBe(true);
    expect(result.error).toBe(errors[3]);
    expect(events).toEqual([
      { attempt: 1, maxRetries: 3, delayMs: 500, error: errors[0] },
      { attempt: 2, maxRetries: 3, delayMs: 1000, error: errors[1] },
      { attempt: 3, maxRetries: 3, delayMs: 2000, error: errors[2] },
    ]);
    expect(clock.pendingCount).toBe(0);
  });

  it('caps exponential delays at maxMs', async () => {
    const delays = await delaysOf({ maxRetries: 4, backoff: { jitter: 'none', initialMs: 100, maxMs: 250 } });
    expect(delays).toEqual([100, 200, 250, 250]);
  });

  it('full jitter (the default) stays within [0, exponential], driven by `random`', async () => {
    expect(await delaysOf({ maxRetries: 3, random: () => 0.5 })).toEqual([250, 500, 1000]);
  });

  it('uses delayFor (e.g. Retry-After) over the backoff, and the backoff when it returns undefined', async () => {
    const clock = new FakeClock();
    const policy = retry({
      maxRetries: 2,
      backoff: { jitter: 'none' },
      clock,
      delayFor: (error) => (error as { retryAfterMs?: number }).retryAfterMs,
    });
    const delays: number[] = [];
    policy.onRetry((e) => delays.push(e.delayMs));
    const startedAt: number[] = [];
    const result = track(
      policy.execute(() => {
        startedAt.push(clock.monotonic());
        if (startedAt.length === 1) throw Object.assign(new Error('429'), { retryAfterMs: 5_000 });
        if (startedAt.length === 2) throw new Error('503');
        return 'ok';
      }),
    );
    await clock.advance(4_999);
    expect(startedAt).toEqual([0]);
    await clock.advance(1);
    expect(startedAt).toEqual([0, 5_000]);
    // The second retry falls back to the exponential schedule (second step: 1000 ms).
    await clock.advance(999);
    expect(startedAt).toEqual([0, 5_000]);
    await clock.advance(1);
    expect(startedAt).toEqual([0, 5_000, 6_000]);
    expect(result).toEqual({ done: true, value: 'ok' });
    expect(delays).toEqual([5_000, 1_000]);
  });

  it('honours a delayFor override in full (never shorter) and ignores unusable values', async () => {
    const overrides = [6_000, Number.NaN, -5];
    const delays = await delaysOf({
      maxRetries: 3,
      backoff: { jitter: 'none', initialMs: 100, maxMs: 1_000 },
      maxRetryAfterMs: 8_000,
      delayFor: (_error, attempt) => overrides[attempt - 1],
    });
    // 6 s as asked (not capped at maxMs); NaN and a negative value fall back to the schedule (200, 400).
    expect(delays).toEqual([6_000, 200, 400]);
  });

  it('gives up at once with RetryAfterTooLongError (the server time attached) beyond maxRetryAfterMs', async () => {
    const clock = new FakeClock();
    const cause = new Error('429');
    let tries = 0;
    const policy = retry({
      maxRetries: 3,
      backoff: { jitter: 'none', maxMs: 30_000 },
      delayFor: () => 120_000,
      maxRetryAfterMs: 60_000,
      clock,
    });
    const retried: number[] = [];
    policy.onRetry((e) => retried.push(e.delayMs));
    const error = await policy
      .execute(() => {
        tries++;
        throw cause;
      })
      .catch((e: unknown) => e);
    expect(isRetryAfterTooLongError(error)).toBe(true);
    expect(error).toMatchObject({ retryAfterMs: 120_000, maxRetryAfterMs: 60_000, cause });
    expect(tries).toBe(1);
    expect(retried).toEqual([]);
  });
});
