/**
 * The bus chaos scenario in short mode: a few thousand events, consumer processes SIGKILLed about every
 * second. Proves at-least-once delivery across crashes (0 lost, pending drained) and that poison events
 * reach the DLQ after exactly maxDeliveries (or one more, when a kill interrupted the last delivery).
 */
import { expect, it } from 'vitest';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { busCounts, runBus, scenario } from '../src/scenarios/bus';

it('bus (short): consumers SIGKILLed ~1/s → 0 lost, poison in the DLQ after maxDeliveries', async () => {
  const ledger = await scenario.run({
    mode: 'short',
    redisUrl: defaultRedisUrl(),
    log: () => {},
    random: seededRandom(7),
  });
  expect(ledger.failures).toEqual([]);
  expect(ledger.lost).toBe(0);
  // Every event reached a final state: took effect, or sits in the DLQ (poison; or, rarely, a good event
  // whose consumer was killed on each of its maxDeliveries deliveries — parked for replay, not lost).
  expect(ledger.processed + Number(ledger.details.goodInDlq)).toBe(ledger.produced);
  expect(ledger.details.kills).toBeGreaterThanOrEqual(3);
  expect(Number(ledger.details.poisonDlqAtMax) + Number(ledger.details.poisonDlqAfterKill)).toBe(ledger.details.poison);
  expect(ledger.details.pendingAtEnd).toBe(0);
}, 180_000);

it('negative control: consumers that ack every 50th event without its effect → the ledger counts exactly those lost', async () => {
  const ledger = await runBus(
    { mode: 'short', redisUrl: defaultRedisUrl(), log: () => {}, random: seededRandom(3) },
    { ...busCounts.short, events: 600, poisonEvery: 300, publishRate: 300, dropEvery: 50 },
  );
  // n = 0, 50, …, 550 are dropped; none of them is poison (299, 599).
  expect(ledger.lost).toBe(12);
  expect(ledger.failures).toContain('12 events lost (no effect, not in the DLQ)');
}, 180_000);
