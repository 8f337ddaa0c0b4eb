import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll } from 'vitest';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/**
 * `@ballast/testkit/otel` (needs the optional peers `@opentelemetry/sdk-metrics` and vitest).
 * Registers an in-memory OTel SDK meter provider for the test file (before any breaker is created) and
 * returns `collect()`, which reads every metric by name.
 */
export function useInMemoryMetrics() {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  beforeAll(() => {
    metrics.setGlobalMeterProvider(provider);
  });
  afterAll(async () => {
    metrics.disable();
    await provider.shutdown();
  });
  return async function collect() {
    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    return (name: string) => all.find((m) => m.descriptor.name === name);
  };
}
