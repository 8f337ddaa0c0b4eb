/**
 * The queue contract: what every backend (memory, Redis, RabbitMQ) must do, asserted through the public
 * API only. Timing: waits are on events (completed, dead, stalled…), never on sleeps; the few short delays
 * (delayMs, backoff, lockMs) are inputs whose effect is asserted through recorded timestamps, not elapsed time.
 */
import { isInvalidOptionsError, systemClock } from '@ballast/core';
import { defineContract } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import {
  type CreateQueueOptions,
  createWorker,
  type Handler,
  isJobTimeoutError,
  isNonSerializableDataError,
  isPayloadTooLargeError,
  isUnknownPriorityError,
  type Queue,
  type WorkerOptions,
} from '../src/index';
import { operationsContract } from './operations.contract';

export interface QueueFactory {
  /** A fresh queue (unique name) on the backend under test; closed after the test. */
  newQueue(options?: Partial<CreateQueueOptions>): Queue;
  /**
   * Simulates a worker that took the `n` oldest jobs and died without finishing them. Default: fetch them
   * under a token nobody renews, with a `leaseMs` lease. Broker backends: a consumer whose connection dies.
   */
  abandon?(queue: Queue, n: number, leaseMs: number): Promise<string[]>;
}

async function abandonByFetch(q: Queue, n: number, leaseMs: number): Promise<string[]> {
  const { jobs } = await q.backend.fetch(Date.now(), n, 'dead-worker', leaseMs);
  for (const j of jobs) expect((await q.getJob(j.id))?.state).toBe('active');
  return jobs.map((j) => j.id);
}

const quiet: Partial<WorkerOptions> = { onError: () => {} };

/** Resolves when `n` events matching `pred` were seen. */
function collect<T>(on: (l: (e: T) => void) => () => void, n: number, pred: (e: T) => boolean = () => true) {
  const seen: T[] = [];
  let off: () => void = () => {};
  const done = new Promise<T[]>((resolve) => {
    off = on((e) => {
      if (!pred(e)) return;
      seen.push(e);
      if (seen.length === n) {
        off();
        resolve(seen);
      }
    });
  });
  return { seen, done };
}

const worker = (q: Queue, h: Handler, o: WorkerOptions = {}) => createWorker(q, h, { ...quiet, ...o });

export const queueContract = defineContract<QueueFactory>('Queue', (make) => {
  it('runs higher priorities first, FIFO within a priority', async () => {
    const q = (await make()).newQueue();
    const order = ['l1', 'm1', 'h1', 'l2', 'n7', 'h2', 'm2'];
    const prio = { l: 'low', m: 'medium', h: 'high', n: 7 } as const;
    for (const id of order) await q.add('t', id, { priority: prio[id[0] as keyof typeof prio] });
    expect((await q.counts()).byPriority).toEqual({ high: 2, medium: 2, low: 2, '7': 1 });
    const seen: string[] = [];
    const done = collect(q.onCompleted, order.length);
    worker(q, (job) => void seen.push(job.data as string), { concurrency: 1 });
    await done.done;
    expect(seen).toEqual(['h1', 'h2', 'n7', 'm1', 'm2', 'l1', 'l2']);
  });

  it('addBulk enqueues many in order and reports each id', async () => {
    const q = (await make()).newQueue();
    const added = await q.addBulk(
      Array.from({ length: 30 }, (_, i) => ({ name: 'b', data: i, options: { priority: i % 2 ? 'high' : 'low' } })),
    );
    expect(new Set(added.map((a) => a.id)).size).toBe(30);
    const seen: number[] = [];
    const done = collect(q.onCompleted, 30);
    worker(q, (job) => void seen.push(job.data as number), { concurrency: 1 });
    await done.done;
    const odd = seen.slice(0, 15);
    expect(odd).toEqual(Array.from({ length: 15 }, (_, i) => 2 * i + 1));
    expect(seen.slice(15)).toEqual(Array.from({ length: 15 }, (_, i) => 2 * i));
  });

  it('delays a job until its due time, then runs it', async () => {
    const q = (await make()).newQueue();
    const { id } = await q.add('later', 'd', { delayMs: 150 });
    expect((await q.getJob(id))?.state).toBe('delayed');
    expect((await q.counts()).delayed).toBe(1);
    await q.add('now', 'n');
    const seen: string[] = [];
    const done = collect(q.onCompleted, 2);
    worker(q, (job) => void seen.push(job.data as string));
    await done.done;
    expect(seen).toEqual(['n', 'd']);
    const info = await q.getJob(id);
    expect(info?.state).toBe('completed');
    expect(info!.processedAt! - info!.createdAt).toBeGreaterThanOrEqual(150);
  });

  it('retries with backoff and keeps the error history; the result is stored', async () => {
    const q = (await make()).newQueue();
    const { id } = await q.add('flaky', null, { attempts: 3, backoff: 30 });
    const retrying = collect(q.onRetrying, 2);
    const done = collect(q.onCompleted, 1);
    let calls = 0;
    const started: number[] = [];
    const threw: number[] = [];
    worker(q, (job) => {
      calls++;
      started.push(Date.now());
      expect(job.attempt).toBe(calls);
      if (calls < 3) {
        threw.push(Date.now());
        throw new Error(`boom ${calls}`);
      }
      return { ok: true };
    });
    await done.done;
    expect(retrying.seen.map((r) => [r.attempt, r.delayMs])).toEqual([
      [1, 30],
      [2, 30],
    ]);
    const info = await q.getJob(id);
    expect(info).toMatchObject({ state: 'completed', attemptsMade: 2, maxAttempts: 3, result: { ok: true } });
    expect(info!.errors.map((e) => e.message)).toEqual(['boom 1', 'boom 2']);
    // Each retry waited its backoff: attempt n+1's handler started ≥ 30 ms after attempt n threw. (Not
    // `processedAt`: as BullMQ's processedOn, it is the worker's clock when it asked for the job, and a fetch
    // issued before the retry was due can run on the server after it — under load, tens of ms later.)
    expect(started[1]! - threw[0]!).toBeGreaterThanOrEqual(30);
    expect(started[2]! - threw[1]!).toBeGreaterThanOrEqual(30);
    expect(info!.processedAt).toBeGreaterThanOrEqual(info!.errors[1]!.at);
  });

  it('aborts an attempt past timeoutMs with JobTimeoutError, even if the handler ignores the signal', async () => {
    const q = (await make()).newQueue();
    const { id } = await q.add('slow', null, { timeoutMs: 50, attempts: 1 });
    const dead = collect(q.onDead, 1);
    let aborted: unknown;
    worker(q, (_job, signal) => {
      signal.addEventListener('abort', () => {
        aborted = signal.reason;
      });
      return new Promise(() => {}); // never settles on its own
    });
    const [event] = await dead.done;
    expect(isJobTimeoutError(event!.error)).toBe(true);
    expect(isJobTimeoutError(aborted)).toBe(true);
    const info = await q.getJob(id);
    expect(info?.state).toBe('dead');
    expect(info?.error).toMatchObject({ code: 'JOB_TIMEOUT', timeout: true, attempt: 1 });
  });

  it('moves a job to the DLQ after its last attempt; replay runs it again', async () => {
    const q = (await make()).newQueue();
    const { id } = await q.add('poison', { x: 1 }, { attempts: 2, backoff: 0 });
    const dead = collect(q.onDead, 1);
    let fail = true;
    worker(q, () => {
      if (fail) throw new TypeError('bad input');
      return 'fixed';
    });
    await dead.done;
    const [d] = await q.listDead();
    expect(d).toMatchObject({ id, state: 'dead', attemptsMade: 2, data: { x: 1 } });
    expect(d!.errors.map((e) => [e.attempt, e.name, e.message])).toEqual([
      [1, 'TypeError', 'bad input'],
      [2, 'TypeError', 'bad input'],
    ]);
    expect((await q.counts()).dead).toBe(1);
    fail = false;
    const done = collect(q.onCompleted, 1);
    expect(await q.replayDead()).toBe(1);
    await done.done;
    expect(await q.getJob(id)).toMatchObject({ state: 'completed', result: 'fixed', attemptsMade: 0 });
    expect(await q.listDead()).toEqual([]);
  });

  it('deduplicates by jobId, also within one addBulk', async () => {
    const q = (await make()).newQueue();
    expect(await q.add('t', 1, { jobId: 'order-42' })).toEqual({ id: 'order-42', name: 't', duplicate: false });
    expect(await q.add('t', 2, { jobId: 'order-42' })).toEqual({ id: 'order-42', name: 't', duplicate: true });
    const bulk = await q.addBulk([
      { name: 't', data: 3, options: { jobId: 'a' } },
      { name: 't', data: 4, options: { jobId: 'a' } },
      { name: 't', data: 5, options: { jobId: 'order-42' } },
    ]);
    expect(bulk.map((b) => b.duplicate)).toEqual([false, true, true]);
    expect((await q.counts()).waiting).toBe(2);
    expect((await q.getJob('order-42'))?.data).toBe(1);
  });

  it('recovers a job whose worker stopped renewing its lease; past maxStalledCount it goes to the DLQ', async () => {
    const f = await make();
    const abandon = f.abandon ?? abandonByFetch;
    const q = f.newQueue();
    const { id } = await q.add('t', 'x');
    const { id: id2 } = await q.add('t', 'y');
    // A worker took both and died: nobody renews their 50 ms leases.
    expect(await abandon(q, 2, 50)).toEqual([id, id2]);
    const stalled = collect(q.onStalled, 2);
    const done = collect(q.onCompleted, 2);
    worker(q, (job) => `ok ${job.data}`, { stalledIntervalMs: 20, maxStalledCount: 1 });
    await stalled.done;
    await done.done;
    expect(stalled.seen.map((s) => s.outcome)).toEqual(['waiting', 'waiting']);
    expect(await q.getJob(id)).toMatchObject({ state: 'completed', stalledCount: 1, result: 'ok x' });
    // A stale token can no longer move the job.
    expect(await q.backend.complete(id, 'dead-worker', Date.now(), '1', [-1, -1])).toBe(false);

    const q2 = f.newQueue();
    const { id: id3 } = await q2.add('t', 'z');
    expect(await abandon(q2, 1, 30)).toEqual([id3]);
    const dead = collect(q2.onDead, 1);
    worker(q2, () => 'never', { stalledIntervalMs: 20, maxStalledCount: 0 });
    await dead.done;
    expect(await q2.getJob(id3)).toMatchObject({ state: 'dead', stalledCount: 1 });
    expect((await q2.getJob(id3))?.error).toMatchObject({ code: 'JOB_STALLED', stalled: true });
  });

  it('keeps a long job leased: it is not recovered as stalled while it runs', async () => {
    const q = (await make()).newQueue();
    const { id } = await q.add('long', null);
    const stalled = collect(q.onStalled, 1);
    const done = collect(q.onCompleted, 1);
    // The handler's 800 ms are the workload (over 3 leases), not synchronisation. The lease is renewed every
    // 25 ms: only an event-loop stall of ~225 ms would lose it.
    worker(q, () => new Promise((r) => setTimeout(() => r('done'), 800)), {
      lockMs: 250,
      renewIntervalMs: 25,
      stalledIntervalMs: 20,
    });
    await done.done;
    expect(stalled.seen).toEqual([]);
    expect(await q.getJob(id)).toMatchObject({ state: 'completed', stalledCount: 0 });
  });

  it('close() lets in-flight jobs finish and takes no new ones', async () => {
    const q = (await make()).newQueue();
    const { id } = await q.add('t', 1);
    let release: () => void = () => {};
    let started: () => void = () => {};
    const running = new Promise<void>((r) => {
      started = r;
    });
    const w = worker(
      q,
      () =>
        new Promise<string>((r) => {
          started();
          release = () => r('finished');
        }),
      { concurrency: 1 },
    );
    await running;
    const closing = w.close();
    const { id: later } = await q.add('t', 2);
    release();
    await closing;
    expect(await q.getJob(id)).toMatchObject({ state: 'completed', result: 'finished' });
    expect((await q.getJob(later))?.state).toBe('waiting');
    expect(w.running).toBe(false);
  });

  it('counts jobs by state and waiting jobs by priority', async () => {
    const q = (await make()).newQueue();
    await q.addBulk([
      { name: 'a', data: 1, options: { priority: 'high' } },
      { name: 'a', data: 2, options: { priority: 'low' } },
      { name: 'a', data: 3, options: { priority: 'low' } },
      { name: 'a', data: 4, options: { delayMs: 60_000 } },
    ]);
    expect(await q.counts()).toEqual({
      waiting: 3,
      delayed: 1,
      active: 0,
      completed: 0,
      failed: 0,
      dead: 0,
      waitingChildren: 0,
      byPriority: { high: 1, low: 2 },
    });
  });

  it('pause stops every worker from taking jobs; resume lets them continue', async () => {
    const q = (await make()).newQueue();
    await q.pause();
    expect(await q.isPaused()).toBe(true);
    await q.add('t', 1);
    const done = collect(q.onCompleted, 1);
    const w = worker(q, () => 'ok', { blockMs: 50 });
    // The worker's fetch ran and found the queue paused: the job is still waiting.
    await new Promise<void>((r) => setTimeout(r, 120));
    expect((await q.counts()).waiting).toBe(1);
    expect(w.active).toBe(0);
    await q.resume();
    await done.done;
    expect((await q.counts()).completed).toBe(1);
  });

  it('retention: removeOnComplete true drops the job; a count keeps only the newest', async () => {
    const q = (await make()).newQueue({ defaultJobOptions: { removeOnComplete: { count: 2 } } });
    const ids = (await q.addBulk([1, 2, 3, 4].map((n) => ({ name: 'r', data: n })))).map((a) => a.id);
    const { id: gone } = await q.add('r', 5, { removeOnComplete: true });
    const done = collect(q.onCompleted, 5);
    worker(q, () => 'ok', { concurrency: 1 });
    await done.done;
    expect(await q.getJob(gone)).toBeUndefined();
    expect((await q.counts()).completed).toBe(2);
    expect(await q.getJob(ids[0]!)).toBeUndefined();
    expect((await q.getJob(ids[3]!))?.state).toBe('completed');
  });

  it('retention by count keeps the last finished, also among jobs finishing in the same millisecond', async () => {
    // A wall clock stopped at one instant: every job finishes at the same `now`. Ids in descending order, so
    // ordering ties by id (a sorted set's rule for equal scores) would keep the first finished instead.
    const frozen = Date.now();
    const clock = { ...systemClock, now: () => frozen };
    const q = (await make()).newQueue({ clock, defaultJobOptions: { removeOnComplete: { count: 3 } } });
    const ids = ['f', 'e', 'd', 'c', 'b', 'a'];
    await q.addBulk(ids.map((jobId, n) => ({ name: 'r', data: n, options: { jobId } })));
    const done = collect(q.onCompleted, ids.length);
    worker(q, () => 'ok', { concurrency: 1 });
    const order = (await done.done).map((e) => e.job.id);
    expect(order).toEqual(ids);
    const kept = await Promise.all(ids.map(async (id) => (await q.getJob(id))?.state ?? 'removed'));
    expect(kept).toEqual(['removed', 'removed', 'removed', 'completed', 'completed', 'completed']);
  });

  it('a failed job goes to "failed" when the DLQ is off, trimmed by removeOnFail', async () => {
    const q = (await make()).newQueue({
      deadLetter: false,
      defaultJobOptions: { attempts: 1, removeOnFail: { count: 1 } },
    });
    await q.add('f', 1);
    const { id } = await q.add('f', 2);
    const failed = collect(q.onFailed, 2);
    worker(
      q,
      () => {
        throw new Error('no');
      },
      { concurrency: 1 },
    );
    await failed.done;
    expect(failed.seen.every((f) => !f.willRetry)).toBe(true);
    await expect.poll(async () => (await q.counts()).failed).toBe(1);
    expect(await q.getJob(id)).toMatchObject({ state: 'failed', error: { message: 'no' } });
    expect((await q.counts()).dead).toBe(0);
  });

  it('rejects bad input with a typed error at add and enqueues nothing', async () => {
    const q = (await make()).newQueue({ maxPayloadBytes: 100 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(q.add('t', 1, { priority: 'urgent' as never })).rejects.toSatisfy(isUnknownPriorityError);
    await expect(q.add('t', 1, { priority: 11 })).rejects.toSatisfy(isUnknownPriorityError);
    await expect(q.add('t', 1, { delayMs: -5 })).rejects.toSatisfy(
      (e) => isInvalidOptionsError(e) && e.issues[0]?.path === 'delayMs',
    );
    await expect(q.add('t', { f: () => 1 })).rejects.toSatisfy(
      (e) => isNonSerializableDataError(e) && e.path === 'data.f',
    );
    await expect(q.add('t', cyclic)).rejects.toSatisfy(isNonSerializableDataError);
    await expect(q.add('t', { n: 10n })).rejects.toSatisfy(isNonSerializableDataError);
    await expect(q.add('t', 'x'.repeat(200))).rejects.toSatisfy((e) => isPayloadTooLargeError(e) && e.maxBytes === 100);
    // One bad job in a bulk: none of them is added.
    await expect(
      q.addBulk([
        { name: 't', data: 1 },
        { name: 't', data: 2, options: { priority: 'nope' as never } },
      ]),
    ).rejects.toSatisfy(isUnknownPriorityError);
    const c = await q.counts();
    expect(c.waiting + c.delayed).toBe(0);
  });
  // Job and queue operations, progress and logs, queue events: see operations.contract.ts.
  operationsContract(make);
});
