/**
 * Jobs a worker fetched ahead of its slots start as soon as a slot frees, not after the blocking wait for new
 * work (blockMs): 12 jobs, concurrency 8 — the 4 buffered ones used to sit leased and idle until the wait ran
 * out. On a FakeClock that never moves, the wait never runs out: the jobs complete only if slots free them.
 */
import { FakeClock } from '@ballast/testkit';
import { expect, it } from 'vitest';
import { createQueue, createWorker } from '../src/index';

it('buffered jobs start when a slot frees, without waiting out blockMs', async () => {
  const clock = new FakeClock();
  const q = createQueue('buffered', { backend: 'memory', clock });
  try {
    await q.addBulk(Array.from({ length: 12 }, (_, i) => ({ name: 't', data: i })));
    let done = 0;
    q.onCompleted(() => done++);
    createWorker(q, () => new Promise((r) => setImmediate(r)), { concurrency: 8, blockMs: 60_000 });
    await expect.poll(() => done, { timeout: 5_000 }).toBe(12);
  } finally {
    await q.close();
  }
});
