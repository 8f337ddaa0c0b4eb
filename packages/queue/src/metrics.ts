import { getMeter, getTracer, metricName, type Tracer } from '@ballast/core';
import { metrics as otelMetrics } from '@opentelemetry/api';
import type { Counts } from './backend';

/** A queue whose depth is observed at collection time. */
export interface WatchedQueue {
  name: string;
  counts(): Promise<Counts>;
}

let cached: { provider: unknown; instruments: ReturnType<typeof createInstruments> } | undefined;

/**
 * `ballast_queue_*` instruments, one set per registered MeterProvider: depth by state and priority
 * (observable, read with `counts()` at collection time), job duration histogram, and counters of completed,
 * failed attempts, retries, timeouts, stalled and dead-lettered jobs.
 */
export function queueInstruments() {
  const provider = otelMetrics.getMeterProvider();
  if (cached?.provider !== provider) cached = { provider, instruments: createInstruments() };
  return cached.instruments;
}

function createInstruments() {
  const meter = getMeter('@ballast/queue');
  const counter = (what: string, description: string) =>
    meter.createCounter(metricName('queue', what), { description });
  const watched = new Set<WatchedQueue>();
  const depth = meter.createObservableGauge(metricName('queue', 'jobs'), {
    description: 'Jobs per state (and waiting jobs per priority)',
  });
  meter.addBatchObservableCallback(
    async (result) => {
      for (const q of watched) {
        try {
          const c = await q.counts();
          for (const state of ['delayed', 'active', 'completed', 'failed', 'dead'] as const) {
            result.observe(depth, c[state], { queue: q.name, state });
          }
          // Flow parents waiting for their children (see `addFlow`).
          if (c.waitingChildren !== undefined)
            result.observe(depth, c.waitingChildren, { queue: q.name, state: 'waiting-children' });
          for (const [priority, n] of Object.entries(c.byPriority)) {
            result.observe(depth, n, { queue: q.name, state: 'waiting', priority });
          }
        } catch {
          // A queue that is down or closed has nothing to report this round.
        }
      }
    },
    [depth],
  );
  return {
    watch(q: WatchedQueue): () => void {
      watched.add(q);
      return () => void watched.delete(q);
    },
    tracer: getTracer('@ballast/queue') as Tracer,
    completed: counter('completed_total', 'Jobs completed'),
    failed: counter('failed_total', 'Failed attempts'),
    retries: counter('retries_total', 'Failed attempts scheduled for another attempt'),
    timeouts: counter('timeouts_total', 'Attempts that ran into their timeoutMs'),
    stalled: counter('stalled_total', 'Jobs recovered after their lease lapsed'),
    deadLettered: counter('dead_lettered_total', 'Jobs moved to the dead-letter queue'),
    duration: meter.createHistogram(metricName('queue', 'job_duration_ms'), {
      description: 'Duration of one attempt of a job handler',
      unit: 'ms',
    }),
  };
}

export type QueueInstruments = ReturnType<typeof createInstruments>;
