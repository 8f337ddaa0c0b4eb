/**
 * bus: events published to @ballast/event-bus on Redis while consumer processes are SIGKILLed at random about
 * every second and restarted. Holds when every good event took effect at least once (0 lost), and every
 * poison event sits in the DLQ once, dead-lettered at delivery `maxDeliveries` (one more when a kill cut its
 * last delivery short: that delivery happened, it just never finished). Duplicates are counted, not failed:
 * at-least-once allows them.
 */
import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createEventBus } from '@ballast/event-bus';
import { spawnWorker, stopAll, type WorkerHandle } from '../child';
import { type KillTally, killAtRandom } from '../kill-loop';
import { Checks, type Ledger } from '../ledger';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';
import { type BusWorkerConfig, CHAOS_GROUP, CHAOS_TYPE, chaosEvents } from '../shared/bus';

interface BusCounts {
  events: number;
  /** Every `poisonEvery`-th event is poison. */
  poisonEvery: number;
  consumers: number;
  /** Publishing pace, events per second (so kills land while work is in flight). */
  publishRate: number;
  /** Bound of the whole run. */
  timeoutMs: number;
  /** Negative control: consumers drop every n-th event's effect (the ledger must count them lost). */
  dropEvery?: number;
}

export const busCounts: Record<'short' | 'long', BusCounts> = {
  short: { events: 3_000, poisonEvery: 300, consumers: 3, publishRate: 500, timeoutMs: 90_000 },
  long: { events: 100_000, poisonEvery: 1_000, consumers: 3, publishRate: 4_000, timeoutMs: 15 * 60_000 },
};

const MAX_DELIVERIES = 3;
const IDLE_TIMEOUT_MS = 1_500;
const BATCH = 100;

export async function runBus(ctx: ScenarioContext, counts: BusCounts): Promise<Ledger> {
  const started = Date.now();
  const prefix = `chaos:bus:${randomUUID().slice(0, 8)}:`;
  const redis = createRedis(ctx.redisUrl) as Redis;
  const ledgerKey = `${prefix}ledger`;
  const poisonKey = `${prefix}poison-attempts`;
  const workers: WorkerHandle[] = [];
  const checks = new Checks();
  let incarnation = 0;
  const tally: KillTally = { kills: 0, restartFailures: 0 };

  const start = (): WorkerHandle => {
    const config: BusWorkerConfig = {
      redisUrl: ctx.redisUrl,
      prefix,
      consumer: `c${incarnation++}`,
      ledgerKey,
      poisonKey,
      maxDeliveries: MAX_DELIVERIES,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
      lifetimeMs: counts.timeoutMs + 30_000,
    };
    if (counts.dropEvery) config.dropEvery = counts.dropEvery;
    const w = spawnWorker({
      script: 'bus-consumer.ts',
      name: config.consumer,
      config,
      lifetimeMs: config.lifetimeMs,
    });
    workers.push(w);
    return w;
  };

  const bus = createEventBus({
    redis,
    prefix,
    source: 'chaos-producer',
    events: chaosEvents,
    logger: createLogger({ level: 'silent' }),
  });
  const poison = (n: number) => n % counts.poisonEvery === counts.poisonEvery - 1;
  const poisonCount = Math.floor(counts.events / counts.poisonEvery);
  const goodCount = counts.events - poisonCount;

  try {
    // The group exists before anything is published, so consumers see every event from the first.
    await bus.transport.ensureGroup(CHAOS_TYPE, CHAOS_GROUP);
    await Promise.all(Array.from({ length: counts.consumers }, () => start().ready));
    ctx.log(`bus: ${counts.consumers} consumers up; publishing ${counts.events} events`);

    let publishing = true;
    const chaos = killAtRandom({
      workers,
      start,
      random: ctx.random,
      gapMs: 500,
      jitterMs: 1_000,
      maxKills: Math.ceil(counts.timeoutMs / 500),
      keepGoing: () => publishing && Date.now() - started < counts.timeoutMs,
      tally,
    });

    const perBatchMs = (BATCH / counts.publishRate) * 1_000;
    for (let from = 0; from < counts.events; from += BATCH) {
      const t0 = Date.now();
      const items = [];
      for (let n = from; n < Math.min(from + BATCH, counts.events); n++) items.push({ data: { n, poison: poison(n) } });
      await bus.publishMany(CHAOS_TYPE, items);
      const left = perBatchMs - (Date.now() - t0);
      if (left > 0) await delay(left);
    }
    ctx.log(`bus: published ${counts.events}; waiting for consumers (kills so far: ${tally.kills})`);

    // Kills go on while the backlog is worked off, until most of it is done; then the run must converge.
    await waitUntil(
      async () => (await redis.hlen(ledgerKey)) >= goodCount * 0.9,
      Math.max(0, counts.timeoutMs - (Date.now() - started)),
      250,
    );
    publishing = false;
    await chaos;
    const settled = await waitUntil(
      async () => {
        // Everything delivered (lag 0) and acknowledged or dead-lettered (nothing pending): final.
        const [group] = await bus.groups(CHAOS_TYPE);
        return group?.pending === 0 && group.lag === 0;
      },
      Math.max(10_000, counts.timeoutMs - (Date.now() - started)),
      250,
    );
    checks.check(settled, 'the run did not settle in time (events still pending or undelivered)');
    await stopAll(workers);

    // The tally.
    const effects = await redis.hgetall(ledgerKey);
    const attempts = await redis.hgetall(poisonKey);
    const dead = await bus.dlq.list(CHAOS_TYPE, { count: counts.events });
    const groups = await bus.groups(CHAOS_TYPE);
    const dlqByN = new Map<number, { deliveries: number; reason: string }[]>();
    for (const d of dead) {
      const n = (JSON.parse(d.fields.data ?? '{}') as { n: number }).n;
      const list = dlqByN.get(n) ?? [];
      list.push({ deliveries: d.deliveries, reason: d.reason });
      dlqByN.set(n, list);
    }
    let processed = 0;
    let duplicated = 0;
    let lost = 0;
    let goodInDlq = 0;
    let poisonExact = 0;
    let poisonAfterKill = 0;
    let poisonMissing = 0;
    let poisonWrong = 0;
    let dlqDuplicates = 0;
    for (let n = 0; n < counts.events; n++) {
      const inDlq = dlqByN.get(n) ?? [];
      if (inDlq.length > 1) dlqDuplicates += inDlq.length - 1;
      if (poison(n)) {
        const d = inDlq[0];
        const ran = Number(attempts[n] ?? 0);
        if (!d) poisonMissing++;
        else if (d.deliveries === MAX_DELIVERIES && ran <= MAX_DELIVERIES) poisonExact++;
        else if (d.deliveries === MAX_DELIVERIES + 1 && d.reason.startsWith('delivered') && ran <= MAX_DELIVERIES)
          poisonAfterKill++;
        else poisonWrong++;
        if (effects[n] !== undefined) poisonWrong++;
        continue;
      }
      const times = Number(effects[n] ?? 0);
      if (times > 0) {
        processed++;
        duplicated += times - 1;
      } else if (inDlq.length > 0) {
        goodInDlq++;
      } else {
        lost++;
      }
    }
    const pending = groups[0]?.pending ?? -1;
    checks.check(lost === 0, `${lost} events lost (no effect, not in the DLQ)`);
    checks.check(poisonMissing === 0, `${poisonMissing} poison events not in the DLQ`);
    checks.check(poisonWrong === 0, `${poisonWrong} poison events dead-lettered at the wrong delivery or handled`);
    checks.check(dlqDuplicates === 0, `${dlqDuplicates} events dead-lettered twice`);
    checks.check(pending === 0, `${pending} entries still pending at the end`);
    checks.check(tally.kills > 0, 'no consumer was killed: the scenario proved nothing');
    checks.check(tally.restartFailures === 0, `${tally.restartFailures} consumer restarts failed`);
    return {
      scenario: 'bus',
      mode: ctx.mode,
      produced: counts.events,
      processed: processed + poisonExact + poisonAfterKill,
      lost,
      duplicated,
      durationMs: Date.now() - started,
      details: {
        kills: tally.kills,
        consumers: counts.consumers,
        poison: poisonCount,
        poisonDlqAtMax: poisonExact,
        poisonDlqAfterKill: poisonAfterKill,
        goodInDlq,
        maxDeliveries: MAX_DELIVERIES,
        pendingAtEnd: pending,
      },
      failures: checks.failures,
    };
  } finally {
    await stopAll(workers, 2_000);
    await bus.close();
    await deleteByPrefix(redis, prefix);
    redis.disconnect();
  }
}

export const scenario: Scenario = {
  name: 'bus',
  description:
    'event-bus on Redis: consumers SIGKILLed ~1/s and restarted → 0 lost, duplicates counted, poison in the DLQ after maxDeliveries',
  run: (ctx) => {
    const counts = busCounts[ctx.mode];
    return runBus(ctx, {
      ...counts,
      events: Math.max(counts.poisonEvery, Math.round(counts.events * (ctx.scale ?? 1))),
    });
  },
};
