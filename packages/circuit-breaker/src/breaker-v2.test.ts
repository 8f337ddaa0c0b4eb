/**
 * Issue 23 §1: slow half-open probes, isolate(), timeout strategies (zombies, held slots), registry option
 * conflicts and the HTTP client's breakers in the registry.
 */
import { createLogger } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker';
import { bulkhead } from './bulkhead';
import { isBreakerOptionsConflictError, isBrokenCircuitError, isShedError, isTimeoutError } from './errors';
import { createHttpClient } from './http';
import { BreakerRegistry } from './registry';
import { timeout } from './timeout';
import { wrap } from './wrap';

const quiet = createLogger({ level: 'silent' });
const collect = useInMemoryMetrics();

async function zombieGauge(name: string): Promise<number | undefined> {
  const find = await collect();
  return find('ballast_breaker_zombie_calls')?.dataPoints.find((p) => p.attributes.name === name)?.value as
    | number
    | undefined;
}

const sleep = (clock: FakeClock, ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));

/** A function that settles only when told to (a dependency that ignores its abort signal). */
function controllable<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { fn: () => promise, resolve };
}

describe('half-open probes are judged by the slow-call rule', () => {
  it('a probe that succeeds in 80 ms against a 50 ms limit re-opens the breaker (slow-probe)', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({
      name: 'slow',
      clock,
      logger: quiet,
      timeoutMs: false,
      slowCallDurationMs: 50,
      slowCallRateThreshold: 50,
      volumeThreshold: 2,
      resetTimeoutMs: 1_000,
    });
    const slowCall = () => sleep(clock, 80).then(() => 'ok');
    const first = breaker.execute(slowCall);
    const second = breaker.execute(slowCall);
    await clock.advance(80);
    await Promise.all([first, second]);
    expect(breaker.state).toBe('open');

    await clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
    const reasons: (string | undefined)[] = [];
    breaker.onOpen((c) => reasons.push(c.reason));
    const probe = breaker.execute(slowCall);
    await clock.advance(80);
    expect(await probe).toBe('ok');
    expect(breaker.state).toBe('open');
    expect(reasons).toEqual(['slow-probe']);

    // A fast probe closes it.
    await clock.advance(1_000);
    const fast = breaker.execute(() => sleep(clock, 10).then(() => 'ok'));
    await clock.advance(10);
    await fast;
    expect(breaker.state).toBe('closed');
    await breaker.close();
  });
});

describe('isolate()', () => {
  it('keeps the breaker open past the reset timeout until every handle is released, then half-opens', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ name: 'iso', clock, logger: quiet, resetTimeoutMs: 1_000 });
    const release = breaker.isolate();
    const second = breaker.isolate();
    expect(breaker.state).toBe('open');
    await clock.advance(60_000);
    expect(breaker.state).toBe('open');
    expect(clock.pendingTimers()).toEqual([]);
    expect(isBrokenCircuitError(await breaker.execute(() => 1).catch((e: unknown) => e))).toBe(true);
    release();
    release(); // each handle once
    expect(breaker.state).toBe('open');
    second();
    expect(breaker.state).toBe('half-open');
    expect(await breaker.execute(() => 1)).toBe(1);
    expect(breaker.state).toBe('closed');
    await breaker.close();
  });

  it('forceOpen() by contrast half-opens after the reset timeout', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ name: 'forced', clock, logger: quiet, resetTimeoutMs: 1_000 });
    breaker.forceOpen();
    await clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
    await breaker.close();
  });
});

describe('timeout strategies, held slots and zombie calls', () => {
  it('aggressive (default): rejects at the deadline; the still-running call is a zombie until it settles', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ name: 'zombie', clock, logger: quiet, timeoutMs: 100, capacity: 1 });
    const dep = controllable<string>();
    const call = track(breaker.execute(dep.fn));
    await clock.advance(100);
    expect(isTimeoutError(call.error)).toBe(true);
    expect(breaker.zombieCalls).toBe(1);
    expect(await zombieGauge('zombie')).toBe(1);
    // Without holdSlotUntilSettled the slot is free again though the function still runs.
    expect(breaker.inFlight).toBe(0);
    dep.resolve('late');
    await clock.advance(0);
    expect(breaker.zombieCalls).toBe(0);
    expect(await zombieGauge('zombie')).toBe(0);
    await breaker.close();
  });

  it('holdSlotUntilSettled: the capacity slot stays taken until the timed-out function settles', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({
      name: 'held',
      clock,
      logger: quiet,
      timeoutMs: 100,
      capacity: 1,
      holdSlotUntilSettled: true,
    });
    const dep = controllable<string>();
    const call = track(breaker.execute(dep.fn));
    await clock.advance(100);
    expect(isTimeoutError(call.error)).toBe(true);
    expect(breaker.inFlight).toBe(1);
    expect(isShedError(await breaker.execute(() => 'next').catch((e: unknown) => e))).toBe(true);
    dep.resolve('late');
    await clock.advance(0);
    expect(breaker.inFlight).toBe(0);
    expect(await breaker.execute(() => 'next')).toBe('next');
    await breaker.close();
  });

  it("cooperative: aborts the function's signal and settles when it does; an outer bulkhead keeps its slot", async () => {
    const clock = new FakeClock();
    const bh = bulkhead({ maxConcurrent: 1 });
    const t = timeout({ timeoutMs: 100, clock }, 'cooperative');
    const policy = wrap(bh, t);
    let aborted = false;
    const dep = controllable<string>();
    const call = track(
      policy.execute(({ signal }) => {
        signal.addEventListener('abort', () => {
          aborted = true;
        });
        return dep.fn();
      }),
    );
    await clock.advance(100);
    expect(t.strategy).toBe('cooperative');
    expect(aborted).toBe(true);
    expect(call.done).toBe(false);
    expect(bh.running).toBe(1);
    expect(t.zombieCalls).toBe(0);
    dep.resolve('finished');
    await clock.advance(0);
    expect(call.value).toBe('finished');
    expect(bh.running).toBe(0);
  });

  it('cooperative on a breaker: a function that gives up on abort rejects with the TimeoutError', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({
      name: 'coop',
      clock,
      logger: quiet,
      timeoutMs: 100,
      timeoutStrategy: 'cooperative',
    });
    const call = track(
      breaker.execute(
        ({ signal }) =>
          new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('gave up')))),
      ),
    );
    await clock.advance(100);
    expect(isTimeoutError(call.error)).toBe(true);
    expect(breaker.totals.timeout).toBe(1);
    expect(breaker.zombieCalls).toBe(0);
    await breaker.close();
  });
});

describe('registry', () => {
  it('get() with options differing from the first get throws BreakerOptionsConflictError naming them', () => {
    const reg = new BreakerRegistry({ logger: quiet });
    const users = reg.get('users', { timeoutMs: 1_000 });
    expect(reg.get('users')).toBe(users);
    expect(reg.get('users', { timeoutMs: 1_000 })).toBe(users);
    const error = (() => {
      try {
        reg.get('users', { timeoutMs: 5_000, volumeThreshold: 3 });
      } catch (e) {
        return e;
      }
    })();
    expect(isBreakerOptionsConflictError(error)).toBe(true);
    expect(error).toMatchObject({ breaker: 'users', options: ['timeoutMs', 'volumeThreshold'] });
    void reg.close();
  });

  it("the HTTP client's per-service breakers appear in the registry's stats without add(), and leave with it", async () => {
    const reg = new BreakerRegistry({ logger: quiet });
    const fetch = (async () => new Response('{}', { status: 200 })) as typeof globalThis.fetch;
    const a = createHttpClient({ resolve: () => 'http://a', fetch, registry: reg, logger: quiet });
    const b = createHttpClient({ resolve: () => 'http://b', fetch, registry: reg, logger: quiet });
    await a.get('users', '/x');
    await b.get('users', '/x');
    expect(reg.names()).toEqual(['users', 'users#2']);
    expect(reg.stats().circuitBreakers.users?.stats.successes).toBe(1);
    await a.close();
    await b.close();
    expect(reg.names()).toEqual([]);
  });
});
