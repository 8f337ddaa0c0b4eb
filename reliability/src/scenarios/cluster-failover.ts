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
 * (A SIGSTOPped replica alone is no control: it reads what the master sent from its socket buffer on SIGCONT —
 * the `lagged` option floods the shard past those buffers first, so the promoted replica misses a real tail.)
 *
 * Lock: clients contend for a resource on the same shard, fenced writes and a ledger on the main Redis. Holds
 * when no stale or reused-token fenced write is accepted and the promoted master's fencing counter is not below
 * a token already used; overlaps after the failover are counted. Lagged, the plain clients' counter goes back
 * (counted, the hazard), and clients with the lock's `durability` option must lose nothing.
 */
import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, hashSlot, type Redis } from '@ballast/core';
import { createEventBus, type EventBus } from '@ballast/event-bus';
import {
  createLockManager,
  fencedSet,
  isLockDurabilityError,
  isStaleFencingTokenError,
  type Lease,
  type LockManager,
  lockKeys,
} from '@ballast/lock';
import { createQueue, createWorker, type Queue, type Worker } from '@ballast/queue';
import { createOrchestrator, defineSaga, RedisSagaStore, type SagaOrchestrator } from '@ballast/saga';
import { z } from 'zod';
import { Effects, quiet } from '../effects';
import { Checks, type Ledger } from '../ledger';
import { type PrivateCluster, startPrivateCluster } from '../redis-cluster';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';
import { auditedScriptClient, lockScenarioKeys } from '../shared/lock';
import { verifyFencing } from './lock';

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
  /** Lock clients contending for a resource on the shard that fails over (plain @ballast/lock, default: fair). */
  lockClients: number;
  /**
   * Lock clients with the lock's `durability: { replicas: 1, timeoutMs: 200 }`: every grant WAITed on, released
   * and refused (`LockDurabilityError`) when the replica did not acknowledge it. Their own resource, same shard.
   */
  durableLockClients?: number;
  /**
   * A replication lag before the kill: the replica is SIGSTOPped and the shard flooded (`floodMb` MB: more than
   * the kernel's socket buffers hold, so the rest waits in the master's memory), work goes on `lagMs`, then the
   * master is killed and the replica resumed: promoted without that tail. No graceful failover first. The killed
   * node is then started again and rejoins as the new master's replica (WAIT needs one).
   */
  lagged?: { floodMb: number; lagMs: number };
}

export const clusterFailoverCounts: Record<'short' | 'long', ClusterFailoverCounts> = {
  short: { rate: 100, seconds: 4, settleMs: 30_000, lockClients: 3 },
  long: { rate: 300, seconds: 60, settleMs: 120_000, lockClients: 6 },
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
  const lockStop = new AbortController();
  const lockManagers: LockManager[] = [];
  const sagaFx = new Effects(direct, `${prefix}:fx:saga`);
  const client = () => {
    const r = quiet(createRedis({ nodes: cluster.seeds }) as unknown as Redis);
    clients.push(r);
    return r;
  };
  try {
    // A shard that has a replica (a cluster shared by several runs may have shards whose replica was promoted).
    let queueName = `cf-${id}`;
    let shard = await cluster.ownerOf(`{${queueName}}`);
    for (let i = 0; i < 200 && !c.noReplica && shard.replica === undefined; i++) {
      queueName = `cf-${id}-${i}`;
      shard = await cluster.ownerOf(`{${queueName}}`);
    }
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
    const sagaStores: RedisSagaStore[] = [];
    for (let o = 0; o < 2; o++) {
      sagaStores.push(new RedisSagaStore({ redis: client(), prefix }));
      orchestrators.push(
        createOrchestrator({
          store: sagaStores[o]!,
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
    /** Sagas whose `run` rejected: the start may have been refused (CLUSTERDOWN in the outage) — the caller was told. */
    const sagaRejected = new Set<string>();
    const sagaRuns: Promise<unknown>[] = [];

    // Lock: clients contend for a resource on the same shard (its hold and its slot's fencing counter die with
    // the master). The ledger is on the main Redis: grants (token, client, time), holders inside (an INCR > 1
    // is an overlap) and the fenced writes — `fencedSet` on the main Redis through the audited client, so the
    // server's order is known. A holder writes whatever its lease's signal says (as one paused past its lease
    // would): fencing is the only guard under test. Sections are short (10–40 ms), but one entered in the
    // 300 ms before the kill lasts past the promotion until the next holder is in: a holder across the outage,
    // whose hold expired (or was lost) meanwhile — the overlap a failover makes, and its stale write.
    const lockFxOf = (resource: string) => lockScenarioKeys(`${prefix}:lk:${resource}:`);
    const grantsKey = (fx: { stats: string }) => `${fx.stats}:grants`;
    const overlapsKey = (fx: { stats: string }) => `${fx.stats}:overlaps`;
    // (Each resource in a slot of its own: the fencing counter is per slot, one per resource here.)
    const lockSlots = new Set<number>();
    const onShard = async (base: string) => {
      for (let i = 0; i < 10_000; i++) {
        const name = `${base}-${i}`;
        if (lockSlots.has(hashSlot(`{${name}}`))) continue;
        if ((await cluster.ownerOf(`{${name}}`)).master !== shard.master) continue;
        lockSlots.add(hashSlot(`{${name}}`));
        return name;
      }
      throw new Error(`no lock resource on shard ${shard.master}`);
    };
    const lockTally = { acquireErrors: 0, unreplicatedGrants: 0, durableSections: 0 };
    let holdThrough = false;
    let promoted = 0; // promotedAt, for the lock loops (declared below)
    // Per resource: when the first section after the promotion was entered (the holder across the outage waits
    // for it, so the overlap and its stale write happen whatever the machine's load).
    const firstAfterPromotion = new Map<string, number>();
    // Per resource: when a holder that entered after the promotion finished its fenced write. The holder across
    // the outage writes only after it (not a fixed time after the next entry: on a loaded machine the next
    // holder's write can come later, and the stale one would then land first and be accepted, not fenced off).
    const writtenAfterPromotion = new Map<string, number>();
    const lockLoop = async (name: string, resource: string, durable: boolean) => {
      const r = client();
      const locks = createLockManager({
        redis: r,
        prefix,
        ttlMs: 1_000,
        maxRetryDelayMs: 100,
        commandTimeoutMs: 2_000,
        logger: silent,
        ...(durable ? { durability: { replicas: 1, timeoutMs: 200 } } : {}),
      });
      lockManagers.push(locks);
      const lockFx = lockFxOf(resource);
      const audited = auditedScriptClient(direct, lockFx, name);
      for (let k = 0; k < 100_000 && !lockStop.signal.aborted; k++) {
        let lease: Lease;
        try {
          lease = await locks.acquire(resource, { signal: lockStop.signal, waitMs: 3_000 });
        } catch (error) {
          if (lockStop.signal.aborted) break;
          // Not on the replica: released by the manager, never used.
          if (isLockDurabilityError(error)) lockTally.unreplicatedGrants++;
          else lockTally.acquireErrors++; // the outage: no master for the slot, or a timed-out wait
          await delay(50);
          continue;
        }
        try {
          if (durable) lockTally.durableSections++;
          const token = lease.fencingToken;
          const enteredAfterPromotion = promoted !== 0 && !holdThrough;
          if (enteredAfterPromotion && !firstAfterPromotion.has(resource))
            firstAfterPromotion.set(resource, Date.now());
          await direct.rpush(grantsKey(lockFx), `${token}:${name}:${Date.now()}`);
          const inside = await direct.incr(lockFx.inside);
          await direct.hincrby(lockFx.stats, 'sections', 1);
          if (inside > 1) await direct.rpush(overlapsKey(lockFx), String(Date.now()));
          if (holdThrough) {
            // Until 500 ms past the promotion and the next holder's fenced write (at most 8 s past the promotion).
            const held = () => {
              if (!promoted || Date.now() < promoted + 500) return true;
              return !writtenAfterPromotion.has(resource) && Date.now() < promoted + 8_000;
            };
            for (let w = 0; w < 600 && held(); w++) await delay(50);
          } else await delay(10 + Math.random() * 30);
          try {
            await fencedSet(audited, lockFx.resource, `${name}:${token}`, token);
          } catch (error) {
            if (!isStaleFencingTokenError(error)) throw error;
          }
          if (enteredAfterPromotion && !writtenAfterPromotion.has(resource))
            writtenAfterPromotion.set(resource, Date.now());
          await direct.decr(lockFx.inside);
        } finally {
          await lease.release().catch(() => {});
        }
      }
    };
    const lockRuns: Promise<unknown>[] = [];
    const lockErrors: unknown[] = [];
    const plainLock = c.lockClients > 0 ? await onShard(`cf-lock-${id}`) : undefined;
    const durableLock = (c.durableLockClients ?? 0) > 0 ? await onShard(`cf-dlock-${id}`) : undefined;
    for (let i = 0; plainLock && i < c.lockClients; i++)
      lockRuns.push(lockLoop(`l${i}`, plainLock, false).catch((e) => lockErrors.push(e)));
    for (let i = 0; durableLock && i < c.durableLockClients!; i++)
      lockRuns.push(lockLoop(`d${i}`, durableLock, true).catch((e) => lockErrors.push(e)));

    const jobs: Acked[] = [];
    const evs: Acked[] = [];
    let refused = 0;
    let failoverAt = 0;
    let killAt = 0;
    let promotedAt = 0;
    let pausedAt = 0;
    let rejoinedAt = 0;
    // Each lock resource's fencing counter as the promoted master has it, read at once after the promotion.
    const countersAtPromotion = new Map<string, number>();
    const chaos = (async () => {
      await delay((c.seconds * 1_000) / 4);
      failoverAt = Date.now();
      // The control needs no graceful failover (and its shard may have no replica left from an earlier run).
      if (!c.noReplica && !c.lagged) {
        await cluster.failover(shard.replica!);
        ctx.log(`cluster-failover: graceful failover to ${shard.replica}`);
      }
      await delay((c.seconds * 1_000) / 4);
      const now = await cluster.ownerOf(`{${queueName}}`);
      if (c.noReplica) for (const r of await cluster.replicasOf(now.master)) await cluster.killMaster(r, 0);
      if (c.lagged && now.replica !== undefined) {
        pausedAt = Date.now();
        cluster.pause(now.replica);
        const m = quiet(createRedis(`redis://127.0.0.1:${now.master}`) as Redis);
        const mb = 'x'.repeat(1 << 20);
        for (let i = 0; i < c.lagged.floodMb; i++) await m.set(`{${queueName}}:flood:${i}`, mb);
        m.disconnect();
        ctx.log(`cluster-failover: replica ${now.replica} paused, ${c.lagged.floodMb} MB flooded`);
        await delay(c.lagged.lagMs);
      }
      holdThrough = true;
      await delay(300);
      killAt = Date.now();
      await cluster.killMaster(now.master);
      promotedAt = Date.now();
      promoted = promotedAt;
      holdThrough = false;
      const reader = client();
      for (const resource of [plainLock, durableLock]) {
        if (!resource) continue;
        const key = lockKeys(prefix, resource, { perSlot: true }).counter;
        // (The client may still route to the dead master for a moment: retried, bounded. The control's shard
        // has no master any more: not read.)
        for (let i = 0; i < 20 && !c.noReplica; i++) {
          const value = await Promise.race([
            reader.get(key).then(
              (v) => Number(v ?? 0),
              () => undefined,
            ),
            delay(1_000).then(() => undefined),
          ]);
          if (value !== undefined) {
            countersAtPromotion.set(resource, value);
            break;
          }
          await delay(100);
        }
      }
      ctx.log(`cluster-failover: master ${now.master} killed; replica promoted after ${promotedAt - killAt} ms`);
      if (c.lagged) {
        await cluster.rejoin(now.master);
        rejoinedAt = Date.now();
        ctx.log(`cluster-failover: ${now.master} rejoined as a replica after ${rejoinedAt - promotedAt} ms`);
      }
    })();
    let n = 0;
    const end = Date.now() + c.seconds * 1_000;
    const perTick = Math.max(1, Math.round(c.rate / 20));
    // Until the planned end, and at least 1 s past the promotion (writes after it must be seen to work).
    // (Lagged: 2.5 s, so the lock's counter, gone back, reaches the tokens it had issued before.)
    const after = c.lagged ? 2_500 : 1_000;
    // (Lagged: and 1.5 s past the killed node's rejoining, when WAIT can be satisfied again.)
    const going = () =>
      Date.now() < end ||
      !promotedAt ||
      Date.now() < promotedAt + after ||
      (c.lagged !== undefined && (!rejoinedAt || Date.now() < rejoinedAt + 1_500)) ||
      // …and until each lock has been granted after the promotion and that holder has written (at most 10 s past
      // it; not in the control, whose shard never comes back).
      (!c.noReplica &&
        Date.now() < promotedAt + 10_000 &&
        [plainLock, durableLock].some((r) => r !== undefined && !writtenAfterPromotion.has(r)));
    for (let tick = 0; tick < 100_000 && going(); tick++) {
      const t0 = Date.now();
      const batch = Array.from({ length: perTick }, () => n++);
      if (tick % 4 === 0) {
        const sagaId = `g${tick}`;
        sagaIds.push(sagaId);
        sagaRuns.push(
          orchestrators[tick % 2]!.run(saga, { n: tick }, { sagaId }).catch(() => void sagaRejected.add(sagaId)),
        );
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
    lockStop.abort();
    await Promise.race([Promise.all(lockRuns), delay(10_000)]);
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
      // (The control and the lagged run lose acknowledged writes by design: no point waiting the full settle.)
      c.noReplica ? 1_500 : c.lagged ? 5_000 : c.settleMs,
      200,
    );
    const [b, q, g] = await Promise.all([busFx.read(), jobFx.read(), sagaFx.read()]);
    await Promise.race([Promise.all(sagaRuns), delay(1_000)]);
    // A saga that never reached its last step's effect is stuck (its state lost, or never resumed).
    // A saga whose start the cluster refused (its `run` rejected, no record in the store) never existed: the
    // caller was told, as a refused add or publish is — counted apart, not stuck.
    let sagaStartsRefused = 0;
    let sagasStuck = 0;
    for (const id of sagaIds.filter((i) => !g.has(`${i}:s3`))) {
      if (sagaRejected.has(id) && (await sagaStores[0]!.get(id).catch(() => 'unread')) === undefined)
        sagaStartsRefused++;
      else sagasStuck++;
    }
    let sagaStepReruns = 0;
    for (const v of g.values()) sagaStepReruns += v - 1;
    const lostOf = (acked: Acked[], fx: Map<string, number>) => acked.filter((a) => !fx.has(a.id));
    const lost = [...lostOf(evs, b), ...lostOf(jobs, q)];
    // Lost writes acknowledged just before the kill (within 1 s) or before the promotion are asynchronous
    // replication's loss; any other loss is a failure. (The control has no replica: all since the failover.)
    const windowStart = c.noReplica ? failoverAt : c.lagged ? pausedAt : killAt - 1_000;
    const inWindow = lost.filter((l) => l.at >= windowStart && l.at <= promotedAt);
    const outside = lost.length - inWindow.length;
    // (≥ 0: an acknowledgement taken just before the kill can be stamped just after it on a loaded event loop.)
    const lossWindowMs = inWindow.length ? Math.max(0, killAt - Math.min(...inWindow.map((l) => l.at))) : 0;
    let duplicated = 0;
    for (const fx of [b, q]) for (const v of fx.values()) duplicated += v - 1;
    checks.check(outside === 0, `${outside} acknowledged writes lost outside the kill window`);
    const afterPromotion = [...evs, ...jobs].filter((a) => a.at > promotedAt).length;
    checks.check(afterPromotion > 0, 'nothing was acknowledged after the promotion: the run proved nothing after it');
    checks.check(failoverAt > 0 && killAt > failoverAt, 'the failover or the kill did not happen');
    // (Lagged: a saga whose state was in the lost tail is replication's loss too: reported, not failed.)
    if (!c.noReplica && !c.lagged) checks.check(sagasStuck === 0, `${sagasStuck} sagas never completed`);

    // Lock ledger, per resource. A token granted again after the promotion (≤ the newest granted before it) is a
    // fencing counter gone back: the promoted replica never had the last increments.
    const lockLedger = async (resource: string | undefined) => {
      if (!resource) return undefined;
      const fx = lockFxOf(resource);
      const [history, results, stats, grantRows, overlapRows] = await Promise.all([
        direct.lrange(fx.history, 0, -1),
        direct.hgetall(fx.results),
        direct.hgetall(fx.stats),
        direct.lrange(grantsKey(fx), 0, -1),
        direct.lrange(overlapsKey(fx), 0, -1),
      ]);
      const v = verifyFencing(history, results);
      const grants = grantRows.map((row) => {
        const [token, , at] = row.split(':');
        return { token: Number(token), at: Number(at) };
      });
      let newestBefore = 0;
      for (const g of grants) if (g.at <= promotedAt) newestBefore = Math.max(newestBefore, g.token);
      let usedBeforeKill = 0;
      for (const g of grants) if (g.at < killAt) usedBeforeKill = Math.max(usedBeforeKill, g.token);
      // > 0: the promoted master's counter is below tokens already used — it will issue them again.
      const counterBack = usedBeforeKill - (countersAtPromotion.get(resource) ?? Number.POSITIVE_INFINITY);
      const overlapsAfter = overlapRows.filter((at) => Number(at) >= killAt).length;
      return {
        v,
        sections: Number(stats.sections ?? 0),
        grantsAfterPromotion: grants.filter((g) => g.at > promotedAt).length,
        reissued: grants.filter((g) => g.at > promotedAt && g.token <= newestBefore).length,
        counterBack: Math.max(0, counterBack),
        overlaps: overlapRows.length,
        overlapsAfter,
      };
    };
    const plain = await lockLedger(plainLock);
    const durableL = await lockLedger(durableLock);
    checks.check(lockErrors.length === 0, `lock clients failed: ${String(lockErrors[0])}`);
    for (const [what, l] of [
      ['plain', plain],
      ['durable', durableL],
    ] as const) {
      if (!l) continue;
      checks.check(l.sections > 0, `no ${what} lock section was entered`);
      checks.check(l.v.unknown === 0, `${l.v.unknown} ${what} fenced writes without an outcome`);
      if (!c.noReplica)
        checks.check(
          l.grantsAfterPromotion > 0,
          `no ${what} lock granted after the promotion: nothing proved after it`,
        );
      // Without WAIT a lagged promotion CAN reissue tokens (the hazard, counted); otherwise none may be.
      if (what === 'durable' || !c.lagged) {
        checks.check(l.counterBack === 0, `${what} fencing counter went back ${l.counterBack} below used tokens`);
        checks.check(l.reissued === 0, `${l.reissued} ${what} fencing tokens issued again after the promotion`);
        const stale = l.v.staleAccepted + l.v.reusedAccepted;
        checks.check(stale === 0, `${stale} stale ${what} fenced writes accepted`);
        checks.check(l.v.wrongRejections === 0, `${l.v.wrongRejections} fresh ${what} fenced writes rejected`);
      }
    }
    const lockWrites = (plain?.v.writes ?? 0) + (durableL?.v.writes ?? 0);
    const lockAccepted = (plain?.v.accepted ?? 0) + (durableL?.v.accepted ?? 0);
    const staleOf = (l: typeof plain) => (l ? l.v.staleAccepted + l.v.reusedAccepted : 0);
    const lockStale = staleOf(plain) + staleOf(durableL);
    return {
      scenario: 'cluster-failover',
      mode: ctx.mode,
      // (A saga whose start was refused was never produced, as a refused add or publish is not.)
      produced: evs.length + jobs.length + sagaIds.length - sagaStartsRefused + lockWrites,
      processed:
        [...b.keys()].length + [...q.keys()].length + sagaIds.length - sagaStartsRefused - sagasStuck + lockAccepted,
      lost: lost.length + lockStale,
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
        sagaStartsRefused,
        sagaStepReruns,
        busLost: lostOf(evs, b).length,
        queueLost: lostOf(jobs, q).length,
        lockSections: plain?.sections ?? 0,
        lockFencedWrites: plain?.v.writes ?? 0,
        lockStaleRejected: plain?.v.staleRejected ?? 0,
        lockStaleAccepted: staleOf(plain),
        lockFreshRejected: plain?.v.wrongRejections ?? 0,
        overlapsAfterFailover: plain?.overlapsAfter ?? 0,
        lockOverlaps: plain?.overlaps ?? 0,
        lockTokensReissued: plain?.reissued ?? 0,
        lockCounterBack: plain?.counterBack ?? 0,
        lockGrantsAfterPromotion: plain?.grantsAfterPromotion ?? 0,
        lockAcquireErrors: lockTally.acquireErrors,
        ...(durableL
          ? {
              durableLockSections: durableL.sections,
              durableLockStaleAccepted: staleOf(durableL),
              durableLockTokensReissued: durableL.reissued,
              durableLockCounterBack: durableL.counterBack,
              durableLockGrantsAfterPromotion: durableL.grantsAfterPromotion,
              durableLockOverlapsAfterFailover: durableL.overlapsAfter,
              unreplicatedGrants: lockTally.unreplicatedGrants,
            }
          : {}),
        ...(c.lagged ? { lagMs: killAt - pausedAt } : {}),
      },
      failures: checks.failures,
    };
  } finally {
    lockStop.abort();
    await Promise.allSettled(lockManagers.map((m) => m.close()));
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
