/**
 * What a handler returns, now that the consumer calls it directly (no async wrapper): a value is the result at
 * once, a thenable (a Promise or not) is awaited and tracked, a synchronous throw is a failure like a rejection —
 * with and without `handlerTimeoutMs`.
 */
import { createLogger } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';
import type { EventHandler } from '../src/handler';
import { deferred, turn } from './bus-harness';

const events = { 'job.done': z.object({ n: z.number() }) };
const logger = createLogger({ level: 'silent' });

/** The dead-letter reason of one event handled by `handler`, delivered once (`maxDeliveries: 1`). */
async function deadReason(handler: EventHandler<unknown>, handlerTimeoutMs = 0): Promise<string> {
  const bus = createEventBus({ source: 't', events, logger });
  const dead = deferred<string>();
  const sub = await bus.subscribe('job.done', handler, {
    group: 'g',
    maxDeliveries: 1,
    handlerTimeoutMs,
    blockMs: 1_000,
  });
  sub.onDeadLetter((d) => dead.resolve(d.reason));
  await bus.publish('job.done', { n: 1 });
  const reason = await dead.promise;
  await bus.close();
  return reason;
}

const thenable = (settle: (resolve: (v: unknown) => void, reject: (e: unknown) => void) => void) => ({
  // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise is the point
  then: settle,
});

describe('handler results', () => {
  for (const timeout of [0, 60_000]) {
    const how = timeout ? 'with handlerTimeoutMs' : 'without a timeout';
    it(`failures ${how}: false, a synchronous throw, and a non-Promise thenable's false or rejection`, async () => {
      expect(await deadReason(() => false, timeout)).toBe('handler failed 1 times: handler returned false');
      expect(
        await deadReason(() => {
          throw new Error('boom');
        }, timeout),
      ).toBe('handler failed 1 times: boom');
      expect(await deadReason(() => thenable((resolve) => resolve(false)), timeout)).toBe(
        'handler failed 1 times: handler returned false',
      );
      expect(await deadReason(() => thenable((_, reject) => reject(new Error('later'))), timeout)).toBe(
        'handler failed 1 times: later',
      );
    });
  }

  it('a thenable that never settles is given up at handlerTimeoutMs', async () => {
    expect(await deadReason(() => thenable(() => {}), 50)).toMatch(/did not finish within 50 ms/);
  });

  it("close() of one of a consumer's handlers waits for its running thenable", async () => {
    const bus = createEventBus({ source: 't', events, logger });
    const started = deferred();
    let finish!: (v: unknown) => void;
    const other = await bus.subscribe('job.done', () => {}, { group: 'g', blockMs: 1_000 });
    const sub = await bus.subscribe(
      'job.done',
      () =>
        thenable((resolve) => {
          finish = resolve;
          started.resolve();
        }),
      { group: 'g', blockMs: 1_000 },
    );
    await bus.publish('job.done', { n: 1 });
    await started.promise;
    let closed = false;
    const closing = sub.close().then(() => {
      closed = true;
    });
    await turn();
    expect(closed).toBe(false);
    finish(true);
    await closing;
    await other.close();
    await bus.close();
  });
});
