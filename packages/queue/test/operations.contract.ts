/**
 * Job and queue operations (§5), progress and logs (§2) and queue events (§1), run inside the queue contract
 * on every backend. Each operation is raced against a running worker: a job a worker holds is refused with a
 * typed error and left as it was. RabbitMQ runs the part the broker allows and asserts the typed
 * `UnsupportedOperationError` for the rest.
 */
import { expect, it } from 'vitest';
import {
  createQueueEvents,
  createWorker,
  currentJob,
  type Handler,
  isJobFailedError,
  isJobNotFoundError,
  isJobStateError,
  isQueueHasActiveJobsError,
  isUnknownPriorityError,
  isUnsupportedOperationError,
  isWaitTimeoutError,
  type Job,
  MAX_LOG_LINES,
  type Queue,
  type QueueEvent,
  type WorkerOptions,
} from '../src/index';
import type { QueueFactory } from './queue.contract';

const worker = (q: Queue, h: Handler, o: WorkerOptions = {}) => createWorker(q, h, { onError: () => {}, ...o });

/** A handler that holds each job until `release()`; `started` resolves with the first job it got. */
function holding() {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  let started: (job: Job) => void = () => {};
  const first = new Promise<Job>((r) => (started = r));
  const handler: Handler = async (job) => {
    started(job);
    await gate;
    return `done ${job.id}`;
  };
  return { handler, first, release: () => release() };
}

/** Resolves with the first `completed` of this process's workers for `id`. */
const completedOf = (q: Queue, id: string) =>
  new Promise<unknown>((resolve) => {
    const off = q.onCompleted((e) => {
      if (e.job.id !== id) return;
      off();
      resolve(e.result);
    });
  });

export function operationsContract(make: () => Promise<QueueFactory>): void {
  it('ops: remove drops a waiting or delayed job, refuses an active one (JobStateError), names a missing one', async () => {
    const q = (await make()).newQueue();
    const rabbit = q.backend.kind === 'rabbitmq';
    const a = await q.add('t', 'a');
    if (rabbit) {
      await expect(q.job(a.id).remove()).rejects.toSatisfy(
        (e) => isUnsupportedOperationError(e) && e.backend === 'RabbitMQ' && /remove/.test(e.operation),
      );
    } else {
      const d = await q.add('t', 'd', { delayMs: 60_000 });
      await q.job(a.id).remove();
      await q.job(d.id).remove();
      expect(await q.getJob(a.id)).toBeUndefined();
      expect(await q.getJob(d.id)).toBeUndefined();
      const c = await q.counts();
      expect(c.waiting + c.delayed).toBe(0);
      // onlyIn: removed only in those states, checked in the same atomic step (a DLQ prune never drops a job
      // someone replayed to waiting meanwhile).
      const w = await q.add('t', 'w');
      await expect(q.job(w.id).remove({ onlyIn: ['dead'] })).rejects.toSatisfy(
        (e) => isJobStateError(e) && e.state === 'waiting',
      );
      expect((await q.getJob(w.id))?.state).toBe('waiting');
      await q.job(w.id).remove({ onlyIn: ['dead', 'waiting'] });
      expect(await q.getJob(w.id)).toBeUndefined();
    }
    await expect(q.job('nope').remove()).rejects.toSatisfy((e) => isJobNotFoundError(e) && e.jobId === 'nope');
    // Race with a running worker: the active job is refused and finishes as if nothing happened.
    const h = holding();
    const b = await q.add('t', 'b');
    const done = completedOf(q, b.id);
    worker(q, h.handler, { concurrency: 1 });
    const running = await h.first;
    const target = running.id;
    await expect(q.job(target).remove()).rejects.toSatisfy(
      (e) => isJobStateError(e) && e.state === 'active' && e.operation === 'remove',
    );
    expect((await q.getJob(target))?.state).toBe('active');
    h.release();
    if (target === b.id) expect(await done).toBe(`done ${b.id}`);
    await expect.poll(async () => (await q.getJob(target))?.state).toBe('completed');
    // Finished jobs can be removed on every backend (RabbitMQ: they live only in the status store).
    await q.job(target).remove();
    expect(await q.getJob(target)).toBeUndefined();
  });

  it('ops: retry runs a dead or failed job again; promote runs a delayed one now; wrong states are refused', async () => {
    const q = (await make()).newQueue();
    const rabbit = q.backend.kind === 'rabbitmq';
    let fail = true;
    const dead = new Promise<void>((r) => q.onDead(() => r()));
    const w = worker(q, (job) => {
      if (fail && job.name === 'poison') throw new Error('no');
      return job.data;
    });
    const p = await q.add('poison', 'p', { attempts: 1 });
    await dead;
    expect((await q.getJob(p.id))?.state).toBe('dead');
    await expect(q.job(p.id).promote()).rejects.toSatisfy((e) =>
      rabbit ? isUnsupportedOperationError(e) : isJobStateError(e) && e.state === 'dead',
    );
    fail = false;
    const again = completedOf(q, p.id);
    await q.job(p.id).retry();
    expect(await again).toBe('p');
    expect(await q.getJob(p.id)).toMatchObject({ state: 'completed', attemptsMade: 0, errors: [{ message: 'no' }] });
    await expect(q.job(p.id).retry()).rejects.toSatisfy((e) => isJobStateError(e) && e.state === 'completed');
    const d = await q.add('later', 'l', { delayMs: 3_600_000 });
    if (rabbit) {
      await expect(q.job(d.id).promote()).rejects.toSatisfy(
        (e) => isUnsupportedOperationError(e) && e.operation === 'promote',
      );
      await w.close();
      return;
    }
    const ran = completedOf(q, d.id);
    await q.job(d.id).promote();
    expect(await ran).toBe('l');
    await w.close();
    // DLQ off: a failed job retries the same way.
    const q2 = (await make()).newQueue({ deadLetter: false });
    let fail2 = true;
    const failed = new Promise<void>((r) => q2.onFailed(() => r()));
    const w2 = worker(q2, (job) => {
      if (fail2) throw new Error('x');
      return job.data;
    });
    const f = await q2.add('t', 'f', { attempts: 1 });
    await failed;
    await expect.poll(async () => (await q2.getJob(f.id))?.state).toBe('failed');
    fail2 = false;
    const ok = completedOf(q2, f.id);
    await q2.job(f.id).retry();
    expect(await ok).toBe('f');
    await w2.close();
  });

  it('ops: changePriority re-queues a waiting job at its new level; updateData changes what the next attempt gets', async () => {
    const q = (await make()).newQueue();
    const ids = [];
    for (const x of ['l1', 'l2', 'l3']) ids.push((await q.add('t', x, { priority: 'low' })).id);
    if (q.backend.kind === 'rabbitmq') {
      await expect(q.job(ids[2]!).changePriority('high')).rejects.toSatisfy(
        (e) => isUnsupportedOperationError(e) && e.operation === 'changePriority',
      );
      await expect(q.job(ids[2]!).updateData('x')).rejects.toSatisfy(
        (e) => isUnsupportedOperationError(e) && e.operation === 'updateData',
      );
      return;
    }
    await q.job(ids[2]!).changePriority('high');
    await q.job(ids[1]!).updateData('changed');
    await expect(q.job(ids[0]!).changePriority('urgent' as never)).rejects.toSatisfy(isUnknownPriorityError);
    await expect(q.job('missing').updateData(1)).rejects.toSatisfy(isJobNotFoundError);
    expect((await q.getJob(ids[2]!))?.priority).toBe(10);
    expect((await q.counts()).byPriority).toEqual({ high: 1, low: 2 });
    const seen: unknown[] = [];
    const all = new Promise<void>((r) => q.onCompleted(() => seen.length === 3 && r()));
    worker(q, (job) => void seen.push(job.data), { concurrency: 1 });
    await all;
    expect(seen).toEqual(['l3', 'l1', 'changed']);
  });

  it('ops: getJobs reads states at one instant, sliced and ordered; clean removes old jobs of a state', async () => {
    const q = (await make()).newQueue();
    const rabbit = q.backend.kind === 'rabbitmq';
    const done = new Promise<void>((r) => q.onCompleted(() => r()));
    const w = worker(q, (job) => job.data, { concurrency: 1 });
    const c = await q.add('t', 'c');
    await done;
    await w.close();
    const added = [];
    for (const x of ['w1', 'w2', 'w3']) added.push((await q.add('t', x)).id);
    const d = await q.add('t', 'd', { delayMs: 3_600_000 });
    const all = await q.getJobs(['waiting', 'delayed', 'completed']);
    expect(all.map((j) => j.data)).toEqual(['w1', 'w2', 'w3', 'd', 'c']);
    expect(all.map((j) => j.id)).toEqual([...added, d.id, c.id]);
    const page = await q.getJobs(['waiting', 'delayed'], { start: 2, end: 3 });
    expect(page.map((j) => j.data)).toEqual(['w3', 'd']);
    expect((await q.getJobs('waiting', { asc: false, end: 0 })).map((j) => j.data)).toEqual(['w3']);
    await expect(q.getJobs(['nope' as never])).rejects.toThrow(/getJobs/);
    // clean: nothing finished an hour ago; everything finished before now (olderThanMs 0), at most `limit`.
    expect(await q.clean('completed', { olderThanMs: 3_600_000 })).toEqual([]);
    expect(await q.clean('completed', { olderThanMs: 0, limit: 10 })).toEqual([c.id]);
    expect(await q.getJob(c.id)).toBeUndefined();
    if (rabbit) {
      await expect(q.clean('waiting')).rejects.toSatisfy(isUnsupportedOperationError);
      return;
    }
    expect(await q.clean('waiting', { limit: 2 })).toHaveLength(2);
    expect((await q.counts()).waiting).toBe(1);
  });

  it('ops: drain removes waiting and delayed jobs, not the active one; obliterate refuses active jobs unless forced', async () => {
    const q = (await make()).newQueue();
    if (q.backend.kind === 'rabbitmq') {
      // The broker purges the ready messages (waiting, and delayed in the TTL tiers) and deletes queues.
      await q.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 't', data: i })));
      await q.add('t', 'later', { delayMs: 3_600_000 });
      expect(await q.drain()).toBe(6);
      const after = await q.add('t', 'after');
      const ran: unknown[] = [];
      const h = holding();
      const w = worker(q, async (job, signal) => {
        ran.push(job.data);
        return h.handler(job, signal);
      });
      expect((await h.first).id).toBe(after.id);
      await expect(q.obliterate()).rejects.toSatisfy((e) => isQueueHasActiveJobsError(e) && e.active === 1);
      const finished = completedOf(q, after.id);
      h.release();
      await finished;
      expect(ran).toEqual(['after']);
      await w.close();
      expect(await q.obliterate()).toBe(1);
      const c = await q.counts();
      expect(c.waiting + c.delayed + c.active + c.completed + c.failed + c.dead).toBe(0);
      return;
    }
    const h = holding();
    const a = await q.add('t', 'a', { priority: 'high' });
    const w = worker(q, h.handler, { concurrency: 1, prefetch: 0 });
    expect((await h.first).id).toBe(a.id);
    await q.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 't', data: i })));
    await q.add('t', 'later', { delayMs: 3_600_000 });
    expect(await q.drain()).toBe(21);
    let c = await q.counts();
    expect([c.waiting, c.delayed, c.active]).toEqual([0, 0, 1]);
    await expect(q.obliterate()).rejects.toSatisfy((e) => isQueueHasActiveJobsError(e) && e.active === 1);
    expect((await q.getJob(a.id))?.state).toBe('active');
    const finished = completedOf(q, a.id);
    h.release();
    await finished;
    await q.add('t', 'x');
    expect(await q.obliterate()).toBe(2);
    c = await q.counts();
    expect(c.waiting + c.delayed + c.active + c.completed + c.failed + c.dead).toBe(0);
    await w.close();
    // Forced while a worker holds a job: everything goes; the worker's ack finds nothing and changes nothing.
    const q2 = (await make()).newQueue();
    const h2 = holding();
    const errors: unknown[] = [];
    const w2 = createWorker(q2, h2.handler, { onError: (e) => errors.push(e) });
    const b = await q2.add('t', 'b');
    await h2.first;
    expect(await q2.obliterate({ force: true })).toBe(1);
    h2.release();
    await expect.poll(() => errors.length).toBe(1);
    expect(await q2.getJob(b.id)).toBeUndefined();
    c = await q2.counts();
    expect(c.active + c.completed).toBe(0);
    await w2.close();
  });

  it('ops race a busy worker: every job runs at most once, removed jobs never run, indexes and jobs agree', async () => {
    const q = (await make()).newQueue();
    if (q.backend.kind === 'rabbitmq') return; // the operations raced here are the ones RabbitMQ refuses
    const ids = (
      await q.addBulk(
        Array.from({ length: 120 }, (_, i) => ({
          name: 't',
          data: i,
          options: { priority: i % 3 === 0 ? 'low' : 'high', ...(i % 5 === 0 ? { delayMs: 3_600_000 } : {}) },
        })),
      )
    ).map((a) => a.id);
    const runs = new Map<string, number>();
    worker(
      q,
      async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        await new Promise((r) => setImmediate(r));
      },
      { concurrency: 8 },
    );
    const removed = new Set<string>();
    const expectedRefusal = (e: unknown) => {
      if (!isJobStateError(e) && !isJobNotFoundError(e)) throw e;
    };
    await Promise.all(
      ids.map(async (id, i) => {
        const job = q.job(id);
        if (i % 5 === 0) await job.promote().catch(expectedRefusal);
        if (i % 4 === 1) await job.changePriority('medium').catch(expectedRefusal);
        if (i % 4 === 2) await job.updateData(-i).catch(expectedRefusal);
        if (i % 3 === 1) await job.remove().then(() => removed.add(id), expectedRefusal);
      }),
    );
    await expect
      .poll(
        async () => {
          const c = await q.counts();
          return c.waiting + c.delayed + c.active;
        },
        { timeout: 20_000 },
      )
      .toBe(0);
    for (const id of ids) {
      expect(runs.get(id) ?? 0).toBeLessThanOrEqual(1);
      if (removed.has(id)) {
        expect(runs.has(id)).toBe(false);
        expect(await q.getJob(id)).toBeUndefined();
      } else expect((await q.getJob(id))?.state).toBe('completed');
    }
    // Every index entry has its job, in that state (an orphan would be counted but not listed).
    const c = await q.counts();
    const completed = await q.getJobs('completed');
    expect(completed.every((j) => j.state === 'completed')).toBe(true);
    expect(completed).toHaveLength(c.completed);
    expect(c.completed + removed.size).toBe(ids.length);
  });

  it('progress and logs: kept with the job (logs bounded), through the handler and through currentJob()', async () => {
    const q = (await make()).newQueue();
    const { id } = await q.add('t', null);
    const done = completedOf(q, id);
    worker(q, async (job) => {
      await job.updateProgress(40);
      await expect(job.updateProgress(Number.NaN)).rejects.toThrow(/progress/);
      for (let i = 0; i < MAX_LOG_LINES + 3; i++) await job.log(`line ${i}`);
      await currentJob()!.job.updateProgress({ step: 'upload', pct: 90 });
      return 'ok';
    });
    await done;
    const info = await q.getJob(id);
    expect(info?.progress).toEqual({ step: 'upload', pct: 90 });
    expect(info?.logs).toHaveLength(MAX_LOG_LINES);
    expect(info?.logs?.[0]).toBe('line 3');
    expect(info?.logs?.at(-1)).toBe(`line ${MAX_LOG_LINES + 2}`);
    // Progress is written only under the attempt's lease: the token of an attempt that ended writes nothing.
    expect((await q.backend.ops!.jobOp('progress', id, 'a-lost-lease', '1')).done).toBe(false);
    expect((await q.getJob(id))?.progress).toEqual({ step: 'upload', pct: 90 });
  });

  it('events: waiting, active, progress, completed (result), failed, dead, removed reach a QueueEvents; waitUntilFinished', async () => {
    const q = (await make()).newQueue({ events: true });
    const events = createQueueEvents(q, { blockMs: 200 });
    try {
      await events.ready;
      const seen: QueueEvent[] = [];
      events.onEvent((e) => seen.push(e));
      const ok = await q.add('ok', 1);
      const bad = await q.add('bad', 2, { attempts: 1 });
      worker(q, async (job) => {
        if (job.name === 'bad') throw new Error('broken');
        await job.updateProgress(50);
        return { doubled: (job.data as number) * 2 };
      });
      expect(await q.job(ok.id).waitUntilFinished(events, { timeoutMs: 10_000 })).toEqual({ doubled: 2 });
      await expect(q.job(bad.id).waitUntilFinished(events, { timeoutMs: 10_000 })).rejects.toSatisfy(
        (e) => isJobFailedError(e) && e.failure?.message === 'broken',
      );
      const d = await q.add('later', 3, { delayMs: 3_600_000 });
      await expect(q.job(d.id).waitUntilFinished(events, { timeoutMs: 50 })).rejects.toSatisfy(isWaitTimeoutError);
      const of = (id: string) => seen.filter((e) => e.jobId === id).map((e) => e.event);
      await expect.poll(() => of(ok.id)).toEqual(['waiting', 'active', 'progress', 'completed']);
      await expect.poll(() => of(bad.id)).toEqual(['waiting', 'active', 'failed', 'dead']);
      await expect.poll(() => of(d.id)).toEqual(['delayed']);
      expect(seen.find((e) => e.event === 'completed')).toMatchObject({ result: { doubled: 2 } });
      if (q.backend.kind !== 'rabbitmq') {
        await q.job(d.id).remove();
        await expect.poll(() => of(d.id)).toEqual(['delayed', 'removed']);
      }
    } finally {
      events.close();
    }
  });
}
