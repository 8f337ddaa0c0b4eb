import { childLogger, type Logger } from '@ballast/core';
import { type BreakerMetrics, breakerMetrics } from './metrics';
import type { BreakerStats, StatsSource } from './registry';
import type { OutcomeName } from './window';

/** The parts of an opossum `CircuitBreaker` the adapter reads (structural: no dependency on opossum). */
export interface OpossumLike {
  name: string;
  opened: boolean;
  halfOpen: boolean;
  stats: {
    fires: number;
    successes: number;
    failures: number;
    timeouts: number;
    rejects: number;
    semaphoreRejections?: number;
    latencyMean: number;
    percentiles: Record<string, number>;
  };
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

export interface FromOpossumOptions {
  /** Name in stats and metrics; default the opossum breaker's `name`. */
  name?: string;
  logger?: Logger;
  metrics?: boolean;
}

/**
 * Adopts an existing opossum breaker: its state and counts appear in `registry.stats()` and in the
 * `circuit_breaker_*` metrics, and its transitions log seed 003's 🔴/🟡/🟢 lines — so a service on seed 003's
 * code migrates breaker by breaker without a rewrite. Add the result to a registry: `registry.add(fromOpossum(b))`.
 */
export function fromOpossum(breaker: OpossumLike, options: FromOpossumOptions = {}): StatsSource {
  const name = options.name ?? breaker.name;
  const log = childLogger(options.logger, { component: 'circuit-breaker', breaker: name, engine: 'opossum' });
  const totals: Record<OutcomeName, number> = {
    success: 0,
    failure: 0,
    timeout: 0,
    rejected: 0,
    shed: 0,
    cancelled: 0,
  };
  const source = {
    name,
    get state() {
      return breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';
    },
    totals,
  } as const;
  // opossum emits 'failure' for timeouts as well as 'timeout': count a timeout once, as a timeout.
  let pendingTimeouts = 0;
  const listeners: Record<string, (...args: unknown[]) => void> = {
    success: () => void totals.success++,
    timeout: () => {
      totals.timeout++;
      pendingTimeouts++;
    },
    failure: () => {
      if (pendingTimeouts > 0) pendingTimeouts--;
      else totals.failure++;
    },
    reject: () => void totals.rejected++,
    semaphoreLocked: () => void totals.shed++,
    open: () => log.error(`🔴 Circuit breaker OPENED for ${name}`),
    halfOpen: () => log.warn(`🟡 Circuit breaker HALF-OPEN for ${name}`),
    close: () => log.info(`🟢 Circuit breaker CLOSED for ${name}`),
    fallback: () => log.warn(`⚠️ Circuit breaker FALLBACK triggered for ${name}`),
  };
  for (const [event, fn] of Object.entries(listeners)) breaker.on(event, fn);
  const metrics: BreakerMetrics | undefined = options.metrics === false ? undefined : breakerMetrics(source);
  return {
    name,
    stats(): BreakerStats {
      const s = breaker.stats;
      const p = (q: string) => s.percentiles[q] ?? 0;
      return {
        state: breaker.opened ? 'OPEN' : breaker.halfOpen ? 'HALF_OPEN' : 'CLOSED',
        stats: {
          fires: s.fires,
          successes: s.successes,
          failures: s.failures,
          timeouts: s.timeouts,
          rejects: s.rejects,
          shed: s.semaphoreRejections ?? 0,
          cancelled: 0,
          latencyMean: s.latencyMean,
          // opossum tracks no 99.9th percentile: its closest, 99.5, stands in.
          percentiles: { p50: p('0.5'), p90: p('0.9'), p99: p('0.99'), p999: p('0.995') },
        },
        totals: { ...totals },
      };
    },
    dispose() {
      for (const [event, fn] of Object.entries(listeners)) breaker.removeListener(event, fn);
      metrics?.dispose();
    },
  };
}
