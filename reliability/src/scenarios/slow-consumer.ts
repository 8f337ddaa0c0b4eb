/**
 * slow-consumer: a bus group where one consumer is STUCK (its handler never returns, yet the process is alive
 * and renews its leases) next to a healthy one, plus a second group whose consumer went away. Events are
 * published for the whole run with a small retention (`maxLen`, `dlqMaxLen`, `deadGroupAfterMs`). Holds when
 * the stream length and the DLQ stay within their caps (sampled all run long, slack for one trim period),
 * and every event took effect or sits in the DLQ — the stuck consumer's entries are reclaimed (its handler
 * times out, `handlerTimeoutMs`), so they neither pin the retention floor nor get lost.
 * Negative control: no handler timeout — the stuck entries stay pending forever: lost, and the stream grows
 * past its cap because a live group's pending entry is a floor retention never passes.
 */
import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createEventBus, type EventBus } from '@ballast/event-bus';
import { z } from 'zod';
import { Effects, tally } from '../effects';
import { Checks, type Ledger } from '../ledger';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';

export interface SlowConsumerCounts {
  events: number;
  /** Publishing pace, events per second. */
  rate: number;
  maxLen: number;
  dlqMaxLen: number;
  /** The stuck handler's bound (0: none — the negative control). */
  handlerTimeoutMs: number;
  settleMs: number;
}

export const slowConsumerCounts: Record<'short' | 'long', SlowConsumerCounts> = {
  short: { events: 900, rate: 300, maxLen: 300, dlqMaxLen: 50, handlerTimeoutMs: 300, settleMs: 20_000 },
  // 10 minutes of a stuck consumer at 100 events/s.
  long: { events: 60_000, rate: 100, maxLen: 2_000, dlqMaxLen: 200, handlerTimeoutMs: 1_000, settleMs: 60_000 },
};

const TYPE = 'chaos.item';
const events = { [TYPE]: z.object({ n: z.number().int().nonnegative() }) };
const silent = createLogger({ level: 'silent' });
const MAINTENANCE_MS = 200;
const MAX_DELIVERIES = 3;

export async function runSlowConsumer(ctx: ScenarioContext, c: SlowConsumerCounts): Promise<Ledger> {
  const started = Date.now();
  const checks = new Checks();
  const prefix = `chaos:slow:${randomUUID().slice(0, 8)}`;
  const direct = createRedis(ctx.redisUrl) as Redis;
  const fx = new Effects(direct, `${prefix}:fx`);
  const clients: Redis[] = [];
  const buses: EventBus<typeof events>[] = [];
  let stuckRuns = 0;
  const make = () => {
    const redis = createRedis(ctx.redisUrl) as Redis;
    clients.push(redis);
    const bus = createEventBus({
      redis,
      prefix,
      source: 'chaos',
      events,
      logger: silent,
      retention: {
        maxLen: c.maxLen,
        dlqMaxLen: c.dlqMaxLen,
        deadGroupAfterMs: 1_000,
        maxAgeMs: 0,
        dlqMaxAgeMs: 0,
        intervalMs: MAINTENANCE_MS,
      },
    });
    buses.push(bus);
    return bus;
  };
  const consumerOptions = {
    group: 'work',
    concurrency: 4,
    batchSize: 8,
    blockMs: 100,
    idleTimeoutMs: 1_000,
    claimIntervalMs: 100,
    maxDeliveries: MAX_DELIVERIES,
    retryBackoff: { initialMs: 20, maxMs: 50, factor: 2, jitter: 'none' as const },
    maintenanceIntervalMs: MAINTENANCE_MS,
    drainTimeoutMs: 500,
    ...(c.handlerTimeoutMs > 0 ? { handlerTimeoutMs: c.handlerTimeoutMs } : {}),
  };
  try {
    const producer = make();
    const stream = producer.transport.keys.stream(TYPE);
    const dlq = producer.transport.keys.dlq(TYPE);
    await producer.transport.ensureGroup(TYPE, 'work');
    await producer.transport.ensureGroup(TYPE, 'gone'); // its consumer went away: a dead group after 1 s
    // The stuck consumer: alive (renews its leases), its handler never returns.
    await make().subscribe(
      TYPE,
      async (_e, { signal }) => {
        stuckRuns++;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        throw new Error('stuck handler gave up');
      },
      { ...consumerOptions, consumer: 'stuck' },
    );
    await make().subscribe(
      TYPE,
      async (e) => {
        await fx.record(String(e.data.n));
      },
      { ...consumerOptions, consumer: 'healthy' },
    );

    // Dead letters seen (the DLQ is capped: read what it holds all run long, not only at the end).
    const dead = new Set<string>();
    const readDlq = async () => {
      for (const d of await producer.dlq.list(TYPE, { count: c.dlqMaxLen * 4 })) {
        dead.add(String((JSON.parse(d.fields.data ?? '{}') as { n: number }).n));
      }
    };
    let maxStream = 0;
    let maxDlq = 0;
    let sampling = true;
    const sampler = (async () => {
      for (let i = 0; sampling && i < 10_000_000; i++) {
        const [len, dlen] = await Promise.all([direct.xlen(stream), direct.xlen(dlq)]);
        maxStream = Math.max(maxStream, len);
        maxDlq = Math.max(maxDlq, dlen);
        if (i % 4 === 0) await readDlq();
        await delay(50);
      }
    })();

    const ids: string[] = [];
    const chunk = 20;
    for (let n = 0; n < c.events; n += chunk) {
      const t0 = Date.now();
      const items = Array.from({ length: Math.min(chunk, c.events - n) }, (_, k) => n + k);
      await producer.publishMany(
        TYPE,
        items.map((k) => ({ data: { n: k } })),
      );
      ids.push(...items.map(String));
      const left = (chunk / c.rate) * 1_000 - (Date.now() - t0);
      if (left > 0) await delay(left);
    }
    // Settled: every event took effect or was dead-lettered.
    const settled = await waitUntil(
      async () => {
        await readDlq();
        const done = await fx.read();
        return ids.every((id) => done.has(id) || dead.has(id));
      },
      c.handlerTimeoutMs > 0 ? c.settleMs : 1_000, // control: the stuck entries never come back
      200,
    );
    sampling = false;
    await sampler;
    const effects = await fx.read();
    const t = tally(ids, effects);
    // Dead-lettered events are accounted for (parked visibly), not lost; those the DLQ cap dropped are counted
    // by the bus (logged + metric) — here, an event neither handled nor seen in the DLQ is lost.
    const lost = ids.filter((id) => !effects.has(id) && !dead.has(id)).length;
    const streamSlack = Math.ceil((c.rate * MAINTENANCE_MS * 3) / 1_000) + 100;
    checks.check(settled, 'events neither handled nor dead-lettered at the end');
    checks.check(lost === 0, `${lost} events lost (stuck, never reclaimed)`);
    checks.check(
      maxStream <= c.maxLen + streamSlack,
      `stream grew to ${maxStream} entries (cap ${c.maxLen} + ${streamSlack} slack)`,
    );
    checks.check(maxDlq <= c.dlqMaxLen + streamSlack, `DLQ grew to ${maxDlq} (cap ${c.dlqMaxLen})`);
    return {
      scenario: 'slow-consumer',
      mode: ctx.mode,
      produced: ids.length,
      processed: t.processed,
      lost,
      duplicated: t.duplicated,
      durationMs: Date.now() - started,
      details: {
        late: 0,
        stuckRuns,
        deadLettered: dead.size,
        maxStreamLen: maxStream,
        maxLen: c.maxLen,
        maxDlqLen: maxDlq,
        dlqMaxLen: c.dlqMaxLen,
        handlerTimeoutMs: c.handlerTimeoutMs,
      },
      failures: checks.failures,
    };
  } finally {
    await Promise.allSettled(buses.map((b) => b.close()));
    for (const r of clients) r.disconnect();
    await deleteByPrefix(direct, prefix);
    direct.disconnect();
  }
}

export const scenario: Scenario = {
  name: 'slow-consumer',
  description:
    'a bus group with a stuck consumer (handler never returns) and a dead group → stream and DLQ within their caps, stuck entries reclaimed, 0 lost',
  run: (ctx) => {
    const c = slowConsumerCounts[ctx.mode];
    return runSlowConsumer(ctx, { ...c, events: Math.max(200, Math.round(c.events * (ctx.scale ?? 1))) });
  },
};
