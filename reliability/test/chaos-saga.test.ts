/**
 * The saga chaos scenario in short mode: ~160 four-step sagas, orchestrator processes SIGKILLed about every
 * second (so at random steps) and restarted. Proves crash recovery by the sweeper: every saga ends completed,
 * compensated or compensation_failed (DLQ + alert) as designed, none stuck, no compensation of a step that never
 * completed; steps re-run after a kill are counted as duplicates.
 */
import { expect, it } from 'vitest';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { scenario } from '../src/scenarios/saga';
import { expectedStatus, planOf } from '../src/shared/saga';

it('saga (short): orchestrators SIGKILLed at random steps → every saga completed, compensated or DLQ+alert, 0 stuck', async () => {
  const ledger = await scenario.run({
    mode: 'short',
    redisUrl: defaultRedisUrl(),
    log: () => {},
    random: seededRandom(11),
  });
  expect(ledger.failures).toEqual([]);
  expect(ledger.lost).toBe(0);
  expect(ledger.details.stuck).toBe(0);
  expect(ledger.details.compensationWithoutStep).toBe(0);
  expect(ledger.details.kills).toBeGreaterThanOrEqual(3);
  const plans = Array.from({ length: ledger.produced }, (_, n) => expectedStatus(planOf(n)));
  expect(ledger.details.completed).toBe(plans.filter((s) => s === 'completed').length);
  expect(ledger.details.compensated).toBe(plans.filter((s) => s === 'compensated').length);
  expect(ledger.details.dlq).toBe(plans.filter((s) => s === 'compensation_failed').length);
  expect(ledger.details.alerts).toBe(ledger.details.dlq);
  expect(Number(ledger.details.dlq)).toBeGreaterThan(0);
}, 150_000);
