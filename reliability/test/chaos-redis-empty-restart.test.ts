/**
 * redis-empty-restart (short): a private Redis without persistence restarted mid-run comes back empty. What
 * was published after the restart must all take effect (groups recreated, workers go on), the config reader
 * keeps its last-known-good and refuses the reset, discovery registrations come back. The negative control
 * switches group recreation off and lets the reader accept the reset: the ledger must count the loss.
 */
import { expect, it } from 'vitest';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { emptyRestartCounts, runEmptyRestart } from '../src/scenarios/redis-empty-restart';

const ctx = { mode: 'short' as const, redisUrl: defaultRedisUrl(), log: () => {}, random: seededRandom(5) };

it('redis restarted without data: 0 lost after the restart, last-known-good kept, instances re-registered', async () => {
  const ledger = await runEmptyRestart(ctx, emptyRestartCounts.short);
  expect(ledger.failures).toEqual([]);
  expect(ledger.details.lostAfterRestart).toBe(0);
  expect(ledger.details.configGaps).toBe(0);
  expect(ledger.details.configResetsRefused).toBeGreaterThanOrEqual(1);
  expect(Number(ledger.details.reregisterMaxMs)).toBeGreaterThanOrEqual(0);
}, 90_000);

it('negative control: no group recreation, reset accepted → events after the restart lost, last-known-good gone', async () => {
  const ledger = await runEmptyRestart(ctx, { ...emptyRestartCounts.short, events: 60, control: true });
  expect(Number(ledger.details.busLostAfter)).toBeGreaterThan(0);
  expect(Number(ledger.details.configGaps)).toBeGreaterThan(0);
  expect(ledger.failures.some((f) => f.includes('published after the restart lost'))).toBe(true);
}, 90_000);
