/**
 * Entries whose handlers return no promise are handled (and acknowledged) synchronously; the first thenable
 * continues asynchronously. These pin the edges of that switch-over.
 */
import { createLogger } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';
import { deferred } from './bus-harness';

/** `done`, or after `ms` (a handler that never ran): the assertions then say what ran. */
const settledOrAfter = (done: Promise<unknown>, ms = 1_000) =>
  Promise.race([done, new Promise((resolve) => setTimeout(resolve, ms))]);

const events = { 'job.done': z.object({ n: z.number() }) };
const logger = createLogger({ level: 'silent' });
const opts = { group: 'g', blockMs: 1_000 };

describe('synchronous handlers', () => {
  it('a sync handler unsubscribing itself: a later handler still runs after an async one', async () => {
    const bus = createEventBus({ source: 't', events, logger });
    const ran: string[] = [];
    const done = deferred();
    const a = await bus.subscribe(
      'job.done',
      () => {
        ran.push('a');
        void a.close();
      },
      opts,
    );
    await bus.subscribe('job.done', async () => void ran.push('b'), opts);
    await bus.subscribe(
      'job.done',
      () => {
        ran.push('c');
        done.resolve();
      },
      opts,
    );
    await bus.publish('job.done', { n: 1 });
    await settledOrAfter(done.promise);
    expect(ran).toEqual(['a', 'b', 'c']);
    await bus.close();
  });

  it('a sync handler that unsubscribes a later handler: that one does not run, the rest do', async () => {
    const bus = createEventBus({ source: 't', events, logger });
    const ran: string[] = [];
    const done = deferred();
    await bus.subscribe(
      'job.done',
      () => {
        ran.push('a');
        void b.close();
      },
      opts,
    );
    const b = await bus.subscribe('job.done', () => void ran.push('b'), opts);
    await bus.subscribe('job.done', async () => void ran.push('c'), opts);
    await bus.subscribe(
      'job.done',
      () => {
        ran.push('d');
        done.resolve();
      },
      opts,
    );
    await bus.publish('job.done', { n: 1 });
    await settledOrAfter(done.promise);
    expect(ran).toEqual(['a', 'c', 'd']);
    await bus.close();
  });

  it('a sync handler publishing the next event does not starve timers (memory reads need no I/O)', async () => {
    const bus = createEventBus({ source: 't', events, logger });
    const last = 5_000;
    let handled = 0;
    const chainDone = deferred();
    await bus.subscribe(
      'job.done',
      (e) => {
        handled += 1;
        if (e.data.n < last) void bus.publish('job.done', { n: e.data.n + 1 });
        else chainDone.resolve();
      },
      opts,
    );
    let handledWhenTimerFired: number | undefined;
    setTimeout(() => {
      handledWhenTimerFired = handled;
    }, 0);
    await bus.publish('job.done', { n: 1 });
    await chainDone.promise;
    // Before the fix the loop read and handled in microtasks only: the timer fired after the whole chain.
    expect(handledWhenTimerFired).toBeDefined();
    expect(handledWhenTimerFired).toBeLessThan(last);
    await bus.close();
  });

  it('a handler whose result has a throwing `then` getter fails its delivery; later handlers still run', async () => {
    const bus = createEventBus({ source: 't', events, logger });
    const ran: string[] = [];
    const dead = deferred<string>();
    const sub = await bus.subscribe(
      'job.done',
      () => ({
        // biome-ignore lint/suspicious/noThenProperty: a result whose `then` cannot be read is the point
        get then() {
          throw new Error('bad then');
        },
      }),
      { ...opts, maxDeliveries: 1 },
    );
    await bus.subscribe('job.done', () => void ran.push('b'), { ...opts, maxDeliveries: 1 });
    sub.onDeadLetter((d) => dead.resolve(d.reason));
    await bus.publish('job.done', { n: 1 });
    expect(await dead.promise).toBe('handler failed 1 times: bad then');
    expect(ran).toEqual(['b']);
    await bus.close();
  });
});
