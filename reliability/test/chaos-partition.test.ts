/**
 * partition (short): lock clients, bus consumers and queue workers behind TCP fault proxies that freeze, drop
 * and delay their links. The old lock holder aborts before the server can grant the key to anyone (margin > 0
 * every round); bus and queue lose nothing. The negative control counts the holder's validity on a clock at
 * half speed (validity effectively off): the margin must go negative and the scenario fail.
 */
import { expect, it } from 'vitest';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { partitionCounts, runPartition } from '../src/scenarios/partition';

const ctx = { mode: 'short' as const, redisUrl: defaultRedisUrl(), log: () => {}, random: seededRandom(11) };

it('partitions (freeze, drop, delay): lock margin > 0 every round, 0 events and jobs lost', async () => {
  const ledger = await runPartition(ctx, partitionCounts.short);
  expect(ledger.failures).toEqual([]);
  expect(ledger.details.lockRounds).toBe(3);
  expect(Number(ledger.details.lockMarginMinMs)).toBeGreaterThan(0);
  expect(ledger.details.busLost).toBe(0);
  expect(ledger.details.queueLost).toBe(0);
}, 90_000);

it('negative control: a holder whose validity runs on a half-speed clock → the server grants before it aborts', async () => {
  const ledger = await runPartition(ctx, {
    ...partitionCounts.short,
    slowHolderClock: true,
    parts: ['lock'],
    lockFaults: ['freeze'],
  });
  expect(Number(ledger.details.lockEarlyGrants)).toBeGreaterThan(0);
  expect(ledger.failures.some((f) => f.includes('before the old holder aborted'))).toBe(true);
}, 90_000);
