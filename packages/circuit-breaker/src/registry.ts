import { describeValue, optionsOrEmpty, processSlot } from '@ballast/core';
import { CircuitBreaker } from './breaker';
import { asyncDispose } from './closing';
import { BreakerOptionsConflictError, InvalidArgumentError, PolicyClosedError } from './errors';
import { type BreakerOptions, mergeBreakerOptions } from './options';
import type { OutcomeName } from './window';

/** One breaker's entry in `GET /circuit-breaker/stats` (seed 003's shape, extended). */
export interface BreakerStats {
  state: 'CLOSED' | 'OPEN' | 'HALF_OPEN';
  /** Rolling-window counts (as opossum reports them). */
  stats: {
    fires: number;
    successes: number;
    failures: number;
    timeouts: number;
    rejects: number;
    shed: number;
    cancelled: number;
    /** ms */
    latencyMean: number;
    /** ms, over the last one to two windows */
    percentiles: { p50: number; p90: number; p99: number; p999: number };
  };
  /** Counts since the breaker was created. */
  totals: Record<OutcomeName, number>;
}

export interface StatsSnapshot {
  timestamp: string;
  circuitBreakers: Record<string, BreakerStats>;
}

/** Anything the registry can report on: our breakers, adopted opossum breakers. */
export interface StatsSource {
  readonly name: string;
  stats(): BreakerStats;
  /** Called by the registry's `close()`/`delete()`. */
  close?(): Promise<void> | void;
}

const STATE = { closed: 'CLOSED', open: 'OPEN', 'half-open': 'HALF_OPEN' } as const;
const ms = (us: number) => Math.round(us) / 1000;

export function statsOf(b: CircuitBreaker): BreakerStats {
  const c = b.counts();
  const h = b.latency();
  return {
    state: STATE[b.state],
    stats: {
      fires: c.success + c.failure + c.timeout + c.rejected + c.shed + c.cancelled,
      successes: c.success,
      failures: c.failure,
      timeouts: c.timeout,
      rejects: c.rejected,
      shed: c.shed,
      cancelled: c.cancelled,
      latencyMean: ms(h.meanUs),
      percentiles: {
        p50: ms(h.quantile(0.5)),
        p90: ms(h.quantile(0.9)),
        p99: ms(h.quantile(0.99)),
        p999: ms(h.quantile(0.999)),
      },
    },
    totals: { ...b.totals },
  };
}

/**
 * Per-service breakers by name, created on first use with shared defaults — seed 003's
 * `Map<string, CircuitBreaker>` in the gateway, plus the stats endpoint's data in one call.
 *
 * It owns what it holds: `close()` closes every breaker (and adopted source) — register it with core's
 * `ShutdownRegistry` and the breakers' timers and fleet subscriptions end with the process's shutdown.
 *
 * @example
 * const breakers = new BreakerRegistry({ timeoutMs: 5_000 });
 * await breakers.get('users').execute(() => fetchUsers());
 * app.get('/circuit-breaker/stats', () => breakers.stats());
 * getShutdownRegistry().register('breakers', breakers);
 */
export class BreakerRegistry {
  readonly #defaults: BreakerOptions;
  readonly #breakers = new Map<string, CircuitBreaker>();
  /** The options each `get()`-created breaker was first asked with (compared on later `get`s). */
  readonly #given = new Map<string, Record<string, unknown>>();
  readonly #sources = new Map<string, StatsSource>();
  #closing: Promise<void> | undefined;

  constructor(defaults: BreakerOptions = {}) {
    this.#defaults = defaults;
  }

  /**
   * The breaker called `name`, created with `defaults` + `options` the first time. Later calls may omit the
   * options (or repeat them); different ones would be silently ignored, so they throw instead.
   * @throws BreakerOptionsConflictError when `options` differ from those the breaker was created with.
   * @throws PolicyClosedError once the registry is closed.
   */
  get(name: string, options?: BreakerOptions): CircuitBreaker {
    let b = this.#breakers.get(name);
    if (!b) {
      this.#assertOpen();
      this.#assertFree(name);
      const given = optionsOrEmpty(options ?? {}, 'BreakerRegistry.get') as Record<string, unknown>;
      b = new CircuitBreaker({ ...mergeBreakerOptions(this.#defaults, given as BreakerOptions), name });
      this.#breakers.set(name, b);
      this.#given.set(name, given);
    } else if (options !== undefined) {
      const first = this.#given.get(name) ?? {};
      const given = optionsOrEmpty(options, 'BreakerRegistry.get') as Record<string, unknown>;
      const keys = new Set([...Object.keys(first), ...Object.keys(given)]);
      const differing = [...keys].filter((k) => k !== 'name' && !Object.is(first[k], given[k])).sort();
      if (differing.length > 0) throw new BreakerOptionsConflictError(name, differing);
    }
    return b;
  }

  /** Adds a breaker made elsewhere (or a `fromOpossum` adapter) to stats; the registry closes it with itself. */
  add(source: CircuitBreaker | StatsSource): void {
    this.#assertOpen();
    this.#assertFree(source.name);
    if (source instanceof CircuitBreaker) this.#breakers.set(source.name, source);
    else this.#sources.set(source.name, source);
  }

  has(name: string): boolean {
    return this.#breakers.has(name) || this.#sources.has(name);
  }

  names(): string[] {
    return [...this.#breakers.keys(), ...this.#sources.keys()];
  }

  /** Removes one breaker and closes it. */
  delete(name: string): boolean {
    const b = this.#breakers.get(name) ?? this.#sources.get(name);
    void b?.close?.();
    this.#given.delete(name);
    return this.#breakers.delete(name) || this.#sources.delete(name);
  }

  /** The JSON of seed 003's `GET /circuit-breaker/stats`. */
  stats(): StatsSnapshot {
    const circuitBreakers: Record<string, BreakerStats> = {};
    for (const [name, b] of this.#breakers) circuitBreakers[name] = statsOf(b);
    for (const [name, s] of this.#sources) circuitBreakers[name] = s.stats();
    return { timestamp: new Date().toISOString(), circuitBreakers };
  }

  /**
   * Closes every breaker and adopted source (timers, fleet subscriptions, metrics) and empties the registry;
   * `get()` and `add()` throw `PolicyClosedError` from then on. Idempotent: later calls return the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const all = [...this.#breakers.values(), ...this.#sources.values()];
      this.#breakers.clear();
      this.#given.clear();
      this.#sources.clear();
      await Promise.all(all.map((b) => b.close?.()));
    })();
    return this.#closing;
  }

  /** Alias of `close()`. */
  dispose(): Promise<void> {
    return this.close();
  }

  [asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(): void {
    if (this.#closing) throw new PolicyClosedError('Breaker registry');
  }

  #assertFree(name: string): void {
    if (this.#breakers.has(name) || this.#sources.has(name)) {
      throw new InvalidArgumentError(
        'BreakerRegistry',
        'name',
        'unused (a breaker with this name is already registered)',
        describeValue(name),
      );
    }
  }
}

const defaultRegistry = processSlot<BreakerRegistry>('circuit-breaker/registry');

/**
 * The process-wide registry decorators use by default. Replace it with `setBreakerRegistry`. One for the whole
 * process, shared by the ESM and CJS builds (core's `processSlot`).
 */
export function getBreakerRegistry(): BreakerRegistry {
  return defaultRegistry.getOrCreate(() => new BreakerRegistry());
}

/** Replaces the process-wide registry; `undefined` empties the slot, so the next use creates a fresh one. */
export function setBreakerRegistry(registry: BreakerRegistry | undefined): void {
  defaultRegistry.set(registry);
}
