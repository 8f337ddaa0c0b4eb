// Redis stopped and restarted under an event bus: publish fails typed within commandTimeoutMs, the blocking
// connection's errors reach the logger once (no `Unhandled error event`), close() ends within drainTimeoutMs,
// delivery resumes after the restart. Timings are printed.
import { isBackendUnavailableError } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';

// A private redis-server (AOF: its data survives restart) and a client with ioredis's defaults (~10 s before
// it gives up on a command): the bounds asserted below are Ballast's, not the client's.
const fx = useRedisServer();

const since = (t: number) => Math.round(performance.now() - t);
const events = { 'order.placed': z.object({ n: z.number() }) };

describe('event bus with Redis down', () => {
  it('fails typed and bounded, logs once per state change, closes within drainTimeoutMs, recovers', async () => {
    const { server, redis } = fx;
    const consoleError = vi.spyOn(console, 'error');
    const logs = captureLogs();
    const bus = createEventBus({ redis, source: 'outage', events, logger: logs.logger, commandTimeoutMs: 500 });
    const got: number[] = [];
    let handling4: (() => void) | undefined;
    let open4!: () => void;
    const gate4 = new Promise<void>((r) => (open4 = r));
    const started4 = new Promise<void>((r) => (handling4 = r));
    let arrived: (() => void) | undefined;
    const sub = await bus.subscribe(
      'order.placed',
      async (e) => {
        if (e.data.n === 4) {
          handling4?.();
          await gate4; // in flight when Redis goes away
        }
        got.push(e.data.n);
        arrived?.();
      },
      { blockMs: 100, drainTimeoutMs: 1_000 },
    );
    const errors: unknown[] = [];
    let failed: (() => void) | undefined;
    sub.onError(({ error }) => {
      errors.push(error);
      failed?.();
    });
    const next = () => new Promise<void>((r) => (arrived = r));
    let p = next();
    await bus.publish('order.placed', { n: 1 });
    await p;

    await server.kill();
    let t = performance.now();
    const error = await bus.publish('order.placed', { n: 2 }).catch((e: unknown) => e);
    const publishTook = since(t);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect(error).toMatchObject({ backend: 'redis' });
    expect(publishTook).toBeLessThan(1_500);

    // The consumer's loop fails at least twice: one warning for it, one for the blocking connection.
    while (errors.length < 2) await new Promise<void>((r) => (failed = r));
    expect(errors.every(isBackendUnavailableError)).toBe(true);

    t = performance.now();
    await server.restart();
    p = next();
    for (;;) {
      const sent = await bus.publish('order.placed', { n: 3 }).then(
        () => true,
        () => false,
      );
      if (sent) break;
    }
    await p;
    const recoverTook = since(t);
    expect(got).toContain(3);

    // A handler in flight when Redis goes away: close() gives it drainTimeoutMs, and its ack, which cannot
    // reach Redis, does not hold close() up beyond that (the entry stays pending: redelivered).
    await bus.publish('order.placed', { n: 4 });
    await started4;
    await server.kill();
    t = performance.now();
    const closing = bus.close();
    setTimeout(open4, 300); // finishes during the drain; its ack then waits on a dead Redis
    await closing;
    const closeTook = since(t);
    expect(closeTook).toBeLessThan(1_500);
    await server.restart();

    const warns = logs.atLeast(40);
    const lost = warns.filter((l) => l.msg === 'redis connection lost');
    expect(lost.length).toBeGreaterThanOrEqual(1);
    expect(lost.length).toBeLessThanOrEqual(2); // two outages; never one per retry
    expect(lost.every((l) => l.connection === 'blocking reads')).toBe(true);
    expect(warns.filter((l) => String(l.msg).startsWith('read failed')).length).toBeLessThanOrEqual(2);
    expect(logs.lines.some((l) => l.msg === 'redis connection restored')).toBe(true);
    expect(logs.atLeast(50)).toEqual([]);
    expect(got).toContain(4);
    expect(logs.lines.find((l) => l.msg === 'event bus closed')?.level).toBe(20); // lifecycle: debug
    const unhandled = consoleError.mock.calls.filter((c) => String(c[0]).includes('Unhandled error event'));
    expect(unhandled).toEqual([]);
    consoleError.mockRestore();
    console.info(
      `[event-bus outage] publish → typed error in ${publishTook} ms (commandTimeoutMs 500); ` +
        `close() after outage ${closeTook} ms (drainTimeoutMs 1000); delivered again ${recoverTook} ms after restart`,
    );
  });
});
