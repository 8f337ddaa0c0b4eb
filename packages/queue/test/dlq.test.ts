/**
 * The DLQ's retention and cursor paging (issue 19 §4), on the memory and Redis backends: dead jobs are kept by
 * count and age (documented defaults) as jobs die, and `listDead({ cursor })` pages exactly while jobs die and
 * are replayed between pages.
 */
import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, type Queue, type QueueOptions } from '../src/index';

const fx = useRedisFixture({ name: 'queue-dlq' });
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) await q.close();
});
let n = 0;

const backends: Record<string, () => Partial<QueueOptions>> = {
  memory: () => ({ backend: 'memory' }),
  redis: () => ({ backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix }),
};

it('the DLQ keeps the last 10,000 dead jobs, up to 30 days, unless told otherwise', () => {
  const q = createQueue(`dlq-${n++}`);
  open.push(q);
  expect(q.options.deadLetterRetention).toEqual({ count: 10_000, ageMs: 30 * 24 * 3_600_000 });
});

describe.each(Object.keys(backends))('%s', (kind) => {
  function newQueue(options: Partial<QueueOptions> = {}) {
    const q = createQueue<{ i: number }>(`dlq-${n++}`, { ...backends[kind]!(), ...options });
    open.push(q);
    return q;
  }

  /** Adds jobs that fail at once (one attempt each) and waits until all of them are dead, in order. */
  async function kill(q: Queue<{ i: number }>, from: number, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = from; i < from + count; i++) {
      const dead = new Promise((r) => {
        const off = q.onDead(() => {
          off();
          r(undefined);
        });
      });
      ids.push((await q.add('boom', { i }, { attempts: 1 })).id);
      await dead;
    }
    return ids;
  }

  it('deadLetterRetention.count keeps the newest dead jobs and removes the older ones', async () => {
    const q = newQueue({ deadLetterRetention: { count: 3 } });
    createWorker(q, () => {
      throw new Error('always');
    });
    const ids = await kill(q, 0, 5);
    expect((await q.listDead()).map((j) => j.id)).toEqual(ids.slice(2));
    expect(await q.getJob(ids[0]!)).toBeUndefined();
    expect((await q.counts()).dead).toBe(3);
  });

  it('deadLetterRetention.ageMs removes dead jobs older than it as others die', async () => {
    const clock = new FakeClock({ now: Date.now() });
    const q = newQueue({ clock, deadLetterRetention: { ageMs: 60_000 } });
    createWorker(
      q,
      () => {
        throw new Error('always');
      },
      { stalledIntervalMs: 3_600_000 },
    );
    const [old] = await kill(q, 0, 1);
    await clock.advance(60_001);
    const [young] = await kill(q, 1, 1);
    expect((await q.listDead()).map((j) => j.id)).toEqual([young]);
    expect(await q.getJob(old!)).toBeUndefined();
  });

  it('listDead pages by cursor: no job skipped or repeated while jobs are replayed and die between pages', async () => {
    const q = newQueue();
    let failing = true;
    createWorker(q, () => {
      if (failing) throw new Error('always');
    });
    const ids = await kill(q, 0, 7);
    const first = await q.listDead({ limit: 3 });
    expect(first.jobs.map((j) => j.id)).toEqual(ids.slice(0, 3));
    expect(first.cursor).not.toBeNull();
    // Between pages an operator replays a job of the first page (it leaves the DLQ), and another job dies.
    failing = false;
    const replayed = new Promise((r) => q.onCompleted(r));
    await q.replayDead([ids[0]!]);
    await replayed;
    failing = true;
    const [late] = await kill(q, 7, 1);
    const second = await q.listDead({ cursor: first.cursor, limit: 3 });
    expect(second.jobs.map((j) => j.id)).toEqual(ids.slice(3, 6));
    const third = await q.listDead({ cursor: second.cursor, limit: 3 });
    expect(third.jobs.map((j) => j.id)).toEqual([ids[6], late]);
    expect(third.cursor).toBeNull();
  });
});
