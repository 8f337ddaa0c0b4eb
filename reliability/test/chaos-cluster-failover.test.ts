/**
 * cluster-failover (short): a private 3+3 Redis Cluster under a queue and an event bus; a graceful
 * CLUSTER FAILOVER, then the new master SIGKILLed and its replica promoted. Nothing acknowledged outside the
 * asynchronous-replication window is lost, the window is measured, work goes on after the promotion. The
 * negative control kills the shard's replica first (replication off) with slow handlers: the backlog is lost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type PrivateCluster, startPrivateCluster } from '../src/redis-cluster';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { clusterFailoverCounts, runClusterFailover } from '../src/scenarios/cluster-failover';

const ctx = { mode: 'short' as const, redisUrl: defaultRedisUrl(), log: () => {}, random: seededRandom(23) };
// One private cluster for both (a start costs seconds): the control runs last, on whatever shard it lands on.
let cluster: PrivateCluster;
beforeAll(async () => {
  cluster = await startPrivateCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 30_000);

it('failover + killed master: 0 lost outside the replication window, which is measured; work goes on', async () => {
  const ledger = await runClusterFailover(ctx, clusterFailoverCounts.short, cluster);
  expect(ledger.failures).toEqual([]);
  expect(ledger.details.lostOutsideWindow).toBe(0);
  expect(Number(ledger.details.ackedAfterPromotion)).toBeGreaterThan(0);
  // Lock: sections before and after the promotion, the holder across the outage overlapped by the next one
  // (its hold expired meanwhile) and its write stopped by fencing; the counter never went back.
  expect(Number(ledger.details.lockSections)).toBeGreaterThan(0);
  expect(Number(ledger.details.lockGrantsAfterPromotion)).toBeGreaterThan(0);
  expect(ledger.details.lockStaleAccepted).toBe(0);
  expect(ledger.details.lockCounterBack).toBe(0);
  // …and the ledger does see what a failover does to a lock: the holder across the outage overlapped by the
  // promoted master's next grant, and its write — one an unfenced store would take — rejected.
  expect(Number(ledger.details.overlapsAfterFailover)).toBeGreaterThan(0);
  expect(Number(ledger.details.lockStaleRejected)).toBeGreaterThan(0);
}, 120_000);

it('lagged replica (paused, shard flooded) then the kill: the plain lock counter goes back (tokens reissued, counted); lock clients with the lock durability option (WAIT 1) reissue none and accept no stale write', async () => {
  const ledger = await runClusterFailover(
    ctx,
    {
      ...clusterFailoverCounts.short,
      seconds: 3,
      lockClients: 2,
      durableLockClients: 2,
      lagged: { floodMb: 24, lagMs: 500 },
    },
    cluster,
  );
  expect(ledger.failures).toEqual([]);
  // The hazard is real and the ledger sees it: the promoted master's counter is below tokens already used (it
  // issues them again: lockTokensReissued, and a reissued newest token is accepted by fencedSet: lockStaleAccepted).
  expect(Number(ledger.details.lockCounterBack)).toBeGreaterThan(0);
  // WAIT closes it: no token issued twice, no stale or reused-token write accepted, and it did refuse grants.
  expect(ledger.details.durableLockCounterBack).toBe(0);
  expect(ledger.details.durableLockTokensReissued).toBe(0);
  expect(Number(ledger.details.durableLockGrantsAfterPromotion)).toBeGreaterThan(0);
  expect(ledger.details.durableLockStaleAccepted).toBe(0);
  expect(Number(ledger.details.unreplicatedGrants)).toBeGreaterThan(0);
  expect(Number(ledger.details.durableLockSections)).toBeGreaterThan(0);
}, 120_000);

it('negative control: no replica (killed first) and a backlog on the master → the ledger counts the backlog lost', async () => {
  const ledger = await runClusterFailover(
    ctx,
    // (No lock clients: the shard never comes back, so they would only wait out their bounds.)
    { ...clusterFailoverCounts.short, seconds: 2, noReplica: true, lockClients: 0 },
    cluster,
  );
  expect(ledger.lost).toBeGreaterThan(0);
  expect(Number(ledger.details.lossWindowMs)).toBeGreaterThan(0);
}, 120_000);
