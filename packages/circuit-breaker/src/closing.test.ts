import { FakeClock, track } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { bulkhead } from './bulkhead';
import { isPolicyClosedError, isRateLimitedError, PolicyClosedError } from './errors';
import { rateLimit } from './rate-limit';
import { retry } from './retry';
import { timeout } from './timeout';
import { wrap } from './wrap';

const never = <T>() => new Promise<T>(() => {});
const refused = (p: Promise<unknown>) =>
  p.then(
    () => 'ran',
    (e: unknown) => e,
  );

describe('close() on every policy', () => {
  it('retry: a backoff wait in progress ends at once with PolicyClosedError, leaving no timer', async () => {
    const clock = new FakeClock();
    const policy = retry({ maxRetries: 3, backoff: { initialMs: 500, jitter: 'none' }, clock });
    let tries = 0;
    const result = track(
      policy.execute(() => {
        tries++;
        throw new Error('down');
      }),
    );
    await clock.advance(0);
    expect(clock.pendingCount).toBe(1); // the 500 ms backoff
    await policy.close();
    await clock.advance(0);
    expect(isPolicyClosedError(result.error)).toBe(true);
    expect((result.error as PolicyClosedError).message).toBe('Retry policy has been closed (shut down): call refused');
    expect(clock.pendingCount).toBe(0);
    await clock.advance(10_000);
    expect(tries).toBe(1);
    expect(isPolicyClosedError(await refused(policy.execute(() => 'x')))).toBe(true);
  });

  it('retry: a try still running when it closes is not retried', async () => {
    const policy = retry({ maxRetries: 3, backoff: false });
    let fail!: (e: Error) => void;
    let tries = 0;
    const result = policy.execute(() => {
      tries++;
      return new Promise((_, reject) => (fail = reject));
    });
    await policy.close();
    fail(new Error('down'));
    await expect(result).rejects.toThrow('down');
    expect(tries).toBe(1);
  });

  it('retry does not retry what a closed policy inside it refuses', async () => {
    const inner = timeout({ timeoutMs: 1_000, clock: new FakeClock() });
    await inner.close();
    const r = retry({ maxRetries: 3, backoff: false });
    let retries = 0;
    r.onRetry(() => retries++);
    expect(isPolicyClosedError(await refused(wrap(r, inner).execute(() => 'x')))).toBe(true);
    expect(retries).toBe(0);
  });

  it('bulkhead: queued calls reject with PolicyClosedError, running ones finish, later ones are refused', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueued: 2, name: 'exports' });
    let finish!: (v: string) => void;
    const running = policy.execute(() => new Promise<string>((r) => (finish = r)));
    const controller = new AbortController();
    const queued = track(policy.execute(() => 'queued', controller.signal));
    expect(policy.queued).toBe(1);
    await policy.close();
    await Promise.resolve();
    expect(isPolicyClosedError(queued.error)).toBe(true);
    expect((queued.error as PolicyClosedError).message).toBe(
      'Bulkhead "exports" has been closed (shut down): call refused',
    );
    expect(policy.queued).toBe(0);
    controller.abort(); // its abort listener is gone: nothing happens
    finish('done');
    await expect(running).resolves.toBe('done');
    expect(isPolicyClosedError(await refused(policy.execute(() => 'x')))).toBe(true);
    await policy.close(); // idempotent
  });

  it('rate limit: refused after close, tryAcquire included', async () => {
    const limiter = rateLimit({ limit: 5, name: 'api' });
    await expect(limiter.execute(() => 'ok')).resolves.toBe('ok');
    await limiter.close();
    expect(isPolicyClosedError(await refused(limiter.execute(() => 'x')))).toBe(true);
    expect(() => limiter.tryAcquire()).toThrow(PolicyClosedError);
    expect(() => limiter.tryAcquire()).toThrow('Rate limit "api" has been closed');
    await limiter[Symbol.asyncDispose](); // idempotent alias
  });

  it('every policy leaves no timer after close, with calls in flight through a wrap', async () => {
    const clock = new FakeClock();
    const r = retry({ maxRetries: 1, backoff: { initialMs: 1_000, jitter: 'none' }, clock });
    const t = timeout({ timeoutMs: 5_000, clock });
    const b = bulkhead({ maxConcurrent: 1, maxQueued: 1 });
    const policy = wrap(r, b, t);
    const first = track(policy.execute(() => never()));
    const second = track(policy.execute(() => never())); // queued in the bulkhead
    await clock.advance(0);
    expect(clock.pendingCount).toBe(1); // the timeout's
    await Promise.all([t.close(), b.close(), r.close()]);
    await clock.advance(0);
    expect(clock.pendingCount).toBe(0);
    expect(isPolicyClosedError(first.error)).toBe(true);
    expect(isPolicyClosedError(second.error)).toBe(true);
  });
});

describe('a rate limiter inside wrap()', () => {
  it('refuses before the function runs, telling when to come back', async () => {
    const clock = new FakeClock();
    const limiter = rateLimit({ limit: 1, intervalMs: 1_000, clock, name: 'api' });
    let calls = 0;
    const policy = wrap(retry({ maxRetries: 2, backoff: false, retryOn: (e) => !isRateLimitedError(e) }), limiter);
    await expect(policy.execute(() => ++calls)).resolves.toBe(1);
    const error = await refused(policy.execute(() => ++calls));
    expect(isRateLimitedError(error)).toBe(true);
    expect(error).toMatchObject({ limiter: 'api', retryAfterMs: 1_000 });
    expect(calls).toBe(1);
    await clock.advance(1_000);
    await expect(policy.execute(() => ++calls)).resolves.toBe(2);
  });

  it('hands the inner function the signal and attempt of the layers around it', async () => {
    const limiter = rateLimit({ limit: 10 });
    const controller = new AbortController();
    let seen: { signal: AbortSignal; attempt: number } | undefined;
    let tries = 0;
    await wrap(retry({ maxRetries: 1, backoff: false }), limiter).execute((ctx) => {
      seen = ctx;
      if (++tries === 1) throw new Error('again');
      return 'ok';
    }, controller.signal);
    expect(seen?.attempt).toBe(1);
    expect(seen?.signal).toBe(controller.signal);
    expect(limiter.available()).toBe(8); // one token per try
  });
});
