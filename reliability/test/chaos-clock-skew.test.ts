/**
 * clock-skew (short): queue workers and producers, saga orchestrators and lock clients on clocks 20 s behind,
 * on time and 20 s ahead. No job re-run or run before its delay, no saga touched by two orchestrators, no lock
 * granted before the previous hold's server-side expiry. The negative control runs the lock rounds with a
 * naive lease judged on each client's own clock: the ahead client takes the key while it is still held.
 */
import { expect, it } from 'vitest';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { runClockSkew, skewCounts } from '../src/scenarios/clock-skew';

const ctx = { mode: 'short' as const, redisUrl: defaultRedisUrl(), log: () => {}, random: seededRandom(13) };

it('clocks ±20 s off: no job re-run or early, no saga double-claimed, no lock granted early', async () => {
  const ledger = await runClockSkew(ctx, skewCounts.short);
  expect(ledger.failures).toEqual([]);
  expect(ledger.lost).toBe(0);
  expect(ledger.duplicated).toBe(0);
  expect(ledger.details.delayedEarly).toBe(0);
  expect(ledger.details.sagaDoubleClaimed).toBe(0);
  expect(ledger.details.lockEarlyGrants).toBe(0);
}, 90_000);

it('negative control: a lease judged on the client clock → the client 20 s ahead is granted early', async () => {
  const ledger = await runClockSkew(ctx, { ...skewCounts.short, naiveLease: true, parts: ['lock'], lockRounds: 1 });
  expect(Number(ledger.details.lockEarlyGrants)).toBeGreaterThan(0);
  expect(ledger.failures.some((f) => f.includes('granted before the previous hold expired'))).toBe(true);
}, 90_000);
