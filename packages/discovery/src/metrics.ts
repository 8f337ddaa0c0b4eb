import { getMeter, metricName } from '@ballast/core';
import { metrics as otelMetrics } from '@opentelemetry/api';

/** Something whose instance counts are observed at collection time (a Discovery). */
export interface InstanceSource {
  instanceCounts(): Iterable<{ service: string; passing: number; total: number }>;
}

let cached: { provider: unknown; instruments: ReturnType<typeof createInstruments> } | undefined;

/** One set of `ballast_discovery_*` instruments per registered MeterProvider, shared by the process. */
export function discoveryInstruments() {
  const provider = otelMetrics.getMeterProvider();
  if (cached?.provider !== provider) cached = { provider, instruments: createInstruments() };
  return cached.instruments;
}

function createInstruments() {
  const meter = getMeter('@ballast/discovery');
  const counter = (what: string, description: string) =>
    meter.createCounter(metricName('discovery', what), { description });
  const sources = new Set<InstanceSource>();
  const instances = meter.createObservableGauge(metricName('discovery', 'instances'), {
    description: 'Instances per service seen by the watch (status=passing|all)',
  });
  instances.addCallback((result) => {
    for (const s of sources) {
      for (const c of s.instanceCounts()) {
        result.observe(c.passing, { service: c.service, status: 'passing' });
        result.observe(c.total, { service: c.service, status: 'all' });
      }
    }
  });
  return {
    observe(source: InstanceSource): () => void {
      sources.add(source);
      return () => void sources.delete(source);
    },
    cacheHits: counter('cache_hits_total', 'Lookups served from the fresh cache'),
    cacheMisses: counter('cache_misses_total', 'Lookups that went past the fresh cache'),
    fallbacks: counter('fallbacks_total', 'Lookups answered by a fallback source (stale, static, env)'),
    unavailable: counter('unavailable_total', 'Lookups no source could answer'),
    watchRequests: counter('watch_requests_total', 'Registry queries made by watches'),
    watchErrors: counter('watch_errors_total', 'Failed watch rounds'),
    reregistrations: counter('reregistrations_total', 'Registrations restored after the backend forgot them'),
    ejections: counter('outlier_ejections_total', 'Instances ejected from picking by outlier detection'),
  };
}
