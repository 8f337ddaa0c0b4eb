import type { Logger } from '@ballast/core';
import { asyncDispose } from './closing';
import { componentLogger } from './log';
import { type BreakerMetrics, breakerMetrics } from './metrics';
import type { BreakerStats, StatsSource } from './registry';
import type { OutcomeName } from './window';

/** The parts of an opossum `CircuitBreaker` the adapter reads (structural: no dependency on opossum). */
export interface OpossumLike {
  name: string;
  /** opossum's `group` (default: its name): the metrics' `service` attribute. */
  group?: string;
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

/** An adopted opossum breaker: a registry stats source that detaches on `close()`. */
export interface OpossumSource extends StatsSource {
  readonly state: 'closed' | 'open' | 'half-open';
  /** Counts since adoption, by Ballast's outcome taxonomy. */
  readonly totals: Readonly<Record<OutcomeName, number>>;
  /** Detaches from the opossum breaker (which keeps running: shut it down with its own `shutdown()`). */
  close(): Promise<void>;
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Adopts an existing opossum breaker: its state and counts appear in `registry.stats()` and in the
 * `circuit_breaker_*` metrics (durations included, from the latency opossum reports with each outcome), and
 * its transitions log seed 003's 🔴/🟡/🟢 lines — so a service on seed 003's code migrates breaker by breaker
 * without a rewrite. Add the result to a registry: `registry.add(fromOpossum(b))`.
 *
 * Outcomes follow Ballast's taxonomy, not opossum's events one to one. opossum 9 reports a capacity
 * rejection as `semaphoreLocked` and then `failure` (or `success`, when its `errorFilter` accepts the error),
 * and a timeout as `timeout` and then `failure`/`success`: each such call is counted once, as shed or
 * timeout — shed is never a failure.
 */
export function fromOpossum(breaker: OpossumLike, options: FromOpossumOptions = {}): OpossumSource {
  const name = options.name ?? breaker.name;
  const log = componentLogger(options.logger, { component: 'circuit-breaker', breaker: name, engine: 'opossum' });
  const totals: Record<OutcomeName, number> = {
    success: 0,
    failure: 0,
    timeout: 0,
    rejected: 0,
    shed: 0,
    cancelled: 0,
  };
  // The errors of timeouts and capacity rejections already counted: opossum reports the same call again
  // right after (as failure, or as success when errorFilter accepts the error), with the same error object.
  const counted = new WeakSet<object>();
  const mark = (error: unknown) => {
    if (typeof error === 'object' && error !== null) counted.add(error);
  };
  const seen = (value: unknown) => typeof value === 'object' && value !== null && counted.has(value);
  let metrics: BreakerMetrics | undefined;
  const duration = (latency: unknown, status: 'success' | 'failure' | 'timeout') => {
    if (typeof latency === 'number' && Number.isFinite(latency)) metrics?.duration(latency, status);
  };
  const listeners: Record<string, (...args: unknown[]) => void> = {
    success: (result, latency) => {
      if (seen(result)) return;
      totals.success++;
      duration(latency, 'success');
    },
    failure: (error, latency) => {
      if (seen(error)) return;
      totals.failure++;
      duration(latency, 'failure');
    },
    timeout: (error, latency) => {
      mark(error);
      totals.timeout++;
      duration(latency, 'timeout');
    },
    semaphoreLocked: (error) => {
      mark(error);
      totals.shed++;
    },
    reject: () => void totals.rejected++,
    open: () => log.error(`🔴 Circuit breaker OPENED for ${name}`),
    halfOpen: () => log.warn(`🟡 Circuit breaker HALF-OPEN for ${name}`),
    close: () => log.info(`🟢 Circuit breaker CLOSED for ${name}`),
    fallback: () => log.warn(`⚠️ Circuit breaker FALLBACK triggered for ${name}`),
  };
  for (const [event, fn] of Object.entries(listeners)) breaker.on(event, fn);
  let closed = false;
  const close = (): Promise<void> => {
    if (!closed) {
      closed = true;
      for (const [event, fn] of Object.entries(listeners)) breaker.removeListener(event, fn);
      metrics?.dispose();
    }
    return Promise.resolve();
  };
  const source: OpossumSource = {
    name,
    group: breaker.group ?? name,
    get state() {
      return breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';
    },
    totals,
    stats(): BreakerStats {
      const s = breaker.stats;
      const p = (q: string) => s.percentiles[q] ?? 0;
      const shed = s.semaphoreRejections ?? 0;
      return {
        state: breaker.opened ? 'OPEN' : breaker.halfOpen ? 'HALF_OPEN' : 'CLOSED',
        stats: {
          fires: s.fires,
          successes: s.successes,
          // opossum's window counts timeouts and capacity rejections as failures too; here, as in Ballast's
          // breakers, they are timeouts and shed only.
          failures: Math.max(0, s.failures - s.timeouts - shed),
          timeouts: s.timeouts,
          rejects: s.rejects,
          shed,
          cancelled: 0,
          latencyMean: s.latencyMean,
          // opossum tracks no 99.9th percentile: its closest, 99.5, stands in.
          percentiles: { p50: p('0.5'), p90: p('0.9'), p99: p('0.99'), p999: p('0.995') },
        },
        totals: { ...totals },
      };
    },
    close,
    dispose: close,
    [asyncDispose]: close,
  } as OpossumSource & { group: string };
  metrics = options.metrics === false ? undefined : breakerMetrics(source as OpossumSource & { group: string });
  return source;
}
