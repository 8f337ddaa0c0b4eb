/**
 * Flows (parent/child jobs, issue 24 §6), on every backend that has them (memory, Redis, Redis Cluster; RabbitMQ
 * refuses them with a typed error: see rabbitmq.test.ts). Cross-queue flows put parent and child in different
 * Cluster slots: the child's completion reaches its parent through the outbox (two scripts), and the crash
 * window between the two is exercised here. Waits are on events, never on sleeps.
 */
import { isInvalidOptionsError } from '@ballast/core';
import { defineContract } from '@ballast/testkit/vitest';
import { afterEach, expect, it } from 'vitest';
import { flowFaults } from '../src/flows';
import {
  createQueueEvents,
  createWorker,
  type Handler,
  isJobFailedError,
  isJobStateError,
  type Job,
  type Queue,
  type QueueEvent,
  type WorkerOptions,
} from '../src/index';
import type { QueueFactory } from './queue.contract';

const worker = (q: Queue, h: Handler, o: WorkerOptions = {}) => createWorker(q, h, { onError: () => {}, ...o });

/** Resolves with the `completed` result of `id` (this process's workers). */
const completedOf = (q: Queue, id: string) =>
  new Promise<unknown>((resolve) => {
    const off = q.onCompleted((e) => {
      if (e.job.id !== id) return;
      off();
      resolve(e.result);
    });
  });

/** Resolves when `id` failed for good (its `failed` event says no retry follows). */
const finallyFailed = (q: Queue, id: string) =>
  new Promise<void>((resolve) => {
    const off = q.onFailed((e) => {
      if (e.job.id !== id || e.willRetry) return;
      off();
      resolve();
    });
  });

const noRetry = { attempts: 1 } as const;

/** A subscriber to `q`'s events stream (any process's), recording every event; closed after the test. */
const subscribers: { close(): void }[] = [];
async function listen(q: Queue) {
  const events = createQueueEvents(q, { blockMs: 200 });
  subscribers.push(events);
  await events.ready;
  const seen: QueueEvent[] = [];
  events.onEvent((e) => seen.push(e));
  /** The names of `id`'s events, in stream order. */
  const of = (id: string) => seen.filter((e) => e.jobId === id).map((e) => e.event);
  return { events, seen, of };
}

afterEach(() => {
  for (const s of subscribers.splice(0)) s.close();
  flowFaults.beforeResolve = undefined;
  flowFaults.beforeAck = undefined;
});

export const flowsContract = defineContract<QueueFactory>('Flows', (make) => {
  it('flows: the parent waits in waiting-children, then runs once after all its children (across queues) with childrenResults', async () => {
    const f = await make();
    const q = f.newQueue();
    const other = f.newQueue();
    const tree = await q.addFlow({
      name: 'report',
      data: { month: 11 },
      children: [
        { name: 'sum', data: 1 },
        { name: 'sum', data: 2 },
        { name: 'fetch', data: 3, queue: other },
      ],
    });
    expect(tree.children.map((c) => c.queue)).toEqual([q.name, q.name, other.name]);
    expect(tree.children.every((c) => c.added) && tree.added).toBe(true);
    const keys = tree.children.map((c) => `${c.queue}:${c.id}`);
    expect(await q.getJob(tree.id)).toMatchObject({ state: 'waiting-children' });
    expect((await q.counts()).waitingChildren).toBe(1);
    expect((await q.getJobs('waiting-children')).map((j) => j.id)).toEqual([tree.id]);
    expect((await q.job(tree.id).getDependencies()).unprocessed).toEqual([...keys].sort());
    // A parent with pending children is not removed: typed refusal, left as it was.
    await expect(q.job(tree.id).remove()).rejects.toSatisfy(
      (e) => isJobStateError(e) && e.state === 'waiting-children',
    );

    let parentRuns = 0;
    let childStatesAtParent: (string | undefined)[] = [];
    const done = completedOf(q, tree.id);
    const run: Handler = async (job) => {
      if (job.name !== 'report') return (job.data as number) * 10;
      parentRuns++;
      childStatesAtParent = await Promise.all(
        tree.children.map(async (c) => (await (c.queue === q.name ? q : other).getJob(c.id))?.state),
      );
      return { results: await job.childrenResults() };
    };
    worker(q, run, { concurrency: 2 });
    worker(other, run);
    const result = (await done) as { results: Record<string, number> };
    expect(parentRuns).toBe(1);
    expect(childStatesAtParent).toEqual(['completed', 'completed', 'completed']);
    expect(result.results).toEqual({ [keys[0]!]: 10, [keys[1]!]: 20, [keys[2]!]: 30 });
    const deps = await q.job(tree.id).getDependencies();
    expect(deps).toEqual({ processed: result.results, unprocessed: [], failed: {} });
    expect((await q.counts()).waitingChildren).toBe(0);
  });

  it('flows: grandchildren complete before their parent, which completes before the root (multi-level, two queues)', async () => {
    const f = await make();
    const q = f.newQueue();
    const other = f.newQueue();
    const tree = await q.addFlow({
      name: 'root',
      data: null,
      children: [
        {
          name: 'mid',
          data: null,
          queue: other,
          children: [
            { name: 'leaf', data: 'a', queue: q },
            { name: 'leaf', data: 'b' },
          ],
        },
      ],
    });
    const mid = tree.children[0]!;
    expect(mid.queue).toBe(other.name);
    expect(mid.children.map((c) => c.queue)).toEqual([q.name, other.name]);
    expect((await other.getJob(mid.id))?.state).toBe('waiting-children');
    const order: string[] = [];
    const run: Handler = async (job) => {
      order.push(job.name === 'leaf' ? `leaf ${job.data}` : job.name);
      if (job.name === 'leaf') return `${job.data}!`;
      return Object.values(await job.childrenResults()).sort();
    };
    const done = completedOf(q, tree.id);
    worker(q, run);
    worker(other, run);
    expect(await done).toEqual([['a!', 'b!']]);
    expect(order.slice(2)).toEqual(['mid', 'root']);
    expect(order.slice(0, 2).sort()).toEqual(['leaf a', 'leaf b']);
  });

  it('flows: failParentOnFailure fails the parent (and, by its own policy, the grandparent); its handler never runs', async () => {
    const f = await make();
    const q = f.newQueue();
    const other = f.newQueue({ deadLetter: false });
    const tree = await q.addFlow({
      name: 'top',
      data: null,
      children: [
        {
          name: 'parent',
          data: null,
          queue: other,
          options: { failParentOnFailure: true },
          children: [
            { name: 'bad', data: null, queue: q, options: { ...noRetry, failParentOnFailure: true } },
            { name: 'slow-ok', data: null, queue: q },
          ],
        },
      ],
    });
    const parent = tree.children[0]!;
    const [bad] = parent.children;
    const ran: string[] = [];
    const failed = finallyFailed(q, bad!.id);
    worker(q, (job) => {
      ran.push(job.name);
      if (job.name === 'bad') throw new Error('child broke');
      return 'fine';
    });
    worker(other, (job) => void ran.push(job.name));
    await failed;
    // `other` has no DLQ: its parent is `failed`; `q` has one: the top job is `dead`.
    const p = await other.getJob(parent.id);
    expect(p?.state).toBe('failed');
    expect(p?.error).toMatchObject({ code: 'CHILD_FAILED', name: 'ChildJobFailedError' });
    expect(p?.error?.message).toContain(`${q.name}:${bad!.id}`);
    const top = await q.getJob(tree.id);
    expect(top?.state).toBe('dead');
    expect(top?.error).toMatchObject({ code: 'CHILD_FAILED' });
    expect(top?.error?.message).toContain(`${other.name}:${parent.id}`);
    expect((await other.job(parent.id).getDependencies()).failed[`${q.name}:${bad!.id}`]).toMatchObject({
      message: 'child broke',
    });
    expect(ran).not.toContain('parent');
    expect(ran).not.toContain('top');
  });

  it('flows: ignoreDependencyOnFailure records the failure and the parent goes on; removeDependencyOnFailure drops it', async () => {
    const f = await make();
    const q = f.newQueue();
    const tree = await q.addFlow({
      name: 'parent',
      data: null,
      children: [
        { name: 'ok', data: 1 },
        { name: 'bad', data: 2, options: { ...noRetry, ignoreDependencyOnFailure: true } },
        { name: 'bad', data: 3, options: { ...noRetry, removeDependencyOnFailure: true } },
      ],
    });
    const [ok, ignored, removed] = tree.children.map((c) => `${c.queue}:${c.id}`);
    const done = completedOf(q, tree.id);
    worker(q, async (job: Job) => {
      if (job.name === 'bad') throw new Error(`bad ${job.data}`);
      if (job.name === 'ok') return 'one';
      return job.childrenResults();
    });
    expect(await done).toEqual({ [ok!]: 'one' });
    const deps = await q.job(tree.id).getDependencies();
    expect(deps.unprocessed).toEqual([]);
    expect(Object.keys(deps.failed)).toEqual([ignored]);
    expect(deps.failed[ignored!]).toMatchObject({ message: 'bad 2' });
    expect(deps.failed[removed!]).toBeUndefined();
  });

  it('flows: by default a finally failed child keeps the parent waiting; retrying the child lets it run', async () => {
    const f = await make();
    const q = f.newQueue();
    const tree = await q.addFlow({
      name: 'parent',
      data: null,
      children: [{ name: 'child', data: null, options: noRetry }],
    });
    const child = tree.children[0]!;
    let fail = true;
    const died = finallyFailed(q, child.id);
    worker(q, async (job) => {
      if (job.name === 'child') {
        if (fail) throw new Error('not yet');
        return 'at last';
      }
      return job.childrenResults();
    });
    await died;
    expect((await q.getJob(child.id))?.state).toBe('dead');
    expect((await q.getJob(tree.id))?.state).toBe('waiting-children');
    fail = false;
    const done = completedOf(q, tree.id);
    await q.job(child.id).retry();
    expect(await done).toEqual({ [`${q.name}:${child.id}`]: 'at last' });
  });

  it('flows: a child that fails, is retried and then succeeds gives its parent the result', async () => {
    const f = await make();
    const q = f.newQueue();
    const tree = await q.addFlow({
      name: 'parent',
      data: null,
      children: [{ name: 'flaky', data: null, options: { attempts: 3, backoff: 0, failParentOnFailure: true } }],
    });
    let calls = 0;
    const done = completedOf(q, tree.id);
    worker(q, async (job) => {
      if (job.name === 'flaky') {
        if (++calls < 3) throw new Error(`flaky ${calls}`);
        return calls;
      }
      return job.childrenResults();
    });
    expect(await done).toEqual({ [`${q.name}:${tree.children[0]!.id}`]: 3 });
    expect((await q.getJob(tree.children[0]!.id))?.attemptsMade).toBe(2);
  });

  it('flows: a crash between the child completing and its parent hearing of it is repaired by the sweep', async () => {
    const f = await make();
    const parents = f.newQueue();
    const children = f.newQueue();
    const tree = await parents.addFlow({
      name: 'parent',
      data: null,
      children: [{ name: 'child', data: 'x', queue: children }],
    });
    const child = tree.children[0]!;
    // The first step (the child's completion script, which writes the outbox entry) runs; the second (the
    // parent's script) dies once, as if the worker's process were killed in between.
    let killed = 0;
    flowFaults.beforeResolve = (e) => {
      if (e.childId === child.id && killed++ === 0) throw new Error('process killed between the two steps');
    };
    const childDone = completedOf(children, child.id);
    worker(children, () => 'child result', { stalledIntervalMs: 3_600_000 });
    await childDone;
    expect(killed).toBe(1);
    expect((await children.getJob(child.id))?.state).toBe('completed');
    expect((await parents.getJob(tree.id))?.state).toBe('waiting-children');
    expect((await children.backend.flows!()!.outbox()).map((e) => e.childId)).toEqual([child.id]);
    // A worker's maintenance loop (its stalled check) re-applies what the outbox still holds.
    let parentRuns = 0;
    const done = completedOf(parents, tree.id);
    worker(parents, async (job) => {
      parentRuns++;
      return job.childrenResults();
    });
    worker(children, () => 'never again', { stalledIntervalMs: 50 });
    expect(await done).toEqual({ [`${children.name}:${child.id}`]: 'child result' });
    expect(parentRuns).toBe(1);
    expect(await children.backend.flows!()!.outbox()).toEqual([]);
  });

  it('flows: a crash after the parent heard but before the outbox entry was deleted: the sweep re-applies it, the parent still runs once', async () => {
    const f = await make();
    const parents = f.newQueue();
    const children = f.newQueue();
    const tree = await parents.addFlow({
      name: 'parent',
      data: null,
      children: [{ name: 'child', data: 'x', queue: children }],
    });
    const child = tree.children[0]!;
    let killed = 0;
    flowFaults.beforeAck = (e) => {
      if (e.childId === child.id && killed++ === 0) throw new Error('process killed before the acknowledgement');
    };
    let parentRuns = 0;
    const done = completedOf(parents, tree.id);
    worker(parents, async (job) => {
      parentRuns++;
      return job.childrenResults();
    });
    worker(children, () => 'child result', { stalledIntervalMs: 3_600_000 });
    await done;
    expect(killed).toBe(1);
    expect((await children.backend.flows!()!.outbox()).map((e) => e.childId)).toEqual([child.id]);
    // The sweep applies the entry again (the parent has completed meanwhile): nothing changes but the outbox.
    worker(children, () => 'never again', { stalledIntervalMs: 50 });
    await expect.poll(async () => (await children.backend.flows!()!.outbox()).length, { timeout: 5_000 }).toBe(0);
    expect(await parents.getJob(tree.id)).toMatchObject({
      state: 'completed',
      result: { [`${children.name}:${child.id}`]: 'child result' },
    });
    expect((await parents.counts()).waiting).toBe(0);
    expect(parentRuns).toBe(1);
  });

  it('flows: a worker that dies holding a child loses nothing: the child is recovered as stalled, the parent completes once', async () => {
    const f = await make();
    const q = f.newQueue();
    const other = f.newQueue();
    const tree = await q.addFlow({
      name: 'parent',
      data: null,
      children: [{ name: 'child', data: 7, queue: other }],
    });
    const child = tree.children[0]!;
    // The child is taken by a worker that then dies (nobody renews its 50 ms lease, nobody acks).
    const { jobs } = await other.backend.fetch(Date.now(), 1, 'dead-worker', 50);
    expect(jobs.map((j) => j.id)).toEqual([child.id]);
    expect((await other.getJob(child.id))?.state).toBe('active');
    let childRuns = 0;
    let parentRuns = 0;
    const stalled = new Promise<void>((r) => other.onStalled((e) => e.jobId === child.id && r()));
    const done = completedOf(q, tree.id);
    worker(
      other,
      (job) => {
        childRuns++;
        return (job.data as number) * 2;
      },
      { stalledIntervalMs: 50 },
    );
    worker(q, async (job) => {
      parentRuns++;
      return job.childrenResults();
    });
    await stalled;
    expect(await done).toEqual({ [`${other.name}:${child.id}`]: 14 });
    expect([childRuns, parentRuns]).toEqual([1, 1]);
    // The dead worker's late ack finds its lease gone and changes nothing.
    expect(await other.backend.complete(child.id, 'dead-worker', Date.now(), '99', [-1, -1])).toBe(false);
    expect((await q.job(tree.id).getDependencies()).processed).toEqual({ [`${other.name}:${child.id}`]: 14 });
  });

  it('flows: a child that stalls past maxStalledCount dies, and its parent fails with it (failParentOnFailure)', async () => {
    const f = await make();
    const q = f.newQueue();
    const other = f.newQueue();
    const tree = await q.addFlow({
      name: 'parent',
      data: null,
      children: [{ name: 'child', data: null, queue: other, options: { failParentOnFailure: true } }],
    });
    const child = tree.children[0]!;
    await other.backend.fetch(Date.now(), 1, 'dead-worker', 50);
    const dead = new Promise<void>((r) => other.onDead((e) => e.jobId === child.id && r()));
    let ran = 0;
    worker(other, () => void ran++, { stalledIntervalMs: 50, maxStalledCount: 0 });
    worker(q, () => void ran++);
    await dead;
    expect(await other.getJob(child.id)).toMatchObject({ state: 'dead', error: { code: 'JOB_STALLED' } });
    expect(await q.getJob(tree.id)).toMatchObject({ state: 'dead', error: { code: 'CHILD_FAILED' } });
    expect((await q.job(tree.id).getDependencies()).failed[`${other.name}:${child.id}`]).toMatchObject({
      code: 'JOB_STALLED',
    });
    expect(ran).toBe(0);
  });

  it('flows: obliterate removes parents waiting for children too', async () => {
    const q = (await make()).newQueue();
    const tree = await q.addFlow({
      name: 'p',
      data: null,
      children: [{ name: 'mid', data: null, children: [{ name: 'leaf', data: null }] }],
    });
    expect((await q.counts()).waitingChildren).toBe(2);
    expect(await q.obliterate()).toBe(3);
    expect(await q.getJob(tree.id)).toBeUndefined();
    expect(await q.job(tree.id).getDependencies()).toEqual({ processed: {}, unprocessed: [], failed: {} });
    expect((await q.counts()).waitingChildren).toBe(0);
  });

  it('flows: adding the same flow again (root jobId) adds only what is missing; bad options add nothing', async () => {
    const f = await make();
    const q = f.newQueue();
    const other = f.newQueue();
    const flow = {
      name: 'parent',
      data: null,
      options: { jobId: 'order-1' },
      children: [
        { name: 'a', data: 1 },
        { name: 'b', data: 2, queue: other },
      ],
    };
    const first = await q.addFlow(flow);
    expect(first.children.map((c) => c.id)).toEqual(['order-1:0', 'order-1:1']);
    const again = await q.addFlow(flow);
    expect([again.added, ...again.children.map((c) => c.added)]).toEqual([false, false, false]);
    expect((await q.counts()).waiting + (await other.counts()).waiting).toBe(2);
    // A crash after the parent was written: its children are missing. Adding it again completes it.
    await other.job('order-1:1').remove();
    const repaired = await q.addFlow(flow);
    expect(repaired.children.map((c) => c.added)).toEqual([false, true]);
    // Two failure policies on one child: typed error naming the options, nothing written.
    await expect(
      q.addFlow({
        name: 'p',
        data: null,
        options: { jobId: 'bad-flow' },
        children: [{ name: 'c', data: null, options: { failParentOnFailure: true, removeDependencyOnFailure: true } }],
      }),
    ).rejects.toSatisfy(isInvalidOptionsError);
    expect(await q.getJob('bad-flow')).toBeUndefined();
    // A grouped queue anywhere in the tree: refused, nothing written (its workers fetch from group lines only).
    const grouped = f.newQueue({ groups: true });
    await expect(
      q.addFlow({
        name: 'p',
        data: null,
        options: { jobId: 'grouped-flow' },
        children: [{ name: 'c', data: null, queue: grouped }],
      }),
    ).rejects.toSatisfy((e) => isInvalidOptionsError(e) && /groups/.test(e.message));
    expect(await q.getJob('grouped-flow')).toBeUndefined();
  });

  it('flows: events — addFlow publishes waiting-children for a parent, waiting/delayed for its leaves; a duplicate nothing', async () => {
    const f = await make();
    const q = f.newQueue({ events: true });
    const other = f.newQueue({ events: true });
    const qe = await listen(q);
    const oe = await listen(other);
    const flow = {
      name: 'root',
      data: null,
      options: { jobId: 'evt-root' },
      children: [
        { name: 'mid', data: null, queue: other, children: [{ name: 'leaf', data: 1, queue: q }] },
        { name: 'later', data: 2, options: { delayMs: 3_600_000 } },
      ],
    };
    const tree = await q.addFlow(flow);
    const mid = tree.children[0]!;
    const [leaf] = mid.children;
    const later = tree.children[1]!;
    await expect
      .poll(() => qe.seen.map((e) => `${e.event} ${e.jobId}`))
      .toEqual([`waiting-children ${tree.id}`, `waiting ${leaf!.id}`, `delayed ${later.id}`]);
    await expect.poll(() => oe.seen.map((e) => `${e.event} ${e.jobId}`)).toEqual([`waiting-children ${mid.id}`]);
    expect(qe.seen.find((e) => e.jobId === later.id)).toMatchObject({ delayUntil: expect.any(Number) });
    // Adding the same flow again finds every job there: nothing moved, nothing published.
    await q.addFlow(flow);
    const marker = await q.add('marker', null);
    await expect.poll(() => qe.seen.at(-1)?.jobId).toBe(marker.id);
    expect(qe.seen).toHaveLength(4);
    expect(oe.seen).toHaveLength(1);
  });

  it('flows: events — a parent goes waiting-children, then waiting (prev waiting-children) when its child completes, then runs', async () => {
    const q = (await make()).newQueue({ events: true });
    const qe = await listen(q);
    const tree = await q.addFlow({ name: 'parent', data: null, children: [{ name: 'child', data: 1 }] });
    const child = tree.children[0]!;
    worker(q, async (job) => (job.name === 'child' ? 'c' : job.childrenResults()), { concurrency: 1 });
    expect(await q.job(tree.id).waitUntilFinished(qe.events, { timeoutMs: 10_000 })).toEqual({
      [`${q.name}:${child.id}`]: 'c',
    });
    await expect.poll(() => qe.of(tree.id)).toEqual(['waiting-children', 'waiting', 'active', 'completed']);
    expect(qe.of(child.id)).toEqual(['waiting', 'active', 'completed']);
    // The parent's move is published with it (as BullMQ does): after the child started, before its `completed`.
    const at = (event: string, id: string) => qe.seen.findIndex((e) => e.event === event && e.jobId === id);
    expect(at('waiting-children', tree.id)).toBeLessThan(at('waiting', child.id));
    expect(at('waiting', tree.id)).toBeGreaterThan(at('active', child.id));
    expect(at('waiting', tree.id)).toBeLessThan(at('completed', child.id));
    expect(qe.seen.find((e) => e.jobId === tree.id && e.event === 'waiting')).toMatchObject({
      prev: 'waiting-children',
    });
    expect(qe.seen.find((e) => e.jobId === child.id && e.event === 'waiting')).not.toHaveProperty('prev');
  });

  it("flows: events — a child in another queue releases its parent: the parent's waiting is on the parent queue's stream", async () => {
    const f = await make();
    const q = f.newQueue({ events: true });
    const other = f.newQueue({ events: true });
    const qe = await listen(q);
    const oe = await listen(other);
    const tree = await q.addFlow({
      name: 'parent',
      data: null,
      children: [
        { name: 'here', data: 1 },
        { name: 'there', data: 2, queue: other },
      ],
    });
    const [here, there] = tree.children;
    // `here` first (only q has a worker): the parent keeps waiting for `there`.
    const hereDone = completedOf(q, here!.id);
    worker(q, async (job) => (job.name === 'parent' ? job.childrenResults() : job.data));
    await hereDone;
    expect((await q.getJob(tree.id))?.state).toBe('waiting-children');
    // `there` completes on other's worker, which releases the parent.
    worker(other, (job) => job.data);
    await q.job(tree.id).waitUntilFinished(qe.events, { timeoutMs: 10_000 });
    await expect.poll(() => qe.of(tree.id)).toEqual(['waiting-children', 'waiting', 'active', 'completed']);
    expect(qe.seen.find((e) => e.jobId === tree.id && e.event === 'waiting')).toMatchObject({
      prev: 'waiting-children',
    });
    expect(qe.of(here!.id)).toEqual(['waiting', 'active', 'completed']);
    await expect.poll(() => oe.of(there!.id)).toEqual(['waiting', 'active', 'completed']);
    // Each job's events on its own queue's stream only.
    expect(oe.of(tree.id)).toEqual([]);
    expect(qe.of(there!.id)).toEqual([]);
  });

  it('flows: events — failParentOnFailure: the parent leaves waiting-children as failed (CHILD_FAILED), dead with a DLQ, up the tree', async () => {
    const f = await make();
    const q = f.newQueue({ events: true }); // with a DLQ
    const other = f.newQueue({ events: true, deadLetter: false });
    const qe = await listen(q);
    const oe = await listen(other);
    const tree = await q.addFlow({
      name: 'top',
      data: null,
      children: [
        {
          name: 'parent',
          data: null,
          queue: other,
          options: { failParentOnFailure: true },
          children: [{ name: 'bad', data: null, queue: q, options: { ...noRetry, failParentOnFailure: true } }],
        },
      ],
    });
    const parent = tree.children[0]!;
    const bad = parent.children[0]!;
    worker(q, () => {
      throw new Error('child broke');
    });
    // The top job's end is known from the events alone (another process could be waiting for it).
    await expect(q.job(tree.id).waitUntilFinished(qe.events, { timeoutMs: 10_000 })).rejects.toSatisfy(
      (e) => isJobFailedError(e) && e.state === 'dead' && e.failure?.code === 'CHILD_FAILED',
    );
    await expect.poll(() => oe.of(parent.id)).toEqual(['waiting-children', 'failed']);
    expect(oe.seen.find((e) => e.jobId === parent.id && e.event === 'failed')).toMatchObject({
      willRetry: false,
      error: { code: 'CHILD_FAILED', name: 'ChildJobFailedError', child: `${q.name}:${bad.id}` },
    });
    await expect.poll(() => qe.of(tree.id)).toEqual(['waiting-children', 'failed', 'dead']);
    expect(qe.seen.find((e) => e.jobId === tree.id && e.event === 'dead')).toMatchObject({
      error: { code: 'CHILD_FAILED', child: `${other.name}:${parent.id}` },
    });
    // The moves up the tree are published with them: the top job's before the failed child's own `failed`.
    await expect.poll(() => qe.of(bad.id)).toEqual(['waiting', 'active', 'failed', 'dead']);
    const order = qe.seen.map((e) => `${e.event} ${e.jobId === tree.id ? 'top' : 'bad'}`);
    expect(order.indexOf('dead top')).toBeLessThan(order.indexOf('failed bad'));
  });

  it('flows: events — a parent released by the sweep (the second step crashed) still publishes its waiting', async () => {
    const f = await make();
    const parents = f.newQueue({ events: true });
    const children = f.newQueue({ events: true });
    const pe = await listen(parents);
    const tree = await parents.addFlow({
      name: 'parent',
      data: null,
      children: [{ name: 'child', data: 'x', queue: children }],
    });
    const child = tree.children[0]!;
    let killed = 0;
    flowFaults.beforeResolve = (e) => {
      if (e.childId === child.id && killed++ === 0) throw new Error('process killed between the two steps');
    };
    const childDone = completedOf(children, child.id);
    worker(children, () => 'child result', { stalledIntervalMs: 3_600_000 });
    await childDone;
    await expect.poll(() => pe.of(tree.id)).toEqual(['waiting-children']);
    worker(children, () => 'never again', { stalledIntervalMs: 50 });
    await expect.poll(() => pe.of(tree.id), { timeout: 5_000 }).toEqual(['waiting-children', 'waiting']);
    expect(pe.seen.at(-1)).toMatchObject({ prev: 'waiting-children' });
  });
});
