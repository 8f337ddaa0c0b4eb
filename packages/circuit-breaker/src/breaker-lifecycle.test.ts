import { createLogger, ShutdownRegistry } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker';
import { isBrokenCircuitError, isPolicyClosedError, PolicyClosedError } from './errors';
import type { FleetLink, FleetMessage } from './fleet';
import type { BreakerOptions } from './options';
import { BreakerRegistry } from './registry';

const quiet = createLogger({ level: 'silent' });
const never = <T>() => new Promise<T>(() => {});
const fail = () => Promise.reject(new Error('down'));

function make(options: BreakerOptions = {}) {
  const clock = new FakeClock();
  const breaker = new CircuitBreaker({ name: 'users', clock, logger: quiet, ...options });
  return { clock, breaker };
}

/** A fleet that records what the breaker publishes and whether it is still subscribed. */
function recordingFleet() {
  const published: FleetMessage[] = [];
  let subscribed = 0;
  const fleet: FleetLink = {
    publish: (m) => void published.push(m),
    subscribe: () => {
      subscribed++;
      return () => void subscribed--;
    },
    current: async () => undefined,
  };
  return { fleet, published, subscribed: () => subscribed };
}

describe('CircuitBreaker close() (teardown)', () => {
  it('settles calls waiting on its timeout with PolicyClosedError and aborts their signals', async () => {
    const { breaker, clock } = make({ timeoutMs: 1_000 });
    let signal: AbortSignal | undefined;
    const waiting = track(
      breaker.execute((ctx) => {
        signal = ctx.signal;
        return never();
      }),
    );
    const before = { ...breaker.totals };
    await breaker.close();
    await clock.advance(0);
    expect(isPolicyClosedError(waiting.error)).toBe(true);
    expect(waiting.error).toMatchObject({ policy: 'Circuit breaker', policyName: 'users', code: 'POLICY_CLOSED' });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(waiting.error);
    expect(breaker.totals).toEqual(before); // the shutdown is not the dependency's failure
    expect(breaker.inFlight).toBe(0);
    expect(clock.pendingCount).toBe(0);
  });

  it('refuses later calls without running them or counting them', async () => {
    const { breaker } = make({ timeoutMs: false });
    await breaker.execute(() => 'ok');
    await breaker.close();
    let ran = false;
    const error = await breaker
      .execute(() => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyClosedError);
    expect(ran).toBe(false);
    expect(isPolicyClosedError(await breaker.fire(() => 'x').catch((e: unknown) => e))).toBe(true);
    const wrapped = breaker.wrap(async (n: number) => n);
    expect(isPolicyClosedError(await wrapped(1).catch((e: unknown) => e))).toBe(true);
    expect(breaker.totals).toMatchObject({ success: 1, rejected: 0, shed: 0, cancelled: 0 });
    expect(breaker.isClosed).toBe(true);
  });

  it('a call running without a timer finishes normally', async () => {
    const { breaker } = make({ timeoutMs: false });
    let finish!: (v: string) => void;
    const running = breaker.execute(() => new Promise<string>((r) => (finish = r)));
    await breaker.close();
    finish('done');
    await expect(running).resolves.toBe('done');
    expect(breaker.inFlight).toBe(0);
  });

  it('stops the reset timer, leaves the fleet, and moves no more: no event, no timer, no fleet message', async () => {
    const recording = recordingFleet();
    const { breaker, clock } = make({ volumeThreshold: 1, timeoutMs: false, fleet: recording.fleet });
    expect(recording.subscribed()).toBe(1);
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(clock.pendingCount).toBe(1);
    const events: string[] = [];
    breaker.onStateChange((c) => events.push(c.to));
    await breaker.close();
    expect(clock.pendingCount).toBe(0);
    expect(recording.subscribed()).toBe(0);
    const published = recording.published.length;
    breaker.forceClose();
    breaker.forceOpen();
    await clock.advance(60_000);
    expect(events).toEqual([]);
    expect(recording.published).toHaveLength(published);
    expect(clock.pendingCount).toBe(0);
    expect(breaker.state).toBe('open'); // frozen as it was
  });

  it('is idempotent; dispose() and Symbol.asyncDispose are aliases', async () => {
    const { breaker } = make();
    const first = breaker.close();
    expect(first).toBeInstanceOf(Promise);
    await first;
    await breaker.close();
    await breaker.dispose();
    await breaker[Symbol.asyncDispose]();
    expect(breaker.isClosed).toBe(true);
  });

  it("works as core's Closeable: a ShutdownRegistry closes a registry and every breaker in it", async () => {
    const clock = new FakeClock();
    const breakers = new BreakerRegistry({ clock, logger: quiet, volumeThreshold: 1, timeoutMs: 5_000 });
    const users = breakers.get('users');
    const devices = breakers.get('devices');
    await users.execute(fail).catch(() => {}); // open: a reset timer (its timeout timer stays armed, lazily)
    const waiting = track(devices.execute(() => never())); // a timeout pending
    expect(clock.pendingCount).toBe(3);
    const shutdown = new ShutdownRegistry({ clock });
    shutdown.register('breakers', breakers);
    const report = await shutdown.shutdown();
    expect(report).toMatchObject({ ok: true, steps: [{ name: 'breakers', status: 'closed' }] });
    expect(users.isClosed && devices.isClosed).toBe(true);
    expect(isPolicyClosedError(waiting.error)).toBe(true);
    expect(clock.pendingCount).toBe(0);
    expect(breakers.names()).toEqual([]);
    expect(() => breakers.get('users')).toThrow(PolicyClosedError);
    await breakers.close(); // idempotent
  });

  it('forceOpen/forceClose set the state and are reported as forced', async () => {
    const { breaker } = make();
    const changes: string[] = [];
    breaker.onStateChange((c) => changes.push(`${c.to}${c.reason ? `:${c.reason}` : ''}`));
    breaker.forceOpen();
    expect(isBrokenCircuitError(await breaker.execute(() => 'x').catch((e: unknown) => e))).toBe(true);
    breaker.forceClose();
    await expect(breaker.execute(() => 'x')).resolves.toBe('x');
    expect(changes).toEqual(['open:forced', 'closed']);
  });
});

describe('opossum behaviours: enabled, disable()/enable(), warm-up', () => {
  it('enabled: false runs calls unprotected and uncounted until enable()', async () => {
    const { breaker, clock } = make({ enabled: false, volumeThreshold: 1, timeoutMs: 100 });
    expect(breaker.enabled).toBe(false);
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    const slow = track(breaker.execute(() => never()));
    await clock.advance(1_000);
    expect(slow.done).toBe(false); // no timeout while disabled
    expect(breaker.state).toBe('closed');
    expect(breaker.totals).toMatchObject({ failure: 0, success: 0 });
    breaker.enable();
    await breaker.execute(fail).catch(() => {});
    expect(breaker.totals.failure).toBe(1);
    expect(breaker.state).toBe('open');
  });

  it('disable() lets calls through an open breaker; enable() restores it', async () => {
    const { breaker } = make({ volumeThreshold: 1, timeoutMs: false });
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
    breaker.disable();
    await expect(breaker.execute(() => 'through')).resolves.toBe('through');
    breaker.enable();
    expect(isBrokenCircuitError(await breaker.execute(() => 'x').catch((e: unknown) => e))).toBe(true);
  });

  it('warmUpMs: failures during the warm-up never trip; afterwards they do', async () => {
    const { breaker, clock } = make({ warmUpMs: 5_000, volumeThreshold: 1, timeoutMs: false });
    for (let i = 0; i < 5; i++) await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
    await clock.advance(5_000);
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it("opossum's allowWarmUp: true warms up for the rolling window", async () => {
    const { breaker, clock } = make({ allowWarmUp: true, rollingCountTimeout: 2_000, volumeThreshold: 1 });
    expect(breaker.options.warmUpMs).toBe(2_000);
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
    await clock.advance(2_000);
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
  });
});
