/**
 * The bus chaos scenario in short mode: a few thousand events, consumer processes SIGKILLed about every
 * second. Proves at-least-once delivery across crashes (0 lost, pending drained) and that poison events
 * reach the DLQ after exactly maxDeliveries (or one more, when a kill interrupted the last delivery).
 */
import { expect, it } from 'vitest';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { scenario } from '../src/scenarios/bus';

it('bus (short): consumers SIGKILLed ~1/s → 0 lost, poison in the DLQ after maxDeliveries', async () => {
  const ledger = await scenario.run({
    mode: 'short',
    redisUrl: defaultRedisUrl(),
    log: () => {},
    random: seededRandom(7),
  });
  expect(ledger.failures).toEqual([]);
  expect(ledger.lost).toBe(0);
  expect(ledger.processed).toBe(ledger.produced);
  expect(ledger.details.kills).toBeGreaterThanOrEqual(3);
  expect(Number(ledger.details.poisonDlqAtMax) + Number(ledger.details.poisonDlqAfterKill)).toBe(ledger.details.poison);
  expect(ledger.details.pendingAtEnd).toBe(0);
}, 180_000);
