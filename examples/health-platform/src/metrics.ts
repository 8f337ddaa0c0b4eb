/**
 * Prometheus exposition for /metrics through the OTel SDK — the example's choice, not the packages'
 * (they only use @opentelemetry/api). Installed before any breaker is made, so their observable gauges and
 * counters (`circuit_breaker_state`, `circuit_breaker_requests_total`, `api_gateway_retry_count`, saga and
 * queue metrics) are all collected.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

export interface Metrics {
  handler(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

export function installMetrics(): Metrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  metrics.setGlobalMeterProvider(provider);
  return {
    handler: (req, res) => exporter.getMetricsRequestHandler(req, res),
    close: async () => {
      await provider.shutdown();
      metrics.disable();
    },
  };
}
