/**
 * broker-restart (short): @ballast/queue on a private RabbitMQ node (never the shared 5672 broker) restarted
 * while delayed jobs sit in the delay tiers and retried jobs wait out their backoff: 0 lost, none early. The
 * negative control purges the node's queues instead (a broker that lost its messages): the ledger must count
 * the delayed and retried jobs lost. One node serves both tests (a boot costs seconds on a loaded machine).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RabbitNode, startRabbitNode } from '../src/rabbitmq-node';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { brokerRestartCounts, runBrokerRestart } from '../src/scenarios/broker-restart';

const ctx = { mode: 'short' as const, redisUrl: defaultRedisUrl(), log: () => {}, random: seededRandom(17) };
let node: RabbitNode;
beforeAll(async () => {
  node = await startRabbitNode();
}, 120_000);
afterAll(async () => {
  await node?.stop();
}, 60_000);

it('broker restarted with delayed and retried jobs in flight: 0 lost, no delayed job early', async () => {
  const ledger = await runBrokerRestart(ctx, brokerRestartCounts.short, node);
  expect(ledger.failures).toEqual([]);
  expect(ledger.lost).toBe(0);
  expect(ledger.details.early).toBe(0);
  expect(ledger.details.restarts).toBe(1);
}, 150_000);

it('negative control: the broker loses its messages (queues purged) → delayed and retried jobs counted lost', async () => {
  const ledger = await runBrokerRestart(
    ctx,
    { ...brokerRestartCounts.short, immediate: 5, delayed: 10, retried: 5, wipe: true },
    node,
  );
  expect(Number(ledger.details.lostDelayed)).toBeGreaterThan(0);
  expect(ledger.failures.some((f) => f.includes('lost across the broker restart'))).toBe(true);
}, 150_000);
