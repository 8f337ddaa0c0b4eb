/**
 * A worker with jobs fetched ahead (buffered) whose running jobs all finish while its next fetch is in flight,
 * and that fetch comes back empty: the buffered jobs must still start — nothing else will wake the loop.
 */
import { afterEach, expect, it } from 'vitest';
import { createQueue, createWorker, type Queue } from '../src/index';

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => {});
});

it('buffered jobs start when the slots freed during an empty fetch', async () => {
  const q: Queue = createQueue(`buffer-race-${process.pid}`);
  open.push(q);
  let releaseFirst!: () => void;
  const firstHeld = new Promise<void>((r) => {
    releaseFirst = r;
  });
  const ran: string[] = [];
  let firstDone!: () => void;
  const firstFinished = new Promise<void>((r) => {
    firstDone = r;
  });
  // The fetch that comes back empty lets the running job finish before it returns: the slot frees mid-fetch.
  const fetch = q.backend.fetch.bind(q.backend);
  q.backend.fetch = async (...args: Parameters<typeof fetch>) => {
    const r = await fetch(...args);
    if (r.jobs.length === 0 && ran.length === 1) {
      releaseFirst();
      await firstFinished;
      await new Promise((res) => setImmediate(res));
    }
    return r;
  };
  await q.addBulk([
    { name: 'j', data: 'first' },
    { name: 'j', data: 'second' },
  ]);
  // concurrency 1, prefetch 2: the first fetch takes both (one runs, one buffered); the next fetch goes out at
  // once (one more wanted) and finds nothing.
  const w = createWorker(
    q,
    async (job) => {
      ran.push(job.data as string);
      if (job.data === 'first') {
        await firstHeld;
        queueMicrotask(firstDone);
      }
    },
    { concurrency: 1, prefetch: 2 },
  );
  open.push(w);
  await expect.poll(() => ran, { timeout: 5_000 }).toEqual(['first', 'second']);
});
