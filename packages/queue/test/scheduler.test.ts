/**
 * Job schedulers (§3): exactly one job per tick however many workers race for it and across restarts, the
 * missed-tick policy after downtime, DST in a named time zone — on memory, Redis and Redis Cluster, on a
 * FakeClock (no real waiting for ticks).
 */
import { type Cluster, isInvalidOptionsError } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { useRedisClusterFixture, useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, MemoryBackend, type Queue, type Worker } from '../src/index';
import { planTick, type SchedulerRecord, Ticks } from '../src/scheduler';

const redisFx = useRedisFixture({ name: 'queue-sched' });
const clusterFx = useRedisClusterFixture({ name: 'queue-sched-cluster' });

/** Polls (real time, generous bound) until `cond` holds. */
async function until(cond: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; !cond(); i++) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => (i < 50 ? setImmediate(r) : setTimeout(r, 2)));
  }
}

const T0 = Date.UTC(2026, 0, 1); // a whole second: cron and `every` ticks line up
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => {});
});

type Make = (name: string, clock: FakeClock) => Queue;
let n = 0;
const backends: [string, () => Make][] = [
  [
    'memory',
    () => {
      const shared = new Map<string, MemoryBackend>();
      return (name, clock) => {
        const b = shared.get(name) ?? new MemoryBackend({ clock });
        shared.set(name, b);
        return createQueue(name, { backend: b, clock });
      };
    },
  ],
  [
    'redis',
    () => (name, clock) =>
      createQueue(name, { backend: 'redis', redis: redisFx.current.redis, prefix: redisFx.current.prefix, clock }),
  ],
  [
    'redis-cluster',
    () => (name, clock) =>
      createQueue(name, { backend: 'redis', redis: clusterFx.cluster as Cluster, prefix: clusterFx.prefix, clock }),
  ],
];

/** Ticks of the exactly-once run per backend (1,000 on one server; fewer on Cluster, whose round trips cost more). */
const TICKS: Record<string, number> = { memory: 1_000, redis: 1_000, 'redis-cluster': 150 };

describe.each(backends)('schedulers on %s', (kind, factory) => {
  const setup = () => {
    const make = factory();
    const name = `sched${n++}`;
    const clock = new FakeClock({ now: T0 });
    const seen = new Map<string, number>();
    let calls = 0;
    const process = (): { queue: Queue; worker: Worker } => {
      const queue = make(name, clock);
      const worker = createWorker(
        queue,
        (job) => {
          calls++;
          seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
        },
        { blockMs: 60_000, stalledIntervalMs: 3_600_000, concurrency: 8 },
      );
      open.push(queue);
      return { queue, worker };
    };
    return { clock, seen, process, calls: () => calls, name };
  };

  it(`three schedulers in three workers: exactly one job per tick over ${TICKS[kind]} ticks, a restart midway`, async () => {
    const s = setup();
    const procs = [s.process(), s.process(), s.process()];
    const template = { name: 'tick', options: { removeOnComplete: true } };
    // Removed on completion: a second job for a tick would not be deduplicated by its id.
    await procs[0]!.queue.upsertScheduler('a', { every: 1_000 }, template);
    await procs[1]!.queue.upsertScheduler('b', { pattern: '* * * * * *', tz: 'Asia/Shanghai' }, template);
    await procs[2]!.queue.upsertScheduler('c', { every: 3_000 }, template);
    const ticks = TICKS[kind]!;
    const expected = (k: number) => 2 * (k + 1) + Math.floor(k / 3) + 1;
    await until(
      () => s.seen.size === expected(0),
      () => `${s.seen.size} jobs`,
    );
    for (let k = 1; k <= ticks; k++) {
      if (k === Math.floor(ticks / 2)) {
        // A process restarts: its worker goes, a new one (no state of its own) takes its place.
        await procs[0]!.queue.close();
        procs[0] = s.process();
      }
      await s.clock.advance(1_000);
      await until(
        () => s.seen.size >= expected(k),
        () => `tick ${k}: ${s.seen.size} of ${expected(k)} jobs`,
      );
      expect(s.calls()).toBe(s.seen.size);
    }
    expect(s.seen.size).toBe(expected(ticks));
    for (const [id, count] of s.seen) expect(count, id).toBe(1);
    for (let k = 0; k <= ticks; k++) {
      expect(s.seen.has(`repeat:a:${T0 + k * 1_000}`)).toBe(true);
      expect(s.seen.has(`repeat:b:${T0 + k * 1_000}`)).toBe(true);
      if (k % 3 === 0) expect(s.seen.has(`repeat:c:${T0 + k * 1_000}`)).toBe(true);
    }
    const [a] = (await procs[1]!.queue.listSchedulers()).filter((x) => x.id === 'a');
    expect(a).toMatchObject({ every: 1_000, count: ticks + 1, nextRunAt: T0 + (ticks + 1) * 1_000 });
  }, 120_000);

  it('missed ticks after downtime: `once` adds one job, `skip` none; both resume at the next tick', async () => {
    const s = setup();
    const admin = s.process();
    await admin.queue.upsertScheduler('once', { every: 1_000, missed: 'once' }, { name: 'm' });
    await admin.queue.upsertScheduler('skip', { every: 1_000, missed: 'skip' }, { name: 'm' });
    await until(
      () => s.seen.size === 2,
      () => `${s.seen.size} jobs`,
    );
    await admin.queue.close();
    // Down for 10.5 ticks: nobody claims.
    await s.clock.advance(10_500);
    s.process();
    await until(
      () => s.seen.size >= 3,
      () => `${s.seen.size} jobs`,
    );
    expect(s.seen.has(`repeat:once:${T0 + 1_000}`)).toBe(true); // the first missed tick stands for all
    await s.clock.advance(500);
    await until(
      () => s.seen.size >= 5,
      () => `${s.seen.size} jobs`,
    );
    expect(s.seen.has(`repeat:once:${T0 + 11_000}`)).toBe(true);
    expect(s.seen.has(`repeat:skip:${T0 + 11_000}`)).toBe(true);
    expect(s.calls()).toBe(5);
  });

  it('upserting an unchanged schedule keeps its next tick; limit and endDate end it; list and remove', async () => {
    const s = setup();
    const { queue } = s.process();
    const first = await queue.upsertScheduler('r', { every: 5_000, limit: 3 }, { name: 'x', data: { v: 1 } });
    expect(first).toMatchObject({ id: 'r', every: 5_000, limit: 3, nextRunAt: T0 });
    await until(
      () => s.seen.size === 1,
      () => `${s.seen.size} jobs`,
    );
    await s.clock.advance(2_000);
    // The same schedule again (another process starting): nothing moves, the template is replaced.
    const again = await queue.upsertScheduler('r', { every: 5_000, limit: 3 }, { name: 'x', data: { v: 2 } });
    expect(again).toMatchObject({ nextRunAt: T0 + 5_000, count: 1, template: { data: { v: 2 } } });
    await s.clock.advance(3_000);
    await until(
      () => s.seen.size === 2,
      () => `${s.seen.size} jobs`,
    );
    await s.clock.advance(5_000);
    await until(
      () => s.seen.size === 3,
      () => `${s.seen.size} jobs`,
    );
    // The third job was the last: the scheduler is gone.
    await expect.poll(() => queue.getScheduler('r')).toBeUndefined();
    await queue.upsertScheduler('e', { pattern: '0 0 * * * *', endDate: T0 + 60 * 60_000 }, { name: 'y' });
    await queue.upsertScheduler('z', { every: 60_000, startDate: new Date(T0 + 3_600_000) }, { name: 'z' });
    expect((await queue.listSchedulers()).map((x) => [x.id, x.nextRunAt])).toEqual([
      ['e', T0 + 3_600_000],
      ['z', T0 + 3_600_000],
    ]);
    expect(await queue.removeScheduler('z')).toBe(true);
    expect(await queue.removeScheduler('z')).toBe(false);
    expect((await queue.listSchedulers()).map((x) => x.id)).toEqual(['e']);
  });
});

describe('scheduler input and tick arithmetic', () => {
  const q = () => {
    const queue = createQueue('sched-input', { clock: new FakeClock({ now: T0 }) });
    open.push(queue);
    return queue;
  };

  it('bad input is a typed error naming the field, nothing stored', async () => {
    const queue = q();
    const cases: [unknown, unknown, string][] = [
      [{ pattern: 'not a cron' }, { name: 'x' }, 'pattern'],
      [{ pattern: '* * * * *', tz: 'Mars/Olympus' }, { name: 'x' }, 'tz'],
      [{ every: 0 }, { name: 'x' }, 'every'],
      [{ every: 1_000, pattern: '* * * * *' }, { name: 'x' }, ''],
      [{ every: 1_000 }, { name: 'x', options: { jobId: 'fixed' } }, 'template.options.jobId'],
      [{ every: 1_000, endDate: T0 - 1, startDate: T0 }, { name: 'x' }, 'endDate'],
    ];
    for (const [schedule, template, path] of cases) {
      const error = await queue
        // biome-ignore lint/suspicious/noExplicitAny: deliberately bad input
        .upsertScheduler('bad', schedule as any, template as any)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isInvalidOptionsError(error), JSON.stringify(schedule)).toBe(true);
      if (path) expect(JSON.stringify((error as { issues: unknown }).issues)).toContain(`"path":"${path}`);
    }
    expect(await queue.listSchedulers()).toEqual([]);
  });

  /** `count` ticks after `from`, as ISO strings. */
  const runsAfter = (ticks: Ticks, from: number, count: number): string[] => {
    const out: string[] = [];
    let t = from;
    for (let i = 0; i < count; i++) {
      t = ticks.after(t)!;
      out.push(new Date(t).toISOString());
    }
    return out;
  };

  it('DST in America/New_York: one run per day through both changes (croner: a skipped 02:30 runs at 03:00)', () => {
    const ticks = new Ticks({ pattern: '0 30 2 * * *', tz: 'America/New_York' });
    expect(runsAfter(ticks, Date.UTC(2026, 2, 6, 12), 4)).toEqual([
      '2026-03-07T07:30:00.000Z', // 02:30 EST
      '2026-03-08T07:00:00.000Z', // 02:30 does not exist: 03:00 EDT
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
      '2026-03-10T06:30:00.000Z',
    ]);
    const fall = new Ticks({ pattern: '0 30 1 * * *', tz: 'America/New_York' });
    // 01:30 happens twice on Nov 1: one run, at the first.
    expect(runsAfter(fall, Date.UTC(2026, 9, 31, 12), 3)).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
      '2026-11-03T06:30:00.000Z',
    ]);
  });

  it('DST end to end: a daily cron scheduler on a FakeClock adds one job per day across the spring change', async () => {
    const clock = new FakeClock({ now: Date.UTC(2026, 2, 6, 12) });
    const queue = createQueue('sched-dst', { clock });
    open.push(queue);
    const ran: string[] = [];
    createWorker(queue, (job) => void ran.push(new Date(Number(job.id.split(':')[2])).toISOString()), {
      blockMs: 3_600_000,
      stalledIntervalMs: 3_600_000,
    });
    await queue.upsertScheduler('daily', { pattern: '30 2 * * *', tz: 'America/New_York' }, { name: 'd' });
    for (let h = 0; h < 4 * 24; h++) await clock.advance(3_600_000);
    await until(
      () => ran.length === 4,
      () => ran.join(),
    );
    expect(ran).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('planTick: on time → the tick; behind → the missed-tick policy, resuming after now', () => {
    const r: SchedulerRecord = {
      id: 's',
      every: 1_000,
      anchor: 0,
      missed: 'once',
      name: 'n',
      data: 'null',
      opts: '{}',
      priority: 5,
      count: 0,
      next: 5_000,
    };
    const ticks = new Ticks(r);
    expect(planTick(r, ticks, 5_400)).toMatchObject({ expected: 5_000, newNext: 6_000, job: true });
    expect(planTick(r, ticks, 9_400)).toMatchObject({ expected: 5_000, newNext: 10_000, job: true });
    expect(planTick({ ...r, missed: 'skip' }, ticks, 9_400)).toMatchObject({ newNext: 10_000, job: false });
    expect(planTick({ ...r, limit: 3, count: 2 }, ticks, 5_000)).toMatchObject({ newNext: null, job: true });
  });
});
