/**
 * cluster-failover: a PRIVATE Redis Cluster, 3 masters + 3 replicas on spare ports (the shared 7001-7003 is
 * never touched), under a queue (producer + 2 workers) and an event bus (producer + 2 consumers) whose keys
 * live on one shard, and two saga orchestrators (sagas spread over the shards; every one must complete,
 * resumed by a sweeper when the outage broke its run). Mid-run that shard's replica takes over gracefully (`CLUSTER FAILOVER`: it catches up
 * first), then the new master is SIGKILLed and its replica is promoted by the cluster (`cluster-node-timeout`
 * 1 s). Every add / publish the producer saw acknowledged is in the ledger with its time.
 *
 * Holds when nothing acknowledged before the graceful failover or after the promotion is lost, and the
 * workers and consumers go on. Acknowledged writes that were on the killed master but not yet replicated are
 * lost by design of asynchronous replication: counted (`lostInKillWindow`) and measured (`lossWindowMs`, the
 * oldest lost acknowledgement before the kill), never failed. Negative control: the shard's replica is killed
 * before its master (replication off) while slow handlers leave a backlog: the ledger must count it lost.
 * (A SIGSTOPped replica is no control: it reads what the master sent from its socket buffer on SIGCONT.)
 */
import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createEventBus, type EventBus } from '@ballast/event-bus';
import { createQueue, createWorker, type Queue, type Worker } from '@ballast/queue';
import { createOrchestrator, defineSaga, RedisSagaStore, type SagaOrchestrator } from '@ballast/saga';
import { z } from 'zod';
import { Effects, quiet } from '../effects';
import { Checks, type Ledger } from '../ledger';
import { type PrivateCluster, startPrivateCluster } from '../redis-cluster';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';

export interface ClusterFailoverCounts {
  /** Items (each: one job and one event) per second, for `seconds`. */
  rate: number;
  seconds: number;
  settleMs: number;
  /**
   * Negative control: replication off for the shard — its replica is killed first, then its master (and the
   * handlers are slow, so a backlog is on the master when it dies).
   */
  noReplica?: boolean;
}

export const clusterFailoverCounts: Record<'short' | 'long', ClusterFailoverCounts> = {
  short: { rate: 100, seconds: 4, settleMs: 30_000 },
  long: { rate: 300, seconds: 60, settleMs: 120_000 },
};

const silent = createLogger({ level: 'silent' });
const GROUP = 'chaos';

interface Acked {
  id: string;
  at: number;
}

export async function runClusterFailover(
  ctx: ScenarioContext,
  c: ClusterFailoverCounts,
  given?: PrivateCluster,
): Promise<Ledger> {
  const started = Date.now();
  const checks = new Checks();
  const id = randomUUID().slice(0, 8);
  const prefix = `chaos:cf:${id}`;
  const direct = createRedis(ctx.redisUrl) as Redis;
  const busFx = new Effects(direct, `${prefix}:fx:bus`);
  const jobFx = new Effects(direct, `${prefix}:fx:queue`);
  const cluster = given ?? (await startPrivateCluster());
  const clients: Redis[] = [];
  const buses: EventBus<Record<string, z.ZodType>>[] = [];
  const queues: Queue<{ n: number }>[] = [];
  const workers: Worker<{ n: number }>[] = [];
  const orchestrators: SagaOrchestrator[] = [];
  const sagaFx = new Effects(direct, `${prefix}:fx:saga`);
  const client = () => {
    const r = quiet(createRedis({ nodes: cluster.seeds }) as unknown as Redis);
    clients.push(r);
    return r;
  };
  try {
    const queueName = `cf-${id}`;
    const shard = await cluster.ownerOf(`{${queueName}}`);
    // An event type whose stream lives on the same shard as the queue: one kill hits both.
    let type = '';
    for (let i = 0; i < 10_000 && !type; i++) {
      if ((await cluster.ownerOf(`{chaos.item.${i}}`)).master === shard.master) type = `chaos.item.${i}`;
    }
    const events = { [type]: z.object({ n: z.number().int().nonnegative() }) };
    const makeBus = () => {
      const bus = createEventBus({ redis: client(), prefix, source: 'chaos', events, logger: silent });
      buses.push(bus as unknown as EventBus<Record<string, z.ZodType>>);
      return bus;
    };
    const makeQueue = () => {
      const q = createQueue<{ n: number }>(queueName, { backend: 'redis', redis: client(), prefix, logger: silent });
      queues.push(q);
      return q;
    };
    const producerBus = makeBus();
    await producerBus.transport.ensureGroup(type, GROUP);
    const producerQueue = makeQueue();
    for (let i = 0; i < 2; i++) {
      await makeBus().subscribe(
        type,
        async (e) => {
          await busFx.record(String((e.data as { n: number }).n));
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
      workers.push(
        createWorker<{ n: number }>(
          makeQueue(),
          async (job) => {
            if (c.noReplica) await delay(400); // slower than the producer: a backlog
            await jobFx.record(String(job.data.n));
          },
          {
            concurrency: 8,
            lockMs: 2_000,
            stalledIntervalMs: 500,
            blockMs: 200,
            drainTimeoutMs: 1_000,
            onError: () => {},
          },
        ),
      );
    }

    // Sagas: two orchestrators (lease 1 s, sweep 200 ms) on the cluster; three short steps each, one effect per
    // step in the ledger (idempotency key). Sagas whose run fails in the outage are resumed by a sweeper.
    const saga = defineSaga<{ n: number }>('cf', {
      steps: [1, 2, 3].map((k) => ({
        name: `s${k}`,
        run: async (_c: { n: number }, info: { idempotencyKey: string }) => {
          await delay(20 + Math.random() * 60);
          await sagaFx.record(info.idempotencyKey);
        },
      })),
      recovery: 'forward',
    });
    for (let o = 0; o < 2; o++) {
      orchestrators.push(
        createOrchestrator({
          store: new RedisSagaStore({ redis: client(), prefix }),
          id: `o${o}`,
          sagas: [saga],
          leaseMs: 1_000,
          sweepIntervalMs: 200,
          sweepBatch: 20,
          stepTimeoutMs: 5_000,
          stepMaxAttempts: 3,
          stepBackoff: { initialMs: 100, factor: 2, maxMs: 500, jitter: 'none' },
          logger: silent,
        }),
      );
    }
    const sagaIds: string[] = [];
    const sagaRuns: Promise<unknown>[] = [];

    const jobs: Acked[] = [];
    const evs: Acked[] = [];
    let refused = 0;
    let failoverAt = 0;
    let killAt = 0;
    let promotedAt = 0;
    const chaos = (async () => {
      await delay((c.seconds * 1_000) / 4);
      failoverAt = Date.now();
      // The control needs no graceful failover (and its shard may have no replica left from an earlier run).
      if (!c.noReplica) {
        await cluster.failover(shard.replica!);
        ctx.log(`cluster-failover: graceful failover to ${shard.replica}`);
      }
      await delay((c.seconds * 1_000) / 4);
      const now = await cluster.ownerOf(`{${queueName}}`);
      if (c.noReplica) for (const r of await cluster.replicasOf(now.master)) await cluster.killMaster(r, 0);
      killAt = Date.now();
      await cluster.killMaster(now.master);
      promotedAt = Date.now();
      ctx.log(`cluster-failover: master ${now.master} killed; replica promoted after ${promotedAt - killAt} ms`);
    })();
    let n = 0;
    const end = Date.now() + c.seconds * 1_000;
    const perTick = Math.max(1, Math.round(c.rate / 20));
    // Until the planned end, and at least 1 s past the promotion (writes after it must be seen to work).
    for (let tick = 0; tick < 100_000 && (Date.now() < end || !promotedAt || Date.now() < promotedAt + 1_000); tick++) {
      const t0 = Date.now();
      const batch = Array.from({ length: perTick }, () => n++);
      if (tick % 4 === 0) {
        const sagaId = `g${tick}`;
        sagaIds.push(sagaId);
        sagaRuns.push(orchestrators[tick % 2]!.run(saga, { n: tick }, { sagaId }).catch(() => {}));
      }
      await Promise.all(
        batch.map(async (k) => {
          await producerQueue.add('cf.job', { n: k }, { jobId: `j${k}` }).then(
            () => jobs.push({ id: String(k), at: Date.now() }),
            () => void refused++,
          );
          await producerBus.publish(type, { n: k }).then(
            () => evs.push({ id: String(k), at: Date.now() }),
            () => void refused++,
          );
        }),
      );
      const left = 50 - (Date.now() - t0);
      if (left > 0) await delay(left);
    }
    await chaos;
    await waitUntil(
      async () => {
        const [b, q] = await Promise.all([busFx.read(), jobFx.read()]);
        const g = await sagaFx.read();
        return (
          evs.every((e) => b.has(e.id)) &&
          jobs.every((j) => q.has(j.id)) &&
          (c.noReplica || sagaIds.every((id) => g.has(`${id}:s3`)))
        );
      },
      c.noReplica ? 1_500 : c.settleMs,
      200,
    );
    const [b, q, g] = await Promise.all([busFx.read(), jobFx.read(), sagaFx.read()]);
    await Promise.race([Promise.all(sagaRuns), delay(1_000)]);
    // A saga that never reached its last step's effect is stuck (its state lost, or never resumed).
    const sagasStuck = sagaIds.filter((id) => !g.has(`${id}:s3`)).length;
    let sagaStepReruns = 0;
    for (const v of g.values()) sagaStepReruns += v - 1;
    const lostOf = (acked: Acked[], fx: Map<string, number>) => acked.filter((a) => !fx.has(a.id));
    const lost = [...lostOf(evs, b), ...lostOf(jobs, q)];
    // Lost writes acknowledged just before the kill (within 1 s) or before the promotion are asynchronous
    // replication's loss; any other loss is a failure. (The control has no replica: all since the failover.)
    const windowStart = c.noReplica ? failoverAt : killAt - 1_000;
    const inWindow = lost.filter((l) => l.at >= windowStart && l.at <= promotedAt);
    const outside = lost.length - inWindow.length;
    const lossWindowMs = inWindow.length ? killAt - Math.min(...inWindow.map((l) => l.at)) : 0;
    let duplicated = 0;
    for (const fx of [b, q]) for (const v of fx.values()) duplicated += v - 1;
    checks.check(outside === 0, `${outside} acknowledged writes lost outside the kill window`);
    const afterPromotion = [...evs, ...jobs].filter((a) => a.at > promotedAt).length;
    checks.check(afterPromotion > 0, 'nothing was acknowledged after the promotion: the run proved nothing after it');
    checks.check(failoverAt > 0 && killAt > failoverAt, 'the failover or the kill did not happen');
    if (!c.noReplica) checks.check(sagasStuck === 0, `${sagasStuck} sagas never completed`);
    return {
      scenario: 'cluster-failover',
      mode: ctx.mode,
      produced: evs.length + jobs.length + sagaIds.length,
      processed: [...b.keys()].length + [...q.keys()].length + sagaIds.length - sagasStuck,
      lost: lost.length,
      duplicated: duplicated + sagaStepReruns,
      durationMs: Date.now() - started,
      details: {
        late: 0,
        lostInKillWindow: inWindow.length,
        lostOutsideWindow: outside,
        lossWindowMs,
        promotionMs: promotedAt - killAt,
        refusedWrites: refused,
        ackedAfterPromotion: afterPromotion,
        sagas: sagaIds.length,
        sagasStuck,
        sagaStepReruns,
        busLost: lostOf(evs, b).length,
        queueLost: lostOf(jobs, q).length,
      },
      failures: checks.failures,
    };
  } finally {
    await Promise.allSettled(orchestrators.map((o) => o.close()));
    await Promise.allSettled(workers.map((w) => w.close()));
    await Promise.allSettled(queues.map((x) => x.close()));
    await Promise.allSettled(buses.map((x) => x.close()));
    for (const r of clients) r.disconnect();
    if (!given) await cluster.stop();
    await deleteByPrefix(direct, prefix);
    direct.disconnect();
  }
}

export const scenario: Scenario = {
  name: 'cluster-failover',
  description:
    'private Redis Cluster (3 masters + 3 replicas): CLUSTER FAILOVER then a killed master under queue and bus → 0 lost outside the async-replication window, which is measured',
  run: (ctx) => {
    const c = clusterFailoverCounts[ctx.mode];
    return runClusterFailover(ctx, { ...c, seconds: Math.max(4, Math.round(c.seconds * (ctx.scale ?? 1))) });
  },
};
