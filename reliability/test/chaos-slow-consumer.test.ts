/**
 * slow-consumer (short): a group with a stuck consumer (its handler never returns, its process alive and
 * renewing leases) next to a healthy one, and a group whose consumer went away, under a small retention. With
 * `handlerTimeoutMs` the stuck entries are reclaimed (retried, or dead-lettered after maxDeliveries): 0 lost,
 * stream and DLQ within their caps. The negative control has no handler timeout: the stuck entries are lost and
 * pin the retention floor, so the stream grows past its cap.
 */
import { expect, it } from 'vitest';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { runSlowConsumer, slowConsumerCounts } from '../src/scenarios/slow-consumer';

const ctx = { mode: 'short' as const, redisUrl: defaultRedisUrl(), log: () => {}, random: seededRandom(19) };

it('a stuck consumer: its entries reclaimed, 0 lost, stream and DLQ within their caps', async () => {
  const ledger = await runSlowConsumer(ctx, slowConsumerCounts.short);
  expect(ledger.failures).toEqual([]);
  expect(ledger.lost).toBe(0);
  expect(Number(ledger.details.stuckRuns)).toBeGreaterThan(0);
}, 90_000);

it('negative control: no handler timeout → stuck entries lost and the stream past its cap', async () => {
  const ledger = await runSlowConsumer(ctx, { ...slowConsumerCounts.short, events: 600, handlerTimeoutMs: 0 });
  expect(ledger.lost).toBeGreaterThan(0);
  expect(ledger.failures.some((f) => f.startsWith('stream grew to'))).toBe(true);
}, 90_000);
