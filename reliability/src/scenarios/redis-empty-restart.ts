/**
 * redis-empty-restart: a private `redis-server` without AOF or RDB is restarted mid-run, so it comes back
 * EMPTY (streams, groups, jobs, config versions, registrations all gone). Event-bus consumers, queue workers,
 * a config-center reader and discovery registrations keep running in this process against it; the ledger is
 * on the main Redis. Counted apart: what was lost WITH the data (published/added before the restart and not
 * yet worked off — expected, nothing can save it without persistence) and what was lost AFTER it (must be 0:
 * consumers recreate their group, workers go on, registrations come back). The config reader must keep its
 * last-known-good and refuse the reset (a wiped store is version 0).
 */
import { randomUUID } from 'node:crypto';
import { createConfig, defaults, isRemoteResetError, redisHash } from '@ballast/config-center';
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createDiscovery, type Discovery, RedisBackend } from '@ballast/discovery';
import { createEventBus, type EventBus, RedisTransport, type Transport } from '@ballast/event-bus';
import { createQueue, createWorker, type Queue, type Worker } from '@ballast/queue';
import { z } from 'zod';
import { Effects, quiet, tally } from '../effects';
import { Checks, type Ledger } from '../ledger';
import { startRedisServer } from '../redis-server';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';

export interface EmptyRestartCounts {
  /** Events published and jobs added before each restart, and again after it (each). */
  events: number;
  /** Discovery instances (TTL-checked) registered before the restart. */
  instances: number;
  /** Restarts (each: a batch before, restart, a batch after). */
  restarts: number;
  /** Bound for the after-restart batch to be worked off. */
  settleMs: number;
  /** Negative control: consumers never recreate a lost group, the config reader accepts a reset. */
  control?: boolean;
}

export const emptyRestartCounts: Record<'short' | 'long', EmptyRestartCounts> = {
  short: { events: 200, instances: 3, restarts: 1, settleMs: 30_000 },
  long: { events: 5_000, instances: 10, restarts: 10, settleMs: 120_000 },
};

const TYPE = 'chaos.item';
const GROUP = 'chaos';
const events = { [TYPE]: z.object({ n: z.number().int().nonnegative() }) };
const configSchema = z.object({ limits: z.object({ rate: z.number().int().positive() }) });
const silent = createLogger({ level: 'silent' });

/** A transport whose `ensureGroup` works only the first time per group: group recreation switched off. */
function noRecreation(inner: Transport): Transport {
  const seen = new Set<string>();
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'ensureGroup') {
        return async (type: string, group: string, start?: string) => {
          if (seen.has(`${type}\0${group}`)) return;
          seen.add(`${type}\0${group}`);
          await target.ensureGroup(type, group, start);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export async function runEmptyRestart(ctx: ScenarioContext, counts: EmptyRestartCounts): Promise<Ledger> {
  const started = Date.now();
  const checks = new Checks();
  const id = randomUUID().slice(0, 8);
  const prefix = `chaos:empty:${id}`;
  const ledgerRedis = createRedis(ctx.redisUrl) as Redis;
  const busFx = new Effects(ledgerRedis, `${prefix}:bus`);
  const jobFx = new Effects(ledgerRedis, `${prefix}:queue`);
  const server = await startRedisServer();
  const clients: Redis[] = [];
  const client = () => {
    const c = quiet(createRedis(server.url) as Redis);
    clients.push(c);
    return c;
  };
  const buses: EventBus<typeof events>[] = [];
  const queues: Queue<{ n: number }>[] = [];
  const workers: Worker<{ n: number }>[] = [];
  let discovery: Discovery | undefined;
  const closers: (() => Promise<unknown>)[] = [];

  try {
    // Event bus: a producer and two consumers, each on its own connection.
    const makeBus = (redis: Redis) => {
      const raw = new RedisTransport({ redis, prefix, logger: silent });
      const bus = createEventBus({
        transport: counts.control ? noRecreation(raw) : raw,
        source: 'chaos',
        events,
        logger: silent,
      });
      buses.push(bus);
      return bus;
    };
    const producer = makeBus(client());
    await producer.transport.ensureGroup(TYPE, GROUP);
    for (let c = 0; c < 2; c++) {
      await makeBus(client()).subscribe(
        TYPE,
        async (e) => {
          await delay(Math.random() * 8);
          await busFx.record(String(e.data.n));
        },
        {
          group: GROUP,
          consumer: `c${c}`,
          concurrency: 8,
          batchSize: 16,
          blockMs: 200,
          idleTimeoutMs: 1_000,
          claimIntervalMs: 200,
          maintenanceIntervalMs: 0,
          drainTimeoutMs: 2_000,
        },
      );
    }

    // Queue: a producer and two workers.
    const makeQueue = () => {
      const q = createQueue<{ n: number }>(`empty-${id}`, {
        backend: 'redis',
        redis: client(),
        prefix,
        logger: silent,
      });
      queues.push(q);
      return q;
    };
    const queue = makeQueue();
    for (let w = 0; w < 2; w++) {
      workers.push(
        createWorker<{ n: number }>(
          makeQueue(),
          async (job) => {
            await delay(Math.random() * 8);
            await jobFx.record(String(job.data.n));
          },
          {
            concurrency: 8,
            lockMs: 2_000,
            stalledIntervalMs: 500,
            blockMs: 200,
            drainTimeoutMs: 2_000,
            onError: () => {},
          },
        ),
      );
    }

    // Config: a writer commits versions 1..3; the reader must keep rate=3 through the wipe.
    const writer = await createConfig({
      schema: configSchema,
      sources: [
        defaults({ limits: { rate: 1 } }),
        redisHash({ redis: client(), name: `cfg-${id}`, prefix, logger: silent }),
      ],
      logger: silent,
    });
    closers.push(() => writer.close());
    for (const rate of [1, 2, 3]) await writer.set('limits.rate', rate);
    const reader = await createConfig({
      schema: configSchema,
      sources: [
        defaults({ limits: { rate: 1 } }),
        redisHash({ redis: client(), name: `cfg-${id}`, prefix, logger: silent }),
      ],
      logger: silent,
      ...(counts.control ? { acceptRemoteReset: true } : {}),
    });
    closers.push(() => reader.close());
    let resetsRefused = 0;
    let otherConfigErrors = 0;
    reader.onError((e) => {
      if (isRemoteResetError(e)) resetsRefused++;
      else otherConfigErrors++;
    });
    checks.check(reader.get('limits.rate') === 3, 'the config reader did not start on version 3');

    // Discovery: TTL-checked instances on the private Redis; a checker reads the registry directly.
    discovery = createDiscovery({ redis: client(), prefix, logger: silent, cacheTtlMs: 500 });
    const names = Array.from({ length: counts.instances }, (_, i) => i);
    for (const i of names) {
      await discovery.register({
        name: `svc-${id}`,
        id: `i${i}`,
        address: '127.0.0.1',
        port: 40_000 + i,
        check: { ttlMs: 1_000 },
        shutdown: false,
      });
    }
    const checker = new RedisBackend({ redis: client(), prefix, sweepIntervalMs: 200 });
    closers.push(() => checker.close());
    const passing = async () => {
      try {
        const r = await checker.query(`svc-${id}`);
        return r.instances.filter((i) => i.status === 'passing').length;
      } catch {
        return -1;
      }
    };
    const allPassing = await waitUntil(async () => (await passing()) === counts.instances, 15_000, 100);
    checks.check(allPassing, 'the discovery instances never all passed before the restart');

    const before: string[] = [];
    const after: string[] = [];
    const jobsBefore: string[] = [];
    const jobsAfter: string[] = [];
    let refusedPublishes = 0;
    let configSamples = 0;
    let configGaps = 0;
    const reregisterMs: number[] = [];
    let seq = 0;

    // Samples the reader every 5 ms from start to end: a value other than 3 is a gap (last-known-good lost).
    let sampling = true;
    const sampler = (async () => {
      for (let i = 0; sampling && i < 1_000_000; i++) {
        configSamples++;
        if (reader.get('limits.rate') !== 3) configGaps++;
        await delay(5);
      }
    })();

    const publishBatch = async (into: string[], jobsInto: string[], count: number, chunk: number, gapMs: number) => {
      for (let from = 0; from < count; from += chunk) {
        const items = [];
        for (let k = from; k < Math.min(from + chunk, count); k++) items.push(seq++);
        try {
          await producer.publishMany(
            TYPE,
            items.map((n) => ({ data: { n } })),
          );
          into.push(...items.map(String));
        } catch {
          refusedPublishes += items.length; // the producer was told: not lost, not produced
        }
        try {
          await queue.addBulk(items.map((n) => ({ name: 'chaos.job', data: { n }, opts: { jobId: `j${n}` } })));
          jobsInto.push(...items.map(String));
        } catch {
          refusedPublishes += items.length;
        }
        if (gapMs > 0) await delay(gapMs);
      }
    };

    for (let r = 0; r < counts.restarts; r++) {
      const bBefore: string[] = [];
      const jBefore: string[] = [];
      await publishBatch(bBefore, jBefore, counts.events, 100, 0); // a backlog
      // Mid-run: the data goes while the batch is being worked off (handlers take a few ms each).
      await waitUntil(async () => (await busFx.count()) > before.length, 10_000, 5);
      before.push(...bBefore);
      jobsBefore.push(...jBefore);
      ctx.log(`redis-empty-restart: restart ${r + 1}/${counts.restarts} (no AOF, no RDB)`);
      await server.restart();
      const t0 = Date.now();
      const bAfter: string[] = [];
      const jAfter: string[] = [];
      await publishBatch(bAfter, jAfter, counts.events, 20, 10); // a steady stream
      after.push(...bAfter);
      jobsAfter.push(...jAfter);
      const back = await waitUntil(async () => (await passing()) === counts.instances, counts.settleMs, 50);
      reregisterMs.push(back ? Date.now() - t0 : -1);
      const settled = await waitUntil(
        async () => {
          const [b, q] = await Promise.all([busFx.read(), jobFx.read()]);
          return bAfter.every((n) => b.has(n)) && jAfter.every((n) => q.has(n));
        },
        counts.control ? 1_500 : counts.settleMs,
        100,
      );
      if (!settled) ctx.log(`redis-empty-restart: restart ${r + 1}: after-restart batch not worked off in time`);
    }
    await waitUntil(async () => resetsRefused >= 1, counts.control ? 500 : 10_000, 50);
    sampling = false;
    await sampler;

    const [busEffects, jobEffects] = await Promise.all([busFx.read(), jobFx.read()]);
    const busBefore = tally(before, busEffects);
    const busAfter = tally(after, busEffects);
    const qBefore = tally(jobsBefore, jobEffects);
    const qAfter = tally(jobsAfter, jobEffects);
    const lostAfter = busAfter.lost + qAfter.lost;
    const lostWithData = busBefore.lost + qBefore.lost;
    checks.check(busAfter.lost === 0, `${busAfter.lost} events published after the restart lost`);
    checks.check(qAfter.lost === 0, `${qAfter.lost} jobs added after the restart lost`);
    checks.check(configGaps === 0, `the config reader lost its last-known-good in ${configGaps} samples`);
    // Refused once: later restarts find the same empty store, a state already refused (not reported again).
    checks.check(resetsRefused >= 1, 'the config reader never refused the reset');
    checks.check(
      reregisterMs.every((ms) => ms >= 0),
      'discovery instances not all re-registered in time',
    );
    return {
      scenario: 'redis-empty-restart',
      mode: ctx.mode,
      produced: before.length + after.length + jobsBefore.length + jobsAfter.length,
      processed: busBefore.processed + busAfter.processed + qBefore.processed + qAfter.processed,
      lost: lostAfter,
      duplicated: busBefore.duplicated + busAfter.duplicated + qBefore.duplicated + qAfter.duplicated,
      durationMs: Date.now() - started,
      details: {
        restarts: counts.restarts,
        late: 0,
        lostWithData,
        lostAfterRestart: lostAfter,
        busLostWithData: busBefore.lost,
        busLostAfter: busAfter.lost,
        queueLostWithData: qBefore.lost,
        queueLostAfter: qAfter.lost,
        refusedPublishes,
        configSamples,
        configGaps,
        configResetsRefused: resetsRefused,
        otherConfigErrors,
        instances: counts.instances,
        reregisterMaxMs: Math.max(...reregisterMs),
      },
      failures: checks.failures,
    };
  } finally {
    await Promise.allSettled(workers.map((w) => w.close()));
    await Promise.allSettled(queues.map((q) => q.close()));
    await Promise.allSettled(buses.map((b) => b.close()));
    await discovery?.close().catch(() => {});
    await Promise.allSettled(closers.map((c) => c()));
    for (const c of clients) c.disconnect();
    await server.stop();
    await deleteByPrefix(ledgerRedis, prefix);
    ledgerRedis.disconnect();
  }
}

export const scenario: Scenario = {
  name: 'redis-empty-restart',
  description:
    'Redis restarted WITHOUT data mid-run: bus groups recreated, queue goes on, config keeps last-known-good, discovery re-registers → 0 lost after the restart',
  run: (ctx) => {
    const c = emptyRestartCounts[ctx.mode];
    const s = ctx.scale ?? 1;
    return runEmptyRestart(ctx, {
      ...c,
      events: Math.max(20, Math.round(c.events * s)),
    });
  },
};
