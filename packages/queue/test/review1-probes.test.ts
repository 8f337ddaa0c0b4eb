/**
 * Review probes (s33-review1) of grouped-queue operations and events maxAgeMs: memory, Redis, Redis Cluster.
 */
import type { Cluster } from '@ballast/core';
import { InvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisClusterFixture, useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CreateQueueOptions,
  createQueue,
  createQueueEvents,
  createWorker,
  type Queue,
  type QueueEvent,
} from '../src/index';

const redisFx = useRedisFixture({ name: 'queue-review1' });
const clusterFx = useRedisClusterFixture({ name: 'queue-review1-cluster' });
const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const q of open.splice(0).reverse()) await Promise.resolve(q.close()).catch(() => {});
});
let n = 0;

type Raw =
  | {
      lrange(k: string, a: number, b: number): Promise<string[]>;
      smembers(k: string): Promise<string[]>;
      zcard(k: string): Promise<number>;
    }
  | undefined;
const kinds: [string, (o: CreateQueueOptions) => Queue, () => { raw: Raw; prefix: string }][] = [
  ['memory', (o) => createQueue(`rv${n++}`, o), () => ({ raw: undefined, prefix: '' })],
  [
    'redis',
    (o) =>
      createQueue(`rv${n++}`, { ...o, backend: 'redis', redis: redisFx.current.redis, prefix: redisFx.current.prefix }),
    () => ({ raw: redisFx.current.redis as unknown as Raw, prefix: redisFx.current.prefix }),
  ],
  [
    'redis-cluster',
    (o) =>
      createQueue(`rv${n++}`, {
        ...o,
        backend: 'redis',
        redis: clusterFx.cluster as Cluster,
        prefix: clusterFx.prefix,
      }),
    () => ({ raw: clusterFx.cluster as unknown as Raw, prefix: clusterFx.prefix }),
  ],
];

describe.each(kinds)('review probes on %s', (_kind, make, rawOf) => {
  const queue = (o: CreateQueueOptions = {}) => {
    const q = make({ groups: true, ...o });
    open.push(q);
    return q;
  };
  /** The Redis round-robin list and set: no group twice, list ≡ set, every non-empty line listed. */
  const checkRotation = async (q: Queue) => {
    const { raw, prefix } = rawOf();
    if (!raw) return;
    const base = `${prefix}:queue:{${q.name}}`;
    const list = await raw.lrange(`${base}:groups`, 0, -1);
    const set = await raw.smembers(`${base}:group-set`);
    expect(new Set(list).size, `list ${list}`).toBe(list.length);
    expect([...list].sort()).toEqual([...set].sort());
    return { list, base };
  };

  it('groups emptied by remove then re-added: one turn each, no double turns, none lost', async () => {
    const q = queue();
    const a = await q.addBulk([1, 2, 3].map((i) => ({ name: 'j', data: `a${i}`, options: { group: 'a' } })));
    await q.addBulk([1, 2, 3].map((i) => ({ name: 'j', data: `b${i}`, options: { group: 'b' } })));
    for (const { id } of a) await q.job(id).remove();
    await checkRotation(q);
    await q.addBulk([4, 5, 6].map((i) => ({ name: 'j', data: `a${i}`, options: { group: 'a' } })));
    await checkRotation(q);
    // a drained-empty group, then re-filled
    await q.addBulk([1, 2].map((i) => ({ name: 'j', data: `c${i}`, options: { group: 'c' } })));
    expect((await q.counts()).waiting).toBe(8);
    const ran: string[] = [];
    const w = createWorker(q, (job) => void ran.push(job.data as string), { concurrency: 1, prefetch: 0 });
    open.push(w);
    await expect.poll(() => ran.length, { timeout: 15_000 }).toBe(8);
    // Round-robin: in any window of the first 6 runs, no group runs twice in a row while others wait.
    const groupsRun = ran.map((d) => d[0]);
    for (let i = 1; i < 6; i++) expect(groupsRun[i], ran.join(',')).not.toBe(groupsRun[i - 1]);
    await checkRotation(q);
  });

  it('paging getJobs waiting asc/desc over shared + group lines is consistent with counts', async () => {
    const q = queue();
    // Shared line entries on a grouped queue: promoted delayed grouped jobs sit in `wait` until regrouped.
    for (let i = 0; i < 3; i++) {
      const { id } = await q.add('j', `d${i}`, { group: `g${i}`, delayMs: 60_000 });
      await q.job(id).promote();
    }
    for (let g = 0; g < 5; g++)
      await q.addBulk(
        [0, 1, 2].map((i) => ({
          name: 'j',
          data: `g${g}-${i}`,
          options: { group: `g${g}`, priority: i === 1 ? 'high' : 'medium' },
        })),
      );
    const total = (await q.counts()).waiting;
    expect(total).toBe(18);
    const all = (await q.getJobs('waiting')).map((j) => j.id);
    expect(all).toHaveLength(total);
    expect(new Set(all).size).toBe(total);
    const desc = (await q.getJobs('waiting', { asc: false })).map((j) => j.id);
    expect(desc).toEqual([...all].reverse());
    for (const asc of [true, false]) {
      const paged: string[] = [];
      for (let s = 0; s < total + 4; s += 4)
        paged.push(...(await q.getJobs('waiting', { start: s, end: s + 3, asc })).map((j) => j.id));
      expect(paged).toEqual(asc ? all : desc);
    }
    const listed: string[] = [];
    for (let s = 0; s < total; s += 5) listed.push(...(await q.list('waiting', s, 5)).map((j) => j.id));
    expect(listed).toEqual(all);
    // multi-state: waiting then delayed
    const { id: later } = await q.add('j', 'later', { group: 'g0', delayMs: 60_000 });
    const mixed = (await q.getJobs(['waiting', 'delayed'], { start: total - 1, end: total })).map((j) => j.id);
    expect(mixed).toEqual([all[total - 1], later]);
    const mixedDesc = (await q.getJobs(['waiting', 'delayed'], { start: 0, end: 1, asc: false })).map((j) => j.id);
    expect(mixedDesc).toEqual([desc[0], desc[1]]);
  });

  it('clean(waiting) with a limit across several groups removes exactly limit each call', async () => {
    const clock = new FakeClock();
    const q = queue({ clock });
    for (const g of ['a', 'b', 'c'])
      await q.addBulk([0, 1, 2].map((i) => ({ name: 'j', data: `${g}${i}`, options: { group: g } })));
    await clock.advance(10_000);
    const fresh = await q.add('j', 'fresh', { group: 'b' });
    const r1 = await q.clean('waiting', { olderThanMs: 5_000, limit: 4 });
    expect(r1).toHaveLength(4);
    expect((await q.counts()).waiting).toBe(6);
    const r2 = await q.clean('waiting', { olderThanMs: 5_000, limit: 4 });
    expect(r2).toHaveLength(4);
    const r3 = await q.clean('waiting', { olderThanMs: 5_000, limit: 4 });
    expect(r3).toHaveLength(1);
    expect(new Set([...r1, ...r2, ...r3]).size).toBe(9);
    expect((await q.getJobs('waiting')).map((j) => j.id)).toEqual([fresh.id]);
    await checkRotation(q);
    const ran: string[] = [];
    const w = createWorker(q, (job) => void ran.push(job.id), { concurrency: 1 });
    open.push(w);
    await expect.poll(() => ran, { timeout: 10_000 }).toEqual([fresh.id]);
  });

  it('remove / changePriority / drain racing a running grouped worker (limiter on): nothing lost or run twice', async () => {
    const q = queue({ groups: { limiter: { max: 50, durationMs: 100 } } });
    const ran = new Map<string, number>();
    const w = createWorker(
      q,
      async (job) => {
        ran.set(job.id, (ran.get(job.id) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 1));
      },
      { concurrency: 4, onError: () => {} },
    );
    open.push(w);
    const removed = new Set<string>();
    const all: string[] = [];
    for (let round = 0; round < 5; round++) {
      const added = await q.addBulk(
        Array.from({ length: 60 }, (_, i) => ({
          name: 'j',
          data: i,
          options: { group: `g${i % 7}`, priority: (i % 3) as 0 | 1 | 2 },
        })),
      );
      all.push(...added.map((a) => a.id));
      await Promise.all(
        added.map(async ({ id }, i) => {
          if (i % 4 === 0) {
            try {
              await q.job(id).remove();
              removed.add(id);
            } catch {
              /* active or gone: refused */
            }
          } else if (i % 4 === 1) {
            await q
              .job(id)
              .changePriority(7)
              .catch(() => {});
          }
        }),
      );
    }
    // Every job either removed (never run) or run exactly once.
    await expect
      .poll(() => all.filter((id) => !removed.has(id) && ran.get(id) !== 1).length, { timeout: 30_000 })
      .toBe(0);
    for (const id of removed) expect(ran.get(id), id).toBeUndefined();
    for (const [id, k] of ran) expect(k, id).toBe(1);
    await expect.poll(async () => (await q.counts()).waiting).toBe(0);
    // drain racing the worker, then the queue keeps working for every group
    await q.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: 'j', data: i, options: { group: `h${i % 9}` } })));
    await q.drain();
    expect((await q.counts()).waiting).toBe(0);
    const after = await q.addBulk(
      Array.from({ length: 18 }, (_, i) => ({ name: 'j', data: i, options: { group: `h${i % 9}` } })),
    );
    try {
      await expect.poll(() => after.filter((a) => ran.get(a.id) !== 1).length, { timeout: 15_000 }).toBe(0);
    } catch (e) {
      const { raw, prefix } = rawOf();
      const r = raw as unknown as import('ioredis').Redis;
      if (r) {
        const base = `${prefix}:queue:{${q.name}}`;
        const stuck = after.filter((a) => ran.get(a.id) !== 1).map((a) => a.id);
        const info: Record<string, unknown> = {
          list: await r.lrange(`${base}:groups`, 0, -1),
          set: await r.smembers(`${base}:group-set`),
          wait: await r.zrange(`${base}:wait`, 0, -1),
          delayed: await r.zrange(`${base}:delayed`, 0, -1),
          active: await r.zrange(`${base}:active`, 0, -1, 'WITHSCORES'),
          counts: await q.counts(),
        };
        for (const id of stuck) info[id] = await r.hgetall(`${base}:job:${id}`);
        for (let g = 0; g < 9; g++) info[`gwait h${g}`] = await r.zrange(`${base}:gwait:h${g}`, 0, -1);
        console.log('STUCK', JSON.stringify(info));
      }
      throw e;
    }
    await checkRotation(q);
  });

  it('1,000 groups, every other one emptied by remove: the rest all run, none lost from the rotation', async () => {
    const q = queue();
    const added = await q.addBulk(
      Array.from({ length: 2_000 }, (_, i) => ({ name: 'j', data: i, options: { group: `g${i % 1_000}` } })),
    );
    const keep = added.filter((_, i) => (i % 1_000) % 2 === 1).map((a) => a.id);
    for (const [i, a] of added.entries()) if ((i % 1_000) % 2 === 0) await q.job(a.id).remove();
    expect((await q.counts()).waiting).toBe(1_000);
    expect((await q.getJobs('waiting')).map((j) => j.id).sort()).toEqual([...keep].sort());
    const ran = new Set<string>();
    const w = createWorker(q, (job) => void ran.add(job.id), { concurrency: 8 });
    open.push(w);
    await expect.poll(() => ran.size, { timeout: 30_000 }).toBe(1_000);
    expect([...ran].sort()).toEqual([...keep].sort());
    const rotation = await checkRotation(q);
    if (rotation) expect(rotation.list).toEqual([]);
  });

  it('changePriority of the only job of a group keeps the group in its turn (as on every backend)', async () => {
    const q = queue();
    const { id: a1 } = await q.add('j', 'a1', { group: 'a' });
    await q.add('j', 'b1', { group: 'b' });
    await q.job(a1).changePriority(3);
    expect((await q.getJobs('waiting')).map((j) => j.data)).toEqual(['a1', 'b1']);
    const ran: string[] = [];
    const w = createWorker(q, (job) => void ran.push(job.data as string), { concurrency: 1, prefetch: 0 });
    open.push(w);
    await expect.poll(() => ran, { timeout: 10_000 }).toEqual(['a1', 'b1']);
  });
});

describe('events maxAgeMs options', () => {
  for (const bad of [0, -1, 1.5, '1000', Number.NaN, Number.POSITIVE_INFINITY, null]) {
    it(`refuses maxAgeMs ${String(bad)} with InvalidOptionsError naming events.maxAgeMs`, () => {
      let err: unknown;
      try {
        createQueue(`ev${n++}`, { events: { maxAgeMs: bad as number } });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect(String((err as Error).message)).toMatch(/events\.maxAgeMs/);
    });
  }

  it('a huge maxAgeMs keeps events (redis)', async () => {
    const name = `evh${n++}`;
    const q = createQueue(name, {
      backend: 'redis',
      redis: redisFx.current.redis,
      prefix: redisFx.current.prefix,
      events: { maxAgeMs: Number.MAX_SAFE_INTEGER },
    });
    open.push(q);
    await q.add('t', 1);
    await q.add('t', 2);
    await expect.poll(() => redisFx.current.redis.xlen(`${redisFx.current.prefix}:queue:{${name}}:events`)).toBe(2);
  });

  it('a huge maxAgeMs keeps events (memory, queue clock)', async () => {
    const clock = new FakeClock();
    const q = createQueue(`evm${n++}`, { clock, events: { maxAgeMs: Number.MAX_SAFE_INTEGER } });
    open.push(q);
    const t = q.eventsTransport();
    await q.add('t', 1);
    await clock.advance(10_000);
    await q.add('t', 2);
    await expect.poll(async () => (await t.read('0', 0)).length).toBe(2);
  });

  it('maxAgeMs on the cluster', async () => {
    const name = `evc${n++}`;
    const q = createQueue(name, {
      backend: 'redis',
      redis: clusterFx.cluster as Cluster,
      prefix: clusterFx.prefix,
      events: { maxAgeMs: 1, maxLen: 5 },
    });
    open.push(q);
    for (let i = 0; i < 5; i++) await q.add('t', i);
    const key = `${clusterFx.prefix}:queue:{${name}}:events`;
    await new Promise((r) => setTimeout(r, 20));
    await q.add('t', 'last');
    await expect.poll(() => (clusterFx.cluster as unknown as { xlen(k: string): Promise<number> }).xlen(key)).toBe(1);
  });

  it('a tiny maxAgeMs still delivers every event to a live subscriber (redis)', async () => {
    const q = createQueue(`evt${n++}`, {
      backend: 'redis',
      redis: redisFx.current.redis,
      prefix: redisFx.current.prefix,
      events: { maxAgeMs: 1 },
    });
    const events = createQueueEvents(q, { blockMs: 200 });
    open.push(q, events);
    await events.ready;
    const seen: QueueEvent[] = [];
    events.onEvent((e) => seen.push(e));
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push((await q.add('t', i)).id);
      await new Promise((r) => setTimeout(r, 3));
    }
    await expect
      .poll(() => seen.filter((e) => e.event === 'waiting').map((e) => e.jobId), { timeout: 10_000 })
      .toEqual(ids);
  });
});
