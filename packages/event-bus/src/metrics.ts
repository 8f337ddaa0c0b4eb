import { getMeter, metricName } from '@ballast/core';
import { metrics as otelMetrics } from '@opentelemetry/api';
import type { Transport } from './transport';

/** A consumer group whose lag and pending count are observed at collection time. */
export interface WatchedGroup {
  type: string;
  group: string;
  transport: Transport;
}

/**
 * `ballast_event_bus_*` instruments: counters per `{type, group}` for published, delivered, acked, failed,
 * redelivered and dead-lettered entries; a handler duration histogram. Consumer lag is an observable gauge
 * registered by each subscription (XINFO GROUPS at collection time).
 */
let cached: { provider: unknown; instruments: ReturnType<typeof createInstruments> } | undefined;

/** One set of instruments per registered MeterProvider, shared by every bus of the process. */
export function busInstruments() {
  const provider = otelMetrics.getMeterProvider();
  if (cached?.provider !== provider) cached = { provider, instruments: createInstruments() };
  return cached.instruments;
}

function createInstruments() {
  const meter = getMeter('@ballast/event-bus');
  const counter = (what: string, description: string) =>
    meter.createCounter(metricName('event_bus', what), { description });
  const watched = new Set<WatchedGroup>();
  const lag = meter.createObservableGauge(metricName('event_bus', 'consumer_lag'), {
    description: 'Entries not yet delivered to the group (XINFO GROUPS lag)',
  });
  const pending = meter.createObservableGauge(metricName('event_bus', 'pending'), {
    description: 'Entries delivered to the group and not yet acknowledged',
  });
  meter.addBatchObservableCallback(
    async (result) => {
      for (const w of watched) {
        try {
          const info = (await w.transport.groups(w.type)).find((g) => g.name === w.group);
          if (!info) continue;
          const attrs = { type: w.type, group: w.group };
          result.observe(lag, info.lag, attrs);
          result.observe(pending, info.pending, attrs);
        } catch {
          // A transport that is down or closed has nothing to report this round.
        }
      }
    },
    [lag, pending],
  );
  return {
    /** Observe this group's lag and pending count; returns a function that stops it. */
    watch(group: WatchedGroup): () => void {
      watched.add(group);
      return () => void watched.delete(group);
    },
    meter,
    published: counter('published_total', 'Events published'),
    delivered: counter('delivered_total', 'Entries handed to a handler'),
    acked: counter('acked_total', 'Entries acknowledged after success'),
    failed: counter('failed_total', 'Handler failures'),
    redelivered: counter('redelivered_total', 'Entries delivered again (retry or takeover)'),
    deadLettered: counter('dead_lettered_total', 'Entries moved to the DLQ'),
    groupRecreated: counter(
      'group_recreated_total',
      'Consumer groups (or their streams) found missing and created again (a Redis restart without data, a failover, XGROUP DESTROY)',
    ),
    trimmed: counter('trimmed_total', 'Entries removed from type streams by retention (group-aware trim)'),
    deadGroupTrims: counter(
      'dead_group_trims_total',
      'Trims that removed entries a dead consumer group (no consumer active for deadGroupAfterMs) had not consumed',
    ),
    dlqTrimmed: counter('dlq_trimmed_total', 'Dead letters removed by the DLQ caps (dlqMaxLen, dlqMaxAgeMs)'),
    duration: meter.createHistogram(metricName('event_bus', 'handler_duration_ms'), {
      description: 'Handler duration',
      unit: 'ms',
    }),
  };
}

export type BusInstruments = ReturnType<typeof createInstruments>;
