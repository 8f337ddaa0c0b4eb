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
}, 120_000);

it('negative control: no replica (killed first) and a backlog on the master → the ledger counts the backlog lost', async () => {
  const ledger = await runClusterFailover(
    ctx,
    { ...clusterFailoverCounts.short, seconds: 2, noReplica: true },
    cluster,
  );
  expect(ledger.lost).toBeGreaterThan(0);
  expect(Number(ledger.details.lossWindowMs)).toBeGreaterThan(0);
}, 120_000);
