/**
 * partition: every client's Redis connection goes through its own testkit `FaultProxy`, which freezes
 * (sockets open, nothing flows: a partition), drops (connections reset and refused: `down()`/`up()`) and
 * delays (latency both ways) them.
 *
 * - **lock**: a holder's link fails while another client waits for the key. The holder's lease must abort
 *   (validity, enforced locally) BEFORE the other client can be granted. Measured each round on the one host
 *   clock: `margin` = the server-side expiry of the old hold (PEXPIRETIME of its owners key, the earliest the
 *   server can grant anyone) − the moment the old holder's signal aborted; also the observed margin to the
 *   new grant. Both must be > 0 in every round.
 * - **bus / queue**: consumers and workers whose links freeze, drop and slow down while events are published
 *   and jobs added (producer direct). Every item must take effect (ledger on a direct connection): 0 lost.
 *
 * Everything runs in this process (cheap: no child boots), with one clock for both sides of the margin.
 */
import { randomUUID } from 'node:crypto';
import { type Clock, createLogger, createRedis, type Redis, systemClock } from '@ballast/core';
import { createEventBus, type EventBus } from '@ballast/event-bus';
import { createLockManager, type LockManager } from '@ballast/lock';
import { createQueue, createWorker, type Queue, type Worker } from '@ballast/queue';
import { FaultProxy } from '@ballast/testkit';
import { z } from 'zod';
import { Effects, quiet, tally } from '../effects';
import { Checks, type Ledger } from '../ledger';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';

export type Fault = 'freeze' | 'drop' | 'delay';

export interface PartitionCounts {
  /** Lock rounds per fault kind. */
  lockRounds: number;
  lockTtlMs: number;
  /**
   * The lock's clock-drift allowance (`driftFactor`). It also has to cover how late the validity timer fires on
   * a loaded host (event-loop lag): the package default 0.01 (17 ms at 1.5 s) measured −1 ms at load 23 here.
   */
  driftFactor: number;
  /** Events published and jobs added (each) while the consumers' / workers' links fail. */
  items: number;
  /** Publishing pace (items per second). */
  rate: number;
  settleMs: number;
  /** Negative control: the lock holder counts its validity on a clock running at half speed. */
  slowHolderClock?: boolean;
  /** Fault kinds of the lock rounds (default all three). */
  lockFaults?: readonly Fault[];
  /** Only these parts (default all). */
  parts?: readonly ('lock' | 'bus' | 'queue')[];
}

export const partitionCounts: Record<'short' | 'long', PartitionCounts> = {
  short: { lockRounds: 1, lockTtlMs: 1_500, driftFactor: 0.1, items: 300, rate: 120, settleMs: 30_000 },
  long: { lockRounds: 20, lockTtlMs: 1_500, driftFactor: 0.1, items: 20_000, rate: 200, settleMs: 120_000 },
};

const silent = createLogger({ level: 'silent' });
const TYPE = 'chaos.item';
const GROUP = 'chaos';
const events = { [TYPE]: z.object({ n: z.number().int().nonnegative() }) };
const FAULTS: readonly Fault[] = ['freeze', 'drop', 'delay'];

/** A clock whose monotonic time runs at half speed: a lease's validity then lasts twice as long in real time. */
function halfSpeed(): Clock {
  const t0 = systemClock.monotonic();
  return { ...systemClock, monotonic: () => t0 + (systemClock.monotonic() - t0) / 2 };
}

function applyFault(proxy: FaultProxy, fault: Fault, delayMs: number): void {
  if (fault === 'freeze') proxy.freeze();
  else if (fault === 'drop') proxy.down();
  else proxy.delay(delayMs);
}

function heal(proxy: FaultProxy): void {
  proxy.resume();
  proxy.up();
  proxy.delay(0);
}

interface LockRound {
  fault: Fault;
  /** Server expiry of the old hold − the old holder's abort (ms). */
  marginMs: number;
  /** New grant seen by its client − the old holder's abort (ms). */
  observedMs: number;
}

async function lockRounds(
  ctx: ScenarioContext,
  counts: PartitionCounts,
  prefix: string,
  direct: Redis,
  cleanup: (() => Promise<unknown>)[],
): Promise<{ rounds: LockRound[]; failures: string[] }> {
  const rounds: LockRound[] = [];
  const failures: string[] = [];
  const ttlMs = counts.lockTtlMs;
  for (const fault of counts.lockFaults ?? FAULTS) {
    for (let r = 0; r < counts.lockRounds; r++) {
      const key = `res-${fault}-${r}`;
      const ownersKey = `${prefix}:lock:{${key}}:owners`;
      const proxies = await Promise.all([
        FaultProxy.start({ target: ctx.redisUrl }),
        FaultProxy.start({ target: ctx.redisUrl }),
      ]);
      const clients = proxies.map((p) => quiet(createRedis(p.url()) as Redis));
      const managers: LockManager[] = clients.map((redis, i) =>
        createLockManager({
          redis,
          prefix,
          ttlMs,
          driftFactor: counts.driftFactor,
          logger: silent,
          commandTimeoutMs: ttlMs,
          ...(i === 0 && counts.slowHolderClock ? { clock: halfSpeed() } : {}),
        }),
      );
      const closeAll = async () => {
        for (const p of proxies) heal(p);
        await Promise.allSettled(managers.map((m) => m.close()));
        for (const c of clients) c.disconnect();
        await Promise.allSettled(proxies.map((p) => p.close()));
      };
      cleanup.push(closeAll);
      try {
        const lease = await managers[0]!.acquire(key, { waitMs: 10_000 });
        let abortedAt: number | undefined;
        lease.signal.addEventListener('abort', () => {
          abortedAt = Date.now();
        });
        // One confirmed extension first (the watchdog runs every ttl/3), so the fault hits a live hold.
        await delay(ttlMs / 2);
        applyFault(proxies[0]!, fault, ttlMs * 2);
        // The server's view of the old hold: its expiry, read until a new holder replaces it.
        let serverExpiry = 0;
        let granted: number | undefined;
        const watch = (async () => {
          for (let i = 0; granted === undefined && i < 10_000; i++) {
            const res = await direct.multi().hget(ownersKey, `f:${lease.token}`).pexpiretime(ownersKey).exec();
            const mine = res?.[0]?.[1];
            const at = Number(res?.[1]?.[1]);
            if (mine !== null && mine !== undefined && at > 0) serverExpiry = at;
            await delay(5);
          }
        })();
        const next = await managers[1]!.acquire(key, { waitMs: ttlMs * 6 });
        granted = Date.now();
        await watch;
        // An old holder still running when the new grant came (the control): wait for its abort to measure by how much.
        await waitUntil(() => abortedAt !== undefined, ttlMs * 4, 10);
        if (abortedAt === undefined) {
          failures.push(`lock/${fault}: the old lease never aborted (${ttlMs * 4} ms after the new grant)`);
          rounds.push({ fault, marginMs: -ttlMs * 4, observedMs: -ttlMs * 4 });
        } else {
          const round = { fault, marginMs: serverExpiry - abortedAt, observedMs: granted - abortedAt };
          rounds.push(round);
          if (!(round.marginMs > 0)) {
            failures.push(`lock/${fault}: the server could grant ${-round.marginMs} ms before the old holder aborted`);
          }
          if (!(round.observedMs > 0))
            failures.push(`lock/${fault}: new grant ${-round.observedMs} ms before the abort`);
        }
        await next.release();
      } catch (error) {
        failures.push(`lock/${fault}: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        await closeAll();
      }
    }
  }
  return { rounds, failures };
}

/** Publishes / adds `counts.items` while the consumers' and workers' links fail in turn; returns the ids. */
async function busAndQueue(
  ctx: ScenarioContext,
  counts: PartitionCounts,
  prefix: string,
  direct: Redis,
  cleanup: (() => Promise<unknown>)[],
  parts: ReadonlySet<string>,
) {
  const busFx = new Effects(direct, `${prefix}:fx:bus`);
  const jobFx = new Effects(direct, `${prefix}:fx:queue`);
  const proxies: FaultProxy[] = [];
  const clients: Redis[] = [];
  const viaProxy = async () => {
    const p = await FaultProxy.start({ target: ctx.redisUrl });
    proxies.push(p);
    const c = quiet(createRedis(p.url()) as Redis);
    clients.push(c);
    return c;
  };
  const buses: EventBus<typeof events>[] = [];
  const queues: Queue<{ n: number }>[] = [];
  const workers: Worker<{ n: number }>[] = [];
  cleanup.push(async () => {
    for (const p of proxies) heal(p);
    await Promise.allSettled(workers.map((w) => w.close()));
    await Promise.allSettled(queues.map((q) => q.close()));
    await Promise.allSettled(buses.map((b) => b.close()));
    for (const c of clients) c.disconnect();
    await Promise.allSettled(proxies.map((p) => p.close()));
  });
  const producerBus = createEventBus({ redis: direct, prefix, source: 'chaos', events, logger: silent });
  buses.push(producerBus);
  const producerQueue = createQueue<{ n: number }>(`part-${prefix}`, {
    backend: 'redis',
    redis: direct,
    prefix,
    logger: silent,
  });
  queues.push(producerQueue);
  if (parts.has('bus')) await producerBus.transport.ensureGroup(TYPE, GROUP);
  // Two consumers and two workers, each on its own proxied connection.
  const busProxies: FaultProxy[] = [];
  const queueProxies: FaultProxy[] = [];
  for (let i = 0; i < 2; i++) {
    if (parts.has('bus')) {
      const bus = createEventBus({
        redis: await viaProxy(),
        prefix,
        source: 'chaos',
        events,
        logger: silent,
        commandTimeoutMs: 1_000,
      });
      busProxies.push(proxies.at(-1)!);
      buses.push(bus);
      await bus.subscribe(
        TYPE,
        async (e) => {
          await delay(Math.random() * 5);
          await busFx.record(String(e.data.n));
        },
        {
          group: GROUP,
          consumer: `c${i}`,
          concurrency: 8,
          batchSize: 16,
          blockMs: 200,
          idleTimeoutMs: 1_000,
          claimIntervalMs: 200,
          maintenanceIntervalMs: 0,
          drainTimeoutMs: 1_000,
        },
      );
    }
    if (parts.has('queue')) {
      const q = createQueue<{ n: number }>(`part-${prefix}`, {
        backend: 'redis',
        redis: await viaProxy(),
        prefix,
        logger: silent,
        commandTimeoutMs: 1_000,
      });
      queueProxies.push(proxies.at(-1)!);
      queues.push(q);
      workers.push(
        createWorker<{ n: number }>(
          q,
          async (job) => {
            await delay(Math.random() * 5);
            await jobFx.record(String(job.data.n));
          },
          {
            concurrency: 8,
            lockMs: 1_000,
            stalledIntervalMs: 300,
            maxStalledCount: 100,
            blockMs: 200,
            drainTimeoutMs: 1_000,
            onError: () => {},
          },
        ),
      );
    }
  }

  const ids: string[] = [];
  const faultsApplied: Record<Fault, number> = { freeze: 0, drop: 0, delay: 0 };
  const durationMs = (counts.items / counts.rate) * 1_000;
  // Faults through the publishing: each of the 3 kinds on one consumer and one worker, then healed; the other
  // link of each pair keeps working, so the run can converge.
  const faults = (async () => {
    const slot = durationMs / (FAULTS.length + 1);
    for (let f = 0; f < FAULTS.length; f++) {
      await delay(slot / 2);
      const fault = FAULTS[f]!;
      const victims = [busProxies[f % 2], queueProxies[(f + 1) % 2]].filter((p): p is FaultProxy => p !== undefined);
      for (const p of victims) applyFault(p, fault, 300);
      faultsApplied[fault]++;
      // Past the consumer's idle timeout and the worker's lease (1 s): their work is taken over meanwhile.
      await delay(Math.max(slot, 1_300));
      for (const p of victims) heal(p);
    }
  })();
  const perChunk = 10;
  for (let n = 0; n < counts.items; n += perChunk) {
    const t0 = Date.now();
    const chunk = Array.from({ length: Math.min(perChunk, counts.items - n) }, (_, k) => n + k);
    if (parts.has('bus'))
      await producerBus.publishMany(
        TYPE,
        chunk.map((k) => ({ data: { n: k } })),
      );
    if (parts.has('queue')) {
      await producerQueue.addBulk(chunk.map((k) => ({ name: 'chaos.job', data: { n: k }, opts: { jobId: `j${k}` } })));
    }
    ids.push(...chunk.map(String));
    const left = (perChunk / counts.rate) * 1_000 - (Date.now() - t0);
    if (left > 0) await delay(left);
  }
  await faults;
  ctx.log(`partition: ${counts.items} published; faults ${JSON.stringify(faultsApplied)}; settling`);
  const want = (fx: Map<string, number>) => ids.every((id) => fx.has(id));
  await waitUntil(
    async () => {
      const [b, q] = await Promise.all([busFx.read(), jobFx.read()]);
      return (!parts.has('bus') || want(b)) && (!parts.has('queue') || want(q));
    },
    counts.settleMs,
    200,
  );
  const [b, q] = await Promise.all([busFx.read(), jobFx.read()]);
  return {
    bus: parts.has('bus') ? tally(ids, b) : undefined,
    queue: parts.has('queue') ? tally(ids, q) : undefined,
    faultsApplied,
  };
}

export async function runPartition(ctx: ScenarioContext, counts: PartitionCounts): Promise<Ledger> {
  const started = Date.now();
  const checks = new Checks();
  const prefix = `chaos:part:${randomUUID().slice(0, 8)}`;
  const direct = createRedis(ctx.redisUrl) as Redis;
  const cleanup: (() => Promise<unknown>)[] = [];
  const parts = new Set(counts.parts ?? ['lock', 'bus', 'queue']);
  try {
    const [lock, flow] = await Promise.all([
      parts.has('lock') ? lockRounds(ctx, counts, prefix, direct, cleanup) : undefined,
      parts.has('bus') || parts.has('queue') ? busAndQueue(ctx, counts, prefix, direct, cleanup, parts) : undefined,
    ]);
    for (const f of lock?.failures ?? []) checks.failures.push(f);
    const margins = lock?.rounds.map((r) => r.marginMs) ?? [];
    const observed = lock?.rounds.map((r) => r.observedMs) ?? [];
    const busLost = flow?.bus?.lost ?? 0;
    const queueLost = flow?.queue?.lost ?? 0;
    checks.check(busLost === 0, `${busLost} events lost across partitions`);
    checks.check(queueLost === 0, `${queueLost} jobs lost across partitions`);
    const lockRoundsRun = lock?.rounds.length ?? 0;
    const produced = (flow?.bus?.produced ?? 0) + (flow?.queue?.produced ?? 0) + lockRoundsRun;
    return {
      scenario: 'partition',
      mode: ctx.mode,
      produced,
      processed: (flow?.bus?.processed ?? 0) + (flow?.queue?.processed ?? 0) + lockRoundsRun,
      lost: busLost + queueLost,
      duplicated: (flow?.bus?.duplicated ?? 0) + (flow?.queue?.duplicated ?? 0),
      durationMs: Date.now() - started,
      details: {
        late: 0,
        lockRounds: lockRoundsRun,
        lockEarlyGrants: margins.filter((m) => !(m > 0)).length,
        lockMarginMinMs: margins.length ? Math.min(...margins) : 'n/a',
        lockMarginMedianMs: margins.length
          ? [...margins].sort((a, b) => a - b)[Math.floor(margins.length / 2)]!
          : 'n/a',
        // Every round's margin while they are few (short mode); the long run keeps min and median only.
        ...(margins.length <= 6
          ? { lockMarginsMs: lock?.rounds.map((r) => `${r.fault}:${r.marginMs}`).join('/') ?? '' }
          : {}),
        lockObservedMinMs: observed.length ? Math.min(...observed) : 'n/a',
        busLost,
        busDuplicated: flow?.bus?.duplicated ?? 0,
        queueLost,
        queueDuplicated: flow?.queue?.duplicated ?? 0,
        faults: flow
          ? Object.entries(flow.faultsApplied)
              .map(([k, v]) => `${k}×${v}`)
              .join(' ')
          : 'n/a',
      },
      failures: checks.failures,
    };
  } finally {
    await Promise.allSettled(cleanup.map((c) => c()));
    await deleteByPrefix(direct, prefix);
    direct.disconnect();
  }
}

export const scenario: Scenario = {
  name: 'partition',
  description:
    'lock clients, bus consumers and queue workers behind TCP fault proxies (freeze, drop, delay) → lock abort before any new grant (margin > 0), 0 lost',
  run: (ctx) => {
    const c = partitionCounts[ctx.mode];
    return runPartition(ctx, { ...c, items: Math.max(50, Math.round(c.items * (ctx.scale ?? 1))) });
  },
};
