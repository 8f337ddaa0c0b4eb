/**
 * Job and queue operations on a grouped queue (`groups`): its waiting jobs sit in per-group lines, not in the
 * queue's waiting index, and every operation must see them there — memory, Redis, Redis Cluster.
 */
import type { Cluster } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisClusterFixture, useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { type CreateQueueOptions, createQueue, createWorker, type Queue } from '../src/index';

const redisFx = useRedisFixture({ name: 'queue-groups-ops' });
const clusterFx = useRedisClusterFixture({ name: 'queue-groups-ops-cluster' });
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) await q.close().catch(() => {});
});
let n = 0;

const kinds: [string, (o: CreateQueueOptions) => Queue][] = [
  ['memory', (o) => createQueue(`go${n++}`, o)],
  [
    'redis',
    (o) =>
      createQueue(`go${n++}`, { ...o, backend: 'redis', redis: redisFx.current.redis, prefix: redisFx.current.prefix }),
  ],
  [
    'redis-cluster',
    (o) =>
      createQueue(`go${n++}`, {
        ...o,
        backend: 'redis',
        redis: clusterFx.cluster as Cluster,
        prefix: clusterFx.prefix,
      }),
  ],
];

describe.each(kinds)('grouped queue operations on %s', (_kind, make) => {
  const queue = (o: CreateQueueOptions = {}) => {
    const q = make({ ...o, groups: true });
    open.push(q);
    return q;
  };
  const fill = async (q: Queue) => {
    const added = await q.addBulk([
      { name: 'j', data: 'a1', options: { group: 'a' } },
      { name: 'j', data: 'b1', options: { group: 'b' } },
      { name: 'j', data: 'a2', options: { group: 'a', priority: 'high' } },
    ]);
    return added.map((a) => a.id);
  };

  it('getJobs and list see the waiting jobs in their group lines', async () => {
    const q = queue();
    const ids = await fill(q);
    const listed = await q.getJobs('waiting');
    expect(listed.map((j) => j.id).sort()).toEqual([...ids].sort());
    expect(listed.every((j) => j.state === 'waiting')).toBe(true);
    expect((await q.list('waiting')).map((j) => j.id).sort()).toEqual([...ids].sort());
    expect(await q.getJobs('waiting', { start: 1, end: 1 })).toHaveLength(1);
  });

  it('job.remove takes a waiting job out of its group line: no worker ever runs it', async () => {
    const q = queue();
    const [a1, b1, a2] = await fill(q);
    await q.job(b1!).remove();
    expect(await q.getJob(b1!)).toBeUndefined();
    expect((await q.counts()).waiting).toBe(2);
    const ran: string[] = [];
    createWorker(q, (job) => void ran.push(job.id), { concurrency: 1 });
    await expect.poll(() => ran.length, { timeout: 10_000 }).toBe(2);
    expect(ran.sort()).toEqual([a1, a2].sort());
  });

  it('drain empties the group lines', async () => {
    const q = queue();
    await fill(q);
    await q.drain();
    expect((await q.counts()).waiting).toBe(0);
    expect(await q.getJobs('waiting')).toEqual([]);
  });

  it('clean(waiting) removes old jobs from the group lines, and only those', async () => {
    const clock = new FakeClock();
    const q = queue({ clock });
    const old = await fill(q);
    await clock.advance(10_000);
    const { id: fresh } = await q.add('j', 'fresh', { group: 'a' });
    const cleaned = await q.clean('waiting', { olderThanMs: 5_000 });
    expect([...cleaned].sort()).toEqual([...old].sort());
    expect((await q.getJobs('waiting')).map((j) => j.id)).toEqual([fresh]);
  });

  it('obliterate leaves no group behind', async () => {
    const q = queue();
    await fill(q);
    await q.obliterate();
    await q.resume();
    expect((await q.counts()).waiting).toBe(0);
    expect(await q.getJobs('waiting')).toEqual([]);
    // The queue works on afterwards, its groups in turn as before.
    const [a1] = await fill(q);
    const ran: string[] = [];
    createWorker(q, (job) => void ran.push(job.id), { concurrency: 1, prefetch: 0 });
    await expect.poll(() => ran.length, { timeout: 10_000 }).toBe(3);
    expect(ran[0]).not.toBe(a1);
  });

  it('a delayed grouped job promoted, and a dead one retried, go back to their group line and run', async () => {
    const q = queue();
    const { id: later } = await q.add('j', 'later', { group: 'a', delayMs: 60_000 });
    await q.job(later).promote();
    expect((await q.getJob(later))?.state).toBe('waiting');
    const ran: string[] = [];
    const w = createWorker(
      q,
      (job) => {
        ran.push(job.data as string);
        if (job.data === 'dies' && ran.filter((d) => d === 'dies').length === 1) throw new Error('once');
      },
      { concurrency: 1 },
    );
    const { id: dies } = await q.add('j', 'dies', { group: 'b', attempts: 1 });
    await expect.poll(async () => (await q.getJob(dies))?.state, { timeout: 10_000 }).toBe('dead');
    await q.job(dies).retry();
    await expect.poll(async () => (await q.getJob(dies))?.state, { timeout: 10_000 }).toBe('completed');
    expect(ran.sort()).toEqual(['dies', 'dies', 'later']);
    await w.close();
  });

  it('changePriority of a waiting grouped job reorders its group line', async () => {
    const q = queue();
    const [a1, , a2] = await fill(q); // a2 is 'high': ahead of a1 in group a's line
    await q.job(a2!).changePriority(0);
    expect((await q.getJob(a2!))?.priority).toBe(0);
    const ran: string[] = [];
    createWorker(q, (job) => void ran.push(job.id), { concurrency: 1, prefetch: 0 });
    await expect.poll(() => ran.length, { timeout: 10_000 }).toBe(3);
    expect(ran.indexOf(a1!)).toBeLessThan(ran.indexOf(a2!));
  });
});
