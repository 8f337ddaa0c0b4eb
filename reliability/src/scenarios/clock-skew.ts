/**
 * clock-skew: queue workers, saga orchestrators and lock clients whose wall clocks run 20 s behind, on time
 * and 20 s ahead (each package's `clock` option: `now()` off by the skew; timers and monotonic time real, as on
 * a host whose NTP is off). Holds when no job runs twice or before its delay (jobs outlive their lease several
 * times, so renewals and stalled checks run on every clock), no saga is touched by two orchestrators (steps
 * outlive the lease too; every sweeper runs every 200 ms), and no lock is granted before the previous hold's
 * server-side expiry. Leases, due times and expiries are the Redis server's (`TIME`, `PEXPIRE`): skew must
 * not matter. Negative control: the lock part done with a naive lease judged on the client's clock.
 */
import { randomUUID } from 'node:crypto';
import { type Clock, createLogger, createRedis, type Redis, systemClock } from '@ballast/core';
import { createLockManager, type LockManager } from '@ballast/lock';
import { createQueue, createWorker, type Queue, type Worker } from '@ballast/queue';
import { createOrchestrator, defineSaga, RedisSagaStore, type SagaOrchestrator } from '@ballast/saga';
import { Effects, tally } from '../effects';
import { Checks, type Ledger } from '../ledger';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';

export interface SkewCounts {
  skewMs: number;
  jobs: number;
  delayedJobs: number;
  delayMs: number;
  sagas: number;
  lockRounds: number;
  settleMs: number;
  /** Negative control: the lock part uses a lease judged on each client's own clock. */
  naiveLease?: boolean;
  parts?: readonly ('queue' | 'saga' | 'lock')[];
}

export const skewCounts: Record<'short' | 'long', SkewCounts> = {
  short: { skewMs: 20_000, jobs: 30, delayedJobs: 20, delayMs: 1_500, sagas: 12, lockRounds: 2, settleMs: 30_000 },
  long: { skewMs: 20_000, jobs: 600, delayedJobs: 300, delayMs: 3_000, sagas: 300, lockRounds: 30, settleMs: 180_000 },
};

const silent = createLogger({ level: 'silent' });
/** A host whose wall clock is `offsetMs` off: `now()` skewed, monotonic time and timers real. */
export const skewed = (offsetMs: number): Clock => ({ ...systemClock, now: () => systemClock.now() + offsetMs });
const work = (min: number, max: number) => delay(min + Math.random() * (max - min));

/** The control's lease: `until` written and judged with the client's clock (what the packages avoid). */
const NAIVE = `local v = redis.call('GET', KEYS[1])
if v and tonumber(v) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', 600000)
return 1`;

async function queuePart(ctx: ScenarioContext, c: SkewCounts, prefix: string, direct: Redis, offsets: number[]) {
  const fx = new Effects(direct, `${prefix}:fx:queue`);
  const firstRun = `${prefix}:fx:queue-first`;
  const clients: Redis[] = [];
  const queues: Queue<{ n: number; addedAt: number }>[] = [];
  const workers: Worker<{ n: number; addedAt: number }>[] = [];
  const make = (offset: number) => {
    const redis = createRedis(ctx.redisUrl) as Redis;
    clients.push(redis);
    const q = createQueue<{ n: number; addedAt: number }>(`skew-${prefix}`, {
      backend: 'redis',
      redis,
      prefix,
      logger: silent,
      clock: skewed(offset),
    });
    queues.push(q);
    return q;
  };
  try {
    for (const offset of offsets) {
      workers.push(
        createWorker(
          make(offset),
          async (job) => {
            // Real time of the first run (HSETNX), then the effect.
            await direct.hsetnx(firstRun, String(job.data.n), Date.now());
            await work(300, 1_300); // outlives lockMs (500): renewed a few times on this worker's clock
            await fx.record(String(job.data.n));
          },
          {
            concurrency: 6,
            lockMs: 500,
            stalledIntervalMs: 200,
            blockMs: 200,
            drainTimeoutMs: 2_000,
            onError: () => {},
          },
        ),
      );
    }
    // Producers on the skewed clocks add immediate and delayed jobs.
    const producers = offsets.map((o) => make(o));
    const ids: string[] = [];
    const delayed: string[] = [];
    const addedAt = new Map<string, number>();
    let n = 0;
    for (let i = 0; i < c.jobs + c.delayedJobs; i++) {
      const isDelayed = i >= c.jobs;
      const k = n++;
      const at = Date.now();
      await producers[i % producers.length]!.add(
        'skew.job',
        { n: k, addedAt: at },
        { jobId: `j${k}`, ...(isDelayed ? { delayMs: c.delayMs } : {}) },
      );
      ids.push(String(k));
      if (isDelayed) {
        delayed.push(String(k));
        addedAt.set(String(k), at);
      }
    }
    await waitUntil(async () => (await fx.count()) >= ids.length, c.settleMs, 200);
    // A job re-run would show up a little later (a lease judged lapsed): watch a moment longer.
    await delay(1_000);
    const effects = await fx.read();
    const first = await direct.hgetall(firstRun);
    let early = 0;
    let late = 0;
    for (const id of delayed) {
      const ran = Number(first[id] ?? 0);
      if (!ran) continue;
      const waited = ran - addedAt.get(id)!;
      if (waited < c.delayMs - 5) early++; // Date.now() at the add is taken before the add: 5 ms of rounding
      if (waited > c.delayMs + 5_000) late++;
    }
    return { ...tally(ids, effects), early, late };
  } finally {
    await Promise.allSettled(workers.map((w) => w.close()));
    await Promise.allSettled(queues.map((q) => q.close()));
    for (const r of clients) r.disconnect();
  }
}

async function sagaPart(ctx: ScenarioContext, c: SkewCounts, prefix: string, direct: Redis, offsets: number[]) {
  const fx = new Effects(direct, `${prefix}:fx:saga`);
  const clients: Redis[] = [];
  const orchestrators: SagaOrchestrator[] = [];
  const touchedBy = `${prefix}:fx:saga-by`;
  try {
    const sagas = offsets.map((offset, o) => {
      const saga = defineSaga<{ n: number }>('skew', {
        steps: [1, 2, 3].map((s) => ({
          name: `s${s}`,
          run: async (_ctx: { n: number }, info: { idempotencyKey: string }) => {
            await work(300, 900); // outlives the lease (500 ms): renewed on this orchestrator's clock
            await direct
              .multi()
              .hincrby(fx.key, info.idempotencyKey, 1)
              .sadd(`${touchedBy}:${info.idempotencyKey.split(':')[0]}`, o)
              .exec();
          },
        })),
        recovery: 'forward',
      });
      const redis = createRedis(ctx.redisUrl) as Redis;
      clients.push(redis);
      const orchestrator = createOrchestrator({
        store: new RedisSagaStore({ redis, prefix }),
        id: `o${o}`,
        sagas: [saga],
        leaseMs: 500,
        sweepIntervalMs: 200,
        sweepBatch: 20,
        stepTimeoutMs: 10_000,
        stepMaxAttempts: 1,
        logger: silent,
        clock: skewed(offset),
      });
      orchestrators.push(orchestrator);
      return saga;
    });
    const keys: string[] = [];
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < c.sagas; i++) {
      const o = i % orchestrators.length;
      const sagaId = `g${i}`;
      for (const s of [1, 2, 3]) keys.push(`${sagaId}:s${s}`);
      runs.push(orchestrators[o]!.run(sagas[o]!, { n: i }, { sagaId }).catch(() => {}));
    }
    await Promise.race([Promise.all(runs), delay(c.settleMs)]);
    await delay(1_000); // a sweeper that judged a lease lapsed would re-run a step about now
    const effects = await fx.read();
    let doubleClaimed = 0;
    let completed = 0;
    for (let i = 0; i < c.sagas; i++) {
      if ((await direct.scard(`${touchedBy}:g${i}`)) > 1) doubleClaimed++;
      if ((await orchestrators[0]!.get(`g${i}`))?.status === 'completed') completed++;
    }
    return { ...tally(keys, effects), doubleClaimed, completed };
  } finally {
    await Promise.allSettled(orchestrators.map((o) => o.close()));
    for (const r of clients) r.disconnect();
  }
}

/** Holder on one skewed clock, a waiter on the opposite one: the waiter must not be granted before the hold expires. */
async function lockPart(ctx: ScenarioContext, c: SkewCounts, prefix: string, direct: Redis) {
  const clients: Redis[] = [];
  const managers: LockManager[] = [];
  const ttlMs = 1_000;
  let early = 0;
  let minMarginMs = Number.POSITIVE_INFINITY;
  try {
    const sides = [c.skewMs, -c.skewMs].map((offset) => {
      const redis = createRedis(ctx.redisUrl) as Redis;
      clients.push(redis);
      const m = createLockManager({ redis, prefix, ttlMs, logger: silent, clock: skewed(offset) });
      managers.push(m);
      return { offset, redis, m, clock: skewed(offset) };
    });
    for (let r = 0; r < c.lockRounds; r++) {
      // Alternating; the control starts with the holder behind (its naive lease is taken at once by the ahead client).
      const first = c.naiveLease ? 1 : 0;
      const [holder, waiter] = (r + first) % 2 === 0 ? [sides[0]!, sides[1]!] : [sides[1]!, sides[0]!];
      const key = `res-${r}`;
      let holdExpiry: number;
      let grantedAt: number;
      if (c.naiveLease) {
        const k = `${prefix}:naive:${key}`;
        await holder.redis.eval(NAIVE, 1, k, holder.clock.now(), holder.clock.now() + ttlMs);
        holdExpiry = Date.now() + ttlMs; // what the holder believes it has, in real time
        for (let i = 0; i < (ttlMs * 3) / 10; i++) {
          if ((await waiter.redis.eval(NAIVE, 1, k, waiter.clock.now(), waiter.clock.now() + ttlMs)) === 1) break;
          await delay(10);
        }
        grantedAt = Date.now();
      } else {
        const lease = await holder.m.acquire(key, { ttlMs, autoExtend: false, waitMs: 5_000 });
        holdExpiry = Number(await direct.pexpiretime(lockOwnersKey(prefix, key)));
        const next = await waiter.m.acquire(key, { ttlMs, waitMs: 10_000 });
        grantedAt = Date.now();
        if (next.fencingToken <= lease.fencingToken) early++;
        await next.release();
        await lease.release().catch(() => {});
      }
      const margin = grantedAt - holdExpiry;
      minMarginMs = Math.min(minMarginMs, margin);
      if (margin < 0) early++;
    }
    return { rounds: c.lockRounds, early, minMarginMs };
  } finally {
    await Promise.allSettled(managers.map((m) => m.close()));
    for (const r of clients) r.disconnect();
  }
}

function lockOwnersKey(prefix: string, key: string): string {
  return `${prefix}:lock:{${key}}:owners`;
}

export async function runClockSkew(ctx: ScenarioContext, c: SkewCounts): Promise<Ledger> {
  const started = Date.now();
  const checks = new Checks();
  const prefix = `chaos:skew:${randomUUID().slice(0, 8)}`;
  const direct = createRedis(ctx.redisUrl) as Redis;
  const parts = new Set(c.parts ?? ['queue', 'saga', 'lock']);
  const offsets = [-c.skewMs, 0, c.skewMs];
  try {
    const [queue, saga, lock] = await Promise.all([
      parts.has('queue') ? queuePart(ctx, c, prefix, direct, offsets) : undefined,
      parts.has('saga') ? sagaPart(ctx, c, prefix, direct, offsets) : undefined,
      parts.has('lock') ? lockPart(ctx, c, prefix, direct) : undefined,
    ]);
    if (queue) {
      checks.check(queue.lost === 0, `${queue.lost} jobs never ran`);
      checks.check(queue.duplicated === 0, `${queue.duplicated} job re-runs under skew`);
      checks.check(queue.early === 0, `${queue.early} delayed jobs ran before their delay`);
    }
    if (saga) {
      checks.check(saga.doubleClaimed === 0, `${saga.doubleClaimed} sagas claimed by two orchestrators`);
      checks.check(saga.duplicated === 0, `${saga.duplicated} saga steps re-run under skew`);
      checks.check(saga.completed === c.sagas, `${c.sagas - saga.completed} sagas not completed`);
    }
    if (lock) checks.check(lock.early === 0, `${lock.early} locks granted before the previous hold expired`);
    ctx.log(`clock-skew: ${JSON.stringify({ queue, saga, lock })}`);
    return {
      scenario: 'clock-skew',
      mode: ctx.mode,
      produced: (queue?.produced ?? 0) + (saga?.produced ?? 0) + (lock?.rounds ?? 0),
      processed: (queue?.processed ?? 0) + (saga?.processed ?? 0) + (lock?.rounds ?? 0),
      lost: (queue?.lost ?? 0) + (saga?.lost ?? 0),
      duplicated: (queue?.duplicated ?? 0) + (saga?.duplicated ?? 0),
      durationMs: Date.now() - started,
      details: {
        skewMs: `±${c.skewMs}`,
        late: queue?.late ?? 0,
        jobReruns: queue?.duplicated ?? 'n/a',
        delayedEarly: queue?.early ?? 'n/a',
        sagaDoubleClaimed: saga?.doubleClaimed ?? 'n/a',
        sagaStepReruns: saga?.duplicated ?? 'n/a',
        sagasCompleted: saga?.completed ?? 'n/a',
        lockRounds: lock?.rounds ?? 0,
        lockEarlyGrants: lock?.early ?? 'n/a',
        lockMinMarginMs: lock ? lock.minMarginMs : 'n/a',
      },
      failures: checks.failures,
    };
  } finally {
    await deleteByPrefix(direct, prefix);
    direct.disconnect();
  }
}

export const scenario: Scenario = {
  name: 'clock-skew',
  description:
    'workers, orchestrators and lock clients with clocks ±20 s off → no job re-run or run early, no saga double-claimed, no lock granted early',
  run: (ctx) => {
    const c = skewCounts[ctx.mode];
    const s = ctx.scale ?? 1;
    return runClockSkew(ctx, {
      ...c,
      jobs: Math.max(10, Math.round(c.jobs * s)),
      delayedJobs: Math.max(5, Math.round(c.delayedJobs * s)),
      sagas: Math.max(6, Math.round(c.sagas * s)),
    });
  },
};
