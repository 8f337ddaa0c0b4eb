/**
 * The queue chaos scenario in short mode, once per backend: a thousand-odd jobs with mixed priorities,
 * worker processes SIGKILLed about every second, and the backend itself disrupted mid-run (the AOF Redis
 * SIGKILLed and restarted; every RabbitMQ connection of the run's vhost closed). Proves at-least-once
 * processing across crashes: 0 lost, 0 stuck, jobs of killed workers recovered as stalled.
 */
import { expect, it } from 'vitest';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { queueCounts, runQueue } from '../src/scenarios/queue';

const ctx = (seed: number) => ({
  mode: 'short' as const,
  redisUrl: defaultRedisUrl(),
  log: () => {},
  random: seededRandom(seed),
});

for (const backend of ['redis', 'rabbitmq'] as const) {
  it(`queue/${backend} (short): workers SIGKILLed ~1/s, backend outage mid-run → 0 lost, 0 stuck`, async () => {
    const ledger = await runQueue(ctx(12), backend, queueCounts.short);
    expect(ledger.failures).toEqual([]);
    expect(ledger.lost).toBe(0);
    expect(ledger.details.stuck).toBe(0);
    // Every job reached a final state: took effect, or was parked in the DLQ (stalled past maxStalledCount).
    expect(ledger.processed + Number(ledger.details.deadByDesign)).toBe(ledger.produced);
    expect(ledger.details.kills).toBeGreaterThanOrEqual(3);
    expect(ledger.details.outages).toBe(1);
    // Killed workers held jobs: they came back through stalled recovery (Redis) or redelivery (RabbitMQ).
    expect(Number(ledger.details.stalledRecovered)).toBeGreaterThan(0);
  }, 150_000);
}

it('negative control: workers that complete every 50th job without its effect → the ledger counts exactly those lost', async () => {
  const ledger = await runQueue(ctx(3), 'redis', { ...queueCounts.short, jobs: 400, addRate: 200, dropEvery: 50 });
  // n = 0, 50, …, 350 complete without an effect: 8 jobs.
  expect(ledger.lost).toBe(8);
  const lostLine = ledger.failures.find((f) => f.startsWith('8 jobs lost (no effect, not in the DLQ)'));
  // The failure says where the missing jobs are: here, completed without their effect.
  expect(lostLine).toMatch(/without effect: \S+ completed attempts=0 stalled=0/);
  expect(ledger.details.stuck).toBe(0);
}, 150_000);
