import { describe, expect, it } from 'vitest';
import { runSuite } from '../src/harness';
import { loadSuites } from '../src/suites/index';
import { createQueueSuite, queue as queueSuite } from '../src/suites/queue';

/** A smoke test against the local Redis: every case × impl runs and reports. No speed assertions. */
describe('queue suite', () => {
  it('is registered', async () => {
    expect((await loadSuites()).queue).toBe(queueSuite);
  });

  it('returns a row per case and impl with positive ops/s', async () => {
    const suite = createQueueSuite({ jobs: 20, concurrency: 5, schedulers: 20 });
    const result = await runSuite(suite, { timeMs: 20, iterations: 2, warmupMs: 0 });
    expect(result.suite).toBe('queue');
    const expected = [
      'add-bulk/ballast-redis',
      'cron-tick/ballast-redis',
      'add-bulk/bullmq',
      'process/ballast-redis',
      'process/bullmq',
      'process-with-events/ballast-redis',
      'add/ballast-redis-replicated',
      'add/ballast-redis-replicated+wait1',
      'add-bulk/ballast-redis-replicated',
      'add-bulk/ballast-redis-replicated+wait1',
      'process/ballast-rabbitmq',
      'process/raw-amqplib',
      'add-process/ballast-rabbitmq',
      'add-process/raw-amqplib',
      'publish/ballast-rabbitmq',
      'publish/raw-amqplib',
    ];
    expect(result.rows.map((r) => `${r.case}/${r.impl}`).sort()).toEqual(expected.sort());
    for (const row of result.rows) {
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(Number.isFinite(row.opsPerSec)).toBe(true);
      expect(row.p99Us).toBeGreaterThanOrEqual(row.p50Us);
    }
  }, 60_000);
});
