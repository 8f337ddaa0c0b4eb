// A handler that never returns, in a consumer that stays alive: before `handlerTimeoutMs` its entry stayed
// pending forever (the consumer renews its lease, so nobody takes it over), it never reached the DLQ, and as a
// live group's pending entry it pinned the stream's retention floor (reliability's slow-consumer scenario).
// With the option the handler's signal aborts with HandlerTimeoutError and the delivery fails like a throw.
import { createLogger } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';
import { isHandlerTimeoutError } from '../src/errors';

const events = { 'job.stuck': z.object({ n: z.number() }) };
const silent = createLogger({ level: 'silent' });
const poll = async (done: () => Promise<boolean> | boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return done();
};

describe('handlerTimeoutMs', () => {
  it('a handler that never returns: its signal aborts with HandlerTimeoutError, the entry is retried then dead-lettered', async () => {
    const bus = createEventBus({ source: 't', events, logger: silent });
    const reasons: unknown[] = [];
    let runs = 0;
    await bus.subscribe(
      'job.stuck',
      async (_e, { signal }) => {
        runs++;
        signal.addEventListener('abort', () => reasons.push(signal.reason), { once: true });
        await new Promise(() => {}); // never settles, ignores its signal
      },
      {
        group: 'g',
        handlerTimeoutMs: 50,
        maxDeliveries: 2,
        idleTimeoutMs: 60_000, // no takeover: only the timeout can free the entry
        claimIntervalMs: 20,
        blockMs: 0,
        retryBackoff: { initialMs: 10, maxMs: 10, factor: 1, jitter: 'none' },
        drainTimeoutMs: 100,
      },
    );
    await bus.publish('job.stuck', { n: 1 });
    expect(await poll(async () => (await bus.dlq.list('job.stuck')).length === 1)).toBe(true);
    const [dead] = await bus.dlq.list('job.stuck');
    expect(dead?.deliveries).toBe(2);
    expect(dead?.reason).toMatch(/did not finish within 50 ms/);
    expect(runs).toBe(2);
    expect(reasons).toHaveLength(2);
    expect(reasons.every(isHandlerTimeoutError)).toBe(true);
    const [group] = await bus.groups('job.stuck');
    expect(group?.pending).toBe(0);
    await bus.close();
  });

  it('a handler that finishes in time is untouched; 0 (the default) means no bound', async () => {
    const bus = createEventBus({ source: 't', events, logger: silent });
    let handled = 0;
    let aborted = false;
    await bus.subscribe(
      'job.stuck',
      async (_e, { signal }) => {
        await new Promise((r) => setTimeout(r, 20));
        aborted ||= signal.aborted;
        handled++;
      },
      { group: 'g', handlerTimeoutMs: 5_000, blockMs: 0, claimIntervalMs: 20 },
    );
    await bus.publish('job.stuck', { n: 1 });
    expect(await poll(() => handled === 1)).toBe(true);
    expect(aborted).toBe(false);
    expect(await bus.dlq.list('job.stuck')).toEqual([]);
    await bus.close();
    const bad = createEventBus({ source: 't', events, logger: silent });
    await expect(bad.subscribe('job.stuck', () => {}, { handlerTimeoutMs: -1 })).rejects.toThrow(/handlerTimeoutMs/);
    await bad.close();
  });
});
