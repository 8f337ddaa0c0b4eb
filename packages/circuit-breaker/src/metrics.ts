import { type Attributes, getMeter, metricName } from '@ballast/core';
import { createNoopMeter, metrics as otelMetrics } from '@opentelemetry/api';
import { OUTCOME_NAMES, type OutcomeName } from './window';

/** What the observable instruments read: a breaker, or an adopted opossum breaker. */
export interface MetricsSource {
  readonly name: string;
  /** The `service` attribute (the breaker's `group`, by default its name). */
  readonly group: string;
  readonly state: 'closed' | 'open' | 'half-open';
  readonly totals: Readonly<Record<OutcomeName, number>>;
  /** Timed-out calls whose function still runs (breakers only). */
  readonly zombieCalls?: number;
}

/**
 * OTel instruments. Names as issue 4 gives them (seed 003 §6.3 suggests the first two):
 * - `circuit_breaker_state{name,service}`: 0 closed, 1 half-open, 2 open (observable gauge). This is issue 4's
 *   encoding, ordered by severity; seed 003 §6.3 wrote 0 CLOSED, 1 OPEN, 2 HALF_OPEN — a dashboard built
 *   from the seed must swap 1 and 2;
 * - `circuit_breaker_requests_total{name,service,status}`: status ∈ success, failure, timeout, rejected, shed,
 *   cancelled (observable counter — read from the breaker's totals at collection, nothing on the call path);
 * - `ballast_circuit_breaker_call_duration_ms{name,status}`: histogram, one record per completed call;
 * - `ballast_breaker_zombie_calls{name,service}`: calls that timed out (aggressive) and still run (gauge).
 * Instruments are bound to the MeterProvider registered when the breaker is created: register the SDK first.
 */
export interface BreakerMetrics {
  duration(ms: number, status: 'success' | 'failure' | 'timeout'): void;
  /**
   * False when the histogram is the OTel API's no-op (no SDK was registered when the breaker was made): its
   * records go nowhere, so the breaker need not time its calls for it.
   */
  readonly recordsDurations: boolean;
  dispose(): void;
}

const STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

interface Instruments {
  provider: unknown;
  live: Set<WeakRef<MetricsSource>>;
  histogram: ReturnType<ReturnType<typeof getMeter>['createHistogram']>;
}

let current: Instruments | undefined;

/** The API's no-op histogram is one shared instance: what every meter of the no-op provider returns. */
const NOOP_HISTOGRAM = createNoopMeter().createHistogram('noop');

function instruments(): Instruments {
  const provider = otelMetrics.getMeterProvider();
  if (current?.provider === provider) return current;
  const meter = getMeter('@ballast/circuit-breaker');
  const live = new Set<WeakRef<MetricsSource>>();
  const each = (fn: (b: MetricsSource) => void) => {
    for (const ref of live) {
      const b = ref.deref();
      if (b) fn(b);
      else live.delete(ref);
    }
  };
  meter
    .createObservableGauge('circuit_breaker_state', {
      description: 'Circuit breaker state: 0 closed, 1 half-open, 2 open',
    })
    .addCallback((result) =>
      each((b) => result.observe(STATE_VALUE[b.state], { name: b.name, service: b.group } satisfies Attributes)),
    );
  meter
    .createObservableCounter('circuit_breaker_requests_total', { description: 'Calls through a breaker by outcome' })
    .addCallback((result) =>
      each((b) => {
        for (const status of OUTCOME_NAMES)
          result.observe(b.totals[status], { name: b.name, service: b.group, status });
      }),
    );
  meter
    .createObservableGauge('ballast_breaker_zombie_calls', {
      description: 'Calls that timed out (aggressive timeout) whose function has not settled yet',
    })
    .addCallback((result) =>
      each((b) => {
        if (b.zombieCalls !== undefined) result.observe(b.zombieCalls, { name: b.name, service: b.group });
      }),
    );
  const histogram = meter.createHistogram(metricName('circuit_breaker', 'call_duration_ms'), {
    description: 'Duration of calls through a breaker',
    unit: 'ms',
  });
  current = { provider, live, histogram };
  return current;
}

export function breakerMetrics(breaker: MetricsSource): BreakerMetrics {
  const inst = instruments();
  const ref = new WeakRef(breaker);
  inst.live.add(ref);
  const attrs = {
    success: { name: breaker.name, status: 'success' },
    failure: { name: breaker.name, status: 'failure' },
    timeout: { name: breaker.name, status: 'timeout' },
  };
  return {
    duration: (ms, status) => inst.histogram.record(ms, attrs[status]),
    recordsDurations: inst.histogram !== NOOP_HISTOGRAM,
    dispose: () => void inst.live.delete(ref),
  };
}
