// Redis stopped and restarted under a queue and a worker: add() fails typed within commandTimeoutMs, the
// worker logs each outage once, worker.close() ends within drainTimeoutMs (it blocked 28 s after a 15 s
// outage), work resumes after the restart. Timings are printed.
import { isBackendUnavailableError } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { createQueue } from '../src/queue';
import { createWorker } from '../src/worker';

// A private redis-server (AOF: its data survives restart) and a client with ioredis's defaults (~10 s before
// it gives up on a command): the bounds asserted below are Ballast's, not the client's.
const fx = useRedisServer();

const since = (t: number) => Math.round(performance.now() - t);

describe('queue with Redis down', () => {
  it('fails typed and bounded, logs once per outage, closes within drainTimeoutMs, recovers', async () => {
    const { server, redis } = fx;
    const logs = captureLogs();
    const queue = createQueue<{ n: number }>('outage', {
      backend: 'redis',
      redis,
      prefix: 'outage',
      commandTimeoutMs: 500,
      logger: logs.logger,
    });
    const done: number[] = [];
    let finished: (() => void) | undefined;
    let release: (() => void) | undefined;
    let started99: (() => void) | undefined;
    const running99 = new Promise<void>((r) => (started99 = r));
    const worker = createWorker(
      queue,
      async (job) => {
        if (job.data.n === 99) {
          started99?.();
          await new Promise<void>((r) => (release = r)); // in flight across the outage
        }
        done.push(job.data.n);
        finished?.();
      },
      { blockMs: 200, drainTimeoutMs: 1_000 },
    );
    let next = new Promise<void>((r) => (finished = r));
    await queue.add('t', { n: 1 });
    await next;

    await server.kill();
    let t = performance.now();
    const error = await queue.add('t', { n: 2 }).catch((e: unknown) => e);
    const addTook = since(t);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect(error).toMatchObject({ backend: 'redis' });
    expect(addTook).toBeLessThan(1_500);

    // The worker's loop keeps failing: one warning, then debug lines.
    await logs.waitFor((l) => l.level === 20 && String(l.msg).startsWith('queue worker background error'));
    await logs.waitFor((l) => l.level === 20 && l.msg === 'redis connection still down');

    t = performance.now();
    await server.restart();
    next = new Promise<void>((r) => (finished = r));
    while (
      !(await queue.add('t', { n: 3 }).then(
        () => true,
        () => false,
      ))
    );
    while (!done.includes(3)) {
      await next;
      next = new Promise<void>((r) => (finished = r));
    }
    const recoverTook = since(t);

    // One warning per outage: the first outage has had its one.
    const backgroundWarnings = () =>
      logs.atLeast(40).filter((l) => String(l.msg).startsWith('queue worker background error')).length;
    expect(backgroundWarnings()).toBe(1);

    await queue.add('t', { n: 99 });
    await running99;
    await server.kill();
    t = performance.now();
    await worker.close();
    const closeTook = since(t);
    expect(closeTook).toBeLessThan(1_800);
    release?.();
    await server.restart();
    await queue.close();

    const warns = logs.atLeast(40);
    // The second kill is an outage too: a worker whose fetch (or blocking wait) fails before close() stops it
    // warns once for it — on a loaded machine the kill (SIGTERM until the process exit is seen) plus the event
    // loop's lag outlast the 500 ms command timeout. Whether it does is timing; that it warns at most once is not.
    expect(backgroundWarnings()).toBeLessThanOrEqual(2);
    expect(warns.filter((l) => l.msg === 'redis connection lost').length).toBeLessThanOrEqual(2);
    expect(logs.lines.some((l) => l.msg === 'queue worker fetching again')).toBe(true);
    expect(logs.atLeast(50)).toEqual([]);
    expect(warns.every((l) => l.component === 'queue')).toBe(true); // the logger name the core README documents
    console.info(
      `[queue outage] add → typed error in ${addTook} ms (commandTimeoutMs 500); worker.close() after outage ` +
        `${closeTook} ms (drainTimeoutMs 1000); working again ${recoverTook} ms after restart`,
    );
  });
});
