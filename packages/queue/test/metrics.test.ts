import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { expect, it } from 'vitest';
import { createQueue, createWorker } from '../src/index';

const collect = useInMemoryMetrics();

type Point = { attributes: Record<string, unknown>; value: unknown };
const points = (m: unknown): Point[] => ((m as { dataPoints?: Point[] } | undefined)?.dataPoints ?? []) as Point[];
const sum = (m: unknown, attrs: Record<string, unknown> = {}) =>
  points(m)
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((a, p) => a + (typeof p.value === 'number' ? p.value : ((p.value as { count: number }).count ?? 0)), 0);

it('counts completed, retries, timeouts and dead-lettered jobs, records durations, observes depth', async () => {
  const q = createQueue('metrics-q', { defaultJobOptions: { backoff: 0 } });
  await q.add('ok', 1, { priority: 'high' });
  await q.add('flaky', 2, { attempts: 2 });
  await q.add('slow', 3, { attempts: 1, timeoutMs: 20 });
  await q.add('later', 4, { delayMs: 60_000, priority: 'low' });
  await q.add('waiting', 5, { priority: 'low' });

  let read = await collect();
  const depth = read('ballast_queue_jobs');
  expect(sum(depth, { queue: 'metrics-q', state: 'waiting', priority: 'high' })).toBe(1);
  expect(sum(depth, { queue: 'metrics-q', state: 'waiting', priority: 'medium' })).toBe(2);
  expect(sum(depth, { queue: 'metrics-q', state: 'delayed' })).toBe(1);

  const dead = new Promise<void>((r) => q.onDead(() => r()));
  const done = new Promise<void>((r) => {
    let n = 0;
    q.onCompleted(() => {
      if (++n === 3) r();
    });
  });
  let flaky = 0;
  createWorker(q, (job) => {
    if (job.name === 'flaky' && flaky++ === 0) throw new Error('once');
    if (job.name === 'slow') return new Promise(() => {});
    return 'ok';
  });
  await Promise.all([dead, done]);

  read = await collect();
  expect(sum(read('ballast_queue_completed_total'), { queue: 'metrics-q' })).toBe(3);
  expect(sum(read('ballast_queue_retries_total'), { name: 'flaky' })).toBe(1);
  expect(sum(read('ballast_queue_timeouts_total'), { name: 'slow' })).toBe(1);
  expect(sum(read('ballast_queue_dead_lettered_total'), { name: 'slow' })).toBe(1);
  expect(sum(read('ballast_queue_failed_total'), { queue: 'metrics-q' })).toBe(2);
  expect(sum(read('ballast_queue_job_duration_ms'), { queue: 'metrics-q', status: 'completed' })).toBe(3);
  expect(sum(read('ballast_queue_job_duration_ms'), { status: 'timeout' })).toBe(1);
  expect(sum(read('ballast_queue_jobs'), { queue: 'metrics-q', state: 'dead' })).toBe(1);
  await q.close();
});
