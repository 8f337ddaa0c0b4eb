/**
 * broker-restart: @ballast/queue on a PRIVATE RabbitMQ node (own node name, ports, data dir; the shared broker
 * on 5672 is never touched) restarted while delayed jobs sit in the delay tiers and retried jobs wait out their
 * backoff. Workers and the producer reconnect by themselves. Holds when every job took effect (0 lost) and no
 * delayed job ran before its delay (`early` 0); `late` counts those that ran more than 5 s after it (the outage
 * delays them; reported). Negative control: the node's queues are purged where the restart would be (a broker
 * that lost its messages): the ledger must count the delayed and retried jobs lost.
 */
import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createQueue, createWorker, type Queue, type Worker } from '@ballast/queue';
import { Effects, quiet, tally } from '../effects';
import { Checks, type Ledger } from '../ledger';
import { type RabbitNode, startRabbitNode } from '../rabbitmq-node';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';

export interface BrokerRestartCounts {
  /** Jobs run at once, delayed, and failing their first attempt (retried after `retryMs`). */
  immediate: number;
  delayed: number;
  retried: number;
  delayMs: number;
  retryMs: number;
  restarts: number;
  settleMs: number;
  /**
   * Negative control: instead of the restart, every queue of the node is purged — a broker that lost its
   * messages, as one restarted without its data would (a purge costs one CLI call, a restart a node boot).
   */
  wipe?: boolean;
}

export const brokerRestartCounts: Record<'short' | 'long', BrokerRestartCounts> = {
  short: { immediate: 40, delayed: 30, retried: 20, delayMs: 3_000, retryMs: 2_000, restarts: 1, settleMs: 40_000 },
  long: {
    immediate: 2_000,
    delayed: 1_000,
    retried: 500,
    delayMs: 20_000,
    retryMs: 10_000,
    restarts: 5,
    settleMs: 180_000,
  },
};

const silent = createLogger({ level: 'silent' });
interface JobData {
  n: number;
  kind: 'now' | 'delayed' | 'retried';
}

export async function runBrokerRestart(
  ctx: ScenarioContext,
  c: BrokerRestartCounts,
  given?: RabbitNode,
): Promise<Ledger> {
  const started = Date.now();
  const checks = new Checks();
  const prefix = `chaos:broker:${randomUUID().slice(0, 8)}`;
  const direct = createRedis(ctx.redisUrl) as Redis;
  const fx = new Effects(direct, `${prefix}:fx`);
  const firstRun = `${prefix}:first`;
  const attemptsKey = `${prefix}:attempts`;
  const node = given ?? (await startRabbitNode());
  const clients: Redis[] = [];
  const queues: Queue<JobData>[] = [];
  const workers: Worker<JobData>[] = [];
  const make = () => {
    const redis = quiet(createRedis(ctx.redisUrl) as Redis);
    clients.push(redis);
    const q = createQueue<JobData>(`chaos-broker-${prefix.slice(-8)}`, {
      backend: 'rabbitmq',
      url: node.url,
      redis,
      prefix,
      logger: silent,
    });
    queues.push(q);
    return q;
  };
  try {
    const producer = make();
    for (let w = 0; w < 2; w++) {
      workers.push(
        createWorker<JobData>(
          make(),
          async (job) => {
            const attempt = await direct.hincrby(attemptsKey, String(job.data.n), 1);
            if (job.data.kind === 'retried' && attempt === 1) throw new Error('fails its first attempt by design');
            await direct.hsetnx(firstRun, String(job.data.n), Date.now());
            await fx.record(String(job.data.n));
          },
          { concurrency: 4, drainTimeoutMs: 2_000, onError: () => {} },
        ),
      );
    }
    const ids: string[] = [];
    const delayedIds: string[] = [];
    const addedAt = new Map<string, number>();
    let n = 0;
    const add = async (kind: JobData['kind']) => {
      const k = n++;
      const at = Date.now();
      await producer.add(
        'broker.job',
        { n: k, kind },
        {
          jobId: `j${k}`,
          ...(kind === 'delayed' ? { delayMs: c.delayMs } : {}),
          ...(kind === 'retried' ? { attempts: 3, backoff: c.retryMs } : {}),
        },
      );
      ids.push(String(k));
      if (kind === 'delayed') {
        delayedIds.push(String(k));
        addedAt.set(String(k), at);
      }
    };
    let restartsDone = 0;
    let restartMs = 0;
    for (let r = 0; r < c.restarts; r++) {
      const per = (x: number) => Math.ceil(x / c.restarts);
      for (let i = 0; i < per(c.immediate); i++) await add('now');
      for (let i = 0; i < per(c.retried); i++) await add('retried');
      for (let i = 0; i < per(c.delayed); i++) await add('delayed');
      // The retried jobs' first attempts fail: their retries wait in the delay tiers, with the delayed jobs.
      const retriedNow = ids.length;
      await waitUntil(async () => (await direct.hlen(attemptsKey)) >= retriedNow - per(c.delayed), 15_000, 50);
      ctx.log(`broker-restart: ${c.wipe ? 'purge (control)' : 'restart'} ${r + 1}/${c.restarts}`);
      const t0 = Date.now();
      if (c.wipe) await node.ctl('eval', '[rabbit_amqqueue:purge(Q) || Q <- rabbit_amqqueue:list()].');
      else await node.restart();
      restartMs = Math.max(restartMs, Date.now() - t0);
      restartsDone++;
    }
    await waitUntil(
      async () => (await fx.count()) >= ids.length,
      c.wipe ? 3_000 : c.settleMs, // wiped: nothing more can come
      200,
    );
    await delay(500); // a redelivery after the last effect would land about now
    const effects = await fx.read();
    const first = await direct.hgetall(firstRun);
    let early = 0;
    let late = 0;
    for (const id of delayedIds) {
      const ran = Number(first[id] ?? 0);
      if (!ran) continue;
      const waited = ran - addedAt.get(id)!;
      if (waited < c.delayMs - 5) early++;
      if (waited > c.delayMs + 5_000) late++;
    }
    const t = tally(ids, effects);
    const lostByKind = { now: 0, delayed: 0, retried: 0 };
    for (let k = 0; k < n; k++) {
      if (effects.has(String(k))) continue;
      lostByKind[kindOf(k, c)]++;
    }
    checks.check(t.lost === 0, `${t.lost} jobs lost across the broker restart`);
    checks.check(early === 0, `${early} delayed jobs ran before their delay`);
    checks.check(restartsDone === c.restarts, `${restartsDone} restarts of ${c.restarts}`);
    return {
      scenario: 'broker-restart',
      mode: ctx.mode,
      produced: t.produced,
      processed: t.processed,
      lost: t.lost,
      duplicated: t.duplicated,
      durationMs: Date.now() - started,
      details: {
        restarts: restartsDone,
        restartMaxMs: restartMs,
        late,
        early,
        delayed: delayedIds.length,
        lostNow: lostByKind.now,
        lostDelayed: lostByKind.delayed,
        lostRetried: lostByKind.retried,
      },
      failures: checks.failures,
    };
  } finally {
    await Promise.allSettled(workers.map((w) => w.close()));
    await Promise.allSettled(queues.map((q) => q.close()));
    for (const r of clients) r.disconnect();
    if (!given) await node.stop();
    await deleteByPrefix(direct, prefix);
    direct.disconnect();
  }
}

/** Which kind job k was, from the add order of each restart's batch (now, retried, delayed). */
function kindOf(k: number, c: BrokerRestartCounts): JobData['kind'] {
  const per = (x: number) => Math.ceil(x / c.restarts);
  const batch = per(c.immediate) + per(c.retried) + per(c.delayed);
  const i = k % batch;
  if (i < per(c.immediate)) return 'now';
  if (i < per(c.immediate) + per(c.retried)) return 'retried';
  return 'delayed';
}

export const scenario: Scenario = {
  name: 'broker-restart',
  description:
    'queue on a private RabbitMQ node restarted with delayed and retried jobs in flight → 0 lost, no delayed job early',
  run: (ctx) => {
    const c = brokerRestartCounts[ctx.mode];
    const s = ctx.scale ?? 1;
    return runBrokerRestart(ctx, {
      ...c,
      immediate: Math.max(10, Math.round(c.immediate * s)),
      delayed: Math.max(10, Math.round(c.delayed * s)),
      retried: Math.max(5, Math.round(c.retried * s)),
    });
  },
};
