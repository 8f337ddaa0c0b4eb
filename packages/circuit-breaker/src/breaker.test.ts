import { Writable } from 'node:stream';
import { type AbortedError, createLogger, InvalidOptionsError, isAbortedError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker';
import { BrokenCircuitError, isBrokenCircuitError, isPolicyClosedError, isShedError, isTimeoutError } from './errors';
import type { BreakerOptions } from './options';

const boom = new Error('boom');
const fail = async () => {
  throw boom;
};
const ok = async () => 'ok';

function logCapture() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger({ destination: stream, level: 'debug' }) };
}

function make(options: BreakerOptions = {}) {
  const clock = new FakeClock();
  const log = logCapture();
  const breaker = new CircuitBreaker({ name: 'users', clock, logger: log.logger, ...options });
  return { clock, breaker, lines: log.lines };
}

async function settle(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => v,
    (e: unknown) => e,
  );
}

describe('CircuitBreaker defaults', () => {
  it('uses seed 003 defaults', () => {
    const { breaker } = make();
    expect(breaker.options).toMatchObject({
      timeoutMs: 10_000,
      errorThresholdPercentage: 50,
      resetTimeoutMs: 30_000,
      rollingCountTimeoutMs: 10_000,
      rollingCountBuckets: 10,
      volumeThreshold: 10,
      capacity: 100,
      halfOpenMaxProbes: 1,
      successThreshold: 1,
    });
  });

  it("accepts opossum's option names", () => {
    const b = new CircuitBreaker({
      timeout: 5_000,
      resetTimeout: 1_000,
      rollingCountTimeout: 2_000,
      errorFilter: (e: unknown) => (e as Error).message === 'not found',
    } as BreakerOptions);
    expect(b.options).toMatchObject({ timeoutMs: 5_000, resetTimeoutMs: 1_000, rollingCountTimeoutMs: 2_000 });
    expect(b.options.isFailure?.(new Error('not found'))).toBe(false);
    expect(b.options.isFailure?.(new Error('down'))).toBe(true);
    void b.close();
  });

  it('rejects bad options with a typed error naming each field', () => {
    try {
      new CircuitBreaker({ timeoutMs: -1, errorThresholdPercentage: 150, isFailure: 'yes' as never });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidOptionsError);
      const paths = (e as InvalidOptionsError).issues.map((i) => i.path).sort();
      expect(paths).toEqual(['errorThresholdPercentage', 'isFailure', 'timeoutMs']);
      expect((e as Error).message).toMatch(/errorThresholdPercentage: expected number <= 100, received number 150/);
    }
    expect(() => new CircuitBreaker({ timeout: 1, timeoutMs: 2 })).toThrow(
      /timeout: expected either timeout \(opossum's name\) or timeoutMs, not both/,
    );
  });
});

describe('state transitions', () => {
  it('stays closed under the volume threshold, opens at the error percentage, then rejects without calling', async () => {
    const { breaker, lines } = make({ volumeThreshold: 10, errorThresholdPercentage: 50 });
    const opened: unknown[] = [];
    breaker.onOpen((e) => opened.push(e));
    for (let i = 0; i < 5; i++) await settle(breaker.execute(ok));
    for (let i = 0; i < 4; i++) await settle(breaker.execute(fail));
    expect(breaker.state).toBe('closed'); // 9 calls < volumeThreshold
    await settle(breaker.execute(fail)); // 10 calls, 50 % failed
    expect(breaker.state).toBe('open');
    expect(opened).toEqual([{ name: 'users', from: 'closed', to: 'open', reason: 'failure-rate' }]);
    let called = false;
    const err = await settle(
      breaker.execute(async () => {
        called = true;
      }),
    );
    expect(err).toBeInstanceOf(BrokenCircuitError);
    expect(called).toBe(false);
    expect(breaker.counts().rejected).toBe(1);
    expect(lines.some((l) => l.msg === '🔴 Circuit breaker OPENED for users' && l.level === 50)).toBe(true);
  });

  it('half-opens after resetTimeoutMs by its own timer, closes on a good probe, logs each step', async () => {
    const { breaker, clock, lines } = make({ volumeThreshold: 2, resetTimeoutMs: 30_000 });
    const changes: string[] = [];
    breaker.onStateChange((c) => changes.push(`${c.from}->${c.to}`));
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open');
    await clock.advance(29_999);
    expect(breaker.state).toBe('open');
    await clock.advance(1);
    expect(changes).toEqual(['closed->open', 'open->half-open']);
    expect(await breaker.execute(ok)).toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        '🔴 Circuit breaker OPENED for users',
        '🟡 Circuit breaker HALF-OPEN for users',
        '🟢 Circuit breaker CLOSED for users',
      ]),
    );
    // The window was reset on close: one failure does not re-open it.
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('closed');
  });

  it('a failed probe re-opens for another full reset timeout', async () => {
    const { breaker, clock } = make({ volumeThreshold: 1, resetTimeoutMs: 1_000 });
    await settle(breaker.execute(fail));
    await clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open');
    await clock.advance(999);
    expect(breaker.state).toBe('open');
    await clock.advance(1);
    expect(breaker.state).toBe('half-open');
  });

  it('half-open lets exactly halfOpenMaxProbes through and needs successThreshold successes', async () => {
    const { breaker, clock } = make({
      volumeThreshold: 1,
      resetTimeoutMs: 100,
      halfOpenMaxProbes: 2,
      successThreshold: 3,
    });
    await settle(breaker.execute(fail));
    await clock.advance(100);
    const gates: (() => void)[] = [];
    const probe = () => breaker.execute(() => new Promise<string>((r) => gates.push(() => r('p'))));
    const p1 = probe();
    const p2 = probe();
    const third = await settle(probe());
    expect(isBrokenCircuitError(third)).toBe(true);
    expect((third as BrokenCircuitError).state).toBe('half-open');
    expect(gates).toHaveLength(2);
    for (const g of gates.splice(0)) g();
    await Promise.all([p1, p2]);
    expect(breaker.state).toBe('half-open'); // 2 of 3 successes
    const p3 = probe();
    gates.shift()?.();
    await p3;
    expect(breaker.state).toBe('closed');
  });

  it('failures age out of the rolling window', async () => {
    const { breaker, clock } = make({ volumeThreshold: 4, rollingCountTimeoutMs: 10_000, rollingCountBuckets: 10 });
    for (let i = 0; i < 3; i++) await settle(breaker.execute(fail));
    await clock.advance(10_000); // those three are now outside the window
    await settle(breaker.execute(fail));
    expect(breaker.counts().failure).toBe(1);
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 3; i++) await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open');
  });

  it('count window: trips on the last N calls only', async () => {
    const { breaker } = make({ windowType: 'count', windowSize: 4, volumeThreshold: 4, errorThresholdPercentage: 75 });
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    for (let i = 0; i < 4; i++) await settle(breaker.execute(ok)); // the failures roll out
    expect(breaker.counts()).toMatchObject({ success: 4, failure: 0 });
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('closed'); // 2 of last 4
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open'); // 3 of last 4 = 75 %
  });

  it('slow calls trip the breaker even when they succeed', async () => {
    const { breaker, clock } = make({
      volumeThreshold: 3,
      slowCallDurationMs: 500,
      slowCallRateThreshold: 60,
      timeoutMs: false,
    });
    const slow = () =>
      breaker.execute(async () => {
        await new Promise<void>((r) => clock.setTimeout(r, 600));
        return 'slow';
      });
    await settle(breaker.execute(ok));
    let p = slow();
    await clock.advance(600);
    await p;
    expect(breaker.state).toBe('closed');
    p = slow();
    await clock.advance(600);
    await p;
    expect(breaker.counts().slow).toBe(2);
    expect(breaker.state).toBe('open');
  });

  it("seed 004's simple breaker: N consecutive failures trip it whatever the rate", async () => {
    const { breaker } = make({ consecutiveFailureThreshold: 5, volumeThreshold: 1_000 });
    for (let i = 0; i < 4; i++) await settle(breaker.execute(fail));
    await breaker.execute(ok); // resets the run
    for (let i = 0; i < 4; i++) await settle(breaker.execute(fail));
    expect(breaker.state).toBe('closed');
    const opened: string[] = [];
    breaker.onOpen((c) => opened.push(c.reason!));
    await settle(breaker.execute(fail));
    expect(opened).toEqual(['consecutive-failures']);
  });

  it('forceOpen() and forceClose() set the state', async () => {
    const { breaker } = make();
    breaker.forceOpen();
    expect(breaker.state).toBe('open');
    expect(isBrokenCircuitError(await settle(breaker.execute(ok)))).toBe(true);
    breaker.forceClose();
    expect(breaker.state).toBe('closed');
    expect(await breaker.execute(ok)).toBe('ok');
  });
});

describe('outcome taxonomy', () => {
  it('timeout: rejects with TimeoutError, aborts the signal given to fn, counts as a timeout failure', async () => {
    const { breaker, clock } = make({ timeoutMs: 1_000, volumeThreshold: 100 });
    let seen: AbortSignal | undefined;
    const p = settle(
      breaker.execute(({ signal }) => {
        seen = signal;
        return new Promise(() => {});
      }),
    );
    await clock.advance(1_000);
    const err = await p;
    expect(isTimeoutError(err)).toBe(true);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(err);
    expect(breaker.counts()).toMatchObject({ timeout: 1, failure: 0, success: 0 });
    expect(breaker.totals.timeout).toBe(1);
  });

  it('shed: over capacity is rejected with ShedError and never counts as a failure', async () => {
    const { breaker } = make({ capacity: 1, volumeThreshold: 1, errorThresholdPercentage: 1 });
    let release: () => void = () => {};
    const running = breaker.execute(() => new Promise<void>((r) => (release = r)));
    const shed: unknown[] = [];
    for (let i = 0; i < 20; i++) shed.push(await settle(breaker.execute(ok)));
    expect(shed.every(isShedError)).toBe(true);
    expect(breaker.state).toBe('closed');
    release();
    await running;
    expect(breaker.counts()).toMatchObject({ shed: 20, success: 1, failure: 0 });
    expect(breaker.state).toBe('closed');
  });

  it("cancelled: the caller's abort rejects with AbortedError, aborts fn's signal, and is not a failure", async () => {
    const { breaker } = make({ volumeThreshold: 1, errorThresholdPercentage: 1 });
    const caller = new AbortController();
    let inner: AbortSignal | undefined;
    const p = settle(
      breaker.execute(({ signal }) => {
        inner = signal;
        return new Promise(() => {});
      }, caller.signal),
    );
    caller.abort(new Error('user left'));
    const err = await p;
    expect(isAbortedError(err)).toBe(true);
    expect((err as AbortedError).cause).toEqual(new Error('user left'));
    expect(inner?.aborted).toBe(true);
    expect(breaker.counts()).toMatchObject({ cancelled: 1, failure: 0 });
    expect(breaker.state).toBe('closed');
    // Already aborted: not even started.
    let started = false;
    const again = await settle(
      breaker.execute(async () => {
        started = true;
      }, caller.signal),
    );
    expect(isAbortedError(again)).toBe(true);
    expect(started).toBe(false);
  });

  it('isFailure: errors it rejects are rethrown but count as successes', async () => {
    const notFound = Object.assign(new Error('404'), { status: 404 });
    const { breaker } = make({
      volumeThreshold: 1,
      isFailure: (e) => (e as { status?: number }).status !== 404,
    });
    for (let i = 0; i < 5; i++) expect(await settle(breaker.execute(() => Promise.reject(notFound)))).toBe(notFound);
    expect(breaker.state).toBe('closed');
    expect(breaker.counts()).toMatchObject({ success: 5, failure: 0 });
  });

  it('synchronous throws and plain values are handled like promises', async () => {
    const { breaker } = make({ timeoutMs: false, volumeThreshold: 1 });
    expect(await breaker.execute(() => 42)).toBe(42);
    const err = await settle(
      breaker.execute(() => {
        throw boom;
      }),
    );
    expect(err).toBe(boom);
    expect(breaker.counts()).toMatchObject({ success: 1, failure: 1 });
  });

  it('records latency percentiles from a fixed histogram', async () => {
    const { breaker, clock } = make({ timeoutMs: false });
    for (const ms of [10, 20, 30, 40, 1_000]) {
      const p = breaker.execute(() => new Promise<void>((r) => clock.setTimeout(r, ms)));
      await clock.advance(ms);
      await p;
    }
    const h = breaker.latency();
    expect(h.count).toBe(5);
    expect(h.quantile(0.5) / 1000).toBeCloseTo(30, -1);
    expect(h.quantile(1) / 1000).toBeCloseTo(1_000, -2);
    expect(h.meanUs / 1000).toBeCloseTo(220, 0);
  });
});

describe('lifecycle', () => {
  it('close() leaves no timer running and settles the call it was timing', async () => {
    const { breaker, clock } = make({ volumeThreshold: 1, timeoutMs: 500 });
    const p = settle(breaker.execute(() => new Promise(() => {})));
    await settle(breaker.execute(fail));
    breaker.forceOpen();
    expect(clock.pendingCount).toBe(2); // the reset timer and the timeout queue's
    await breaker.close();
    expect(clock.pendingCount).toBe(0);
    expect(isPolicyClosedError(await p)).toBe(true);
  });

  it('wrap() keeps arguments; fire() is execute', async () => {
    const { breaker } = make();
    const add = breaker.wrap(async (a: number, b: number) => a + b);
    expect(await add(2, 3)).toBe(5);
    expect(await breaker.fire(() => 'x')).toBe('x');
  });
});
