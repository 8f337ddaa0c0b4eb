import type { Clock } from '@ballast/core';

/** How one request to an instance ended, as the caller (HTTP client, breaker, `withInstance`) saw it. */
export interface Outcome {
  /** False for a failure that says the instance is unwell: a 5xx, a timeout, a refused or reset connection. */
  readonly ok: boolean;
}

export interface OutlierDetectionSettings {
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
  failureRate?: { threshold: number; minRequests: number; windowMs: number } | undefined;
}

interface InstanceRecord {
  consecutive: number;
  ejectedUntil: number;
  /** Ejections so far, decaying by one per `baseEjectionMs` spent un-ejected (Envoy's ejection multiplier). */
  ejections: number;
  windowStart: number;
  windowTotal: number;
  windowFailures: number;
}

/**
 * Envoy's outlier detection for one service: an instance with `consecutiveFailures` failures in a row, or a
 * failure share ≥ `failureRate.threshold` over at least `minRequests` in a `windowMs` window, is ejected for
 * `baseEjectionMs` × (its ejections so far + 1), at most `maxEjectionMs`. At most `maxEjectionPercent` % of the
 * instances are ejected at once — but always one may be, as in Envoy.
 */
export class OutlierDetector {
  readonly #records = new Map<string, InstanceRecord>();

  constructor(
    readonly settings: OutlierDetectionSettings,
    readonly clock: Clock,
    /** Told when an instance is ejected (log, metric). */
    readonly onEject: (id: string, forMs: number, why: string) => void = () => {},
  ) {}

  #record(id: string): InstanceRecord {
    let r = this.#records.get(id);
    if (!r) {
      r = {
        consecutive: 0,
        ejectedUntil: 0,
        ejections: 0,
        windowStart: this.clock.now(),
        windowTotal: 0,
        windowFailures: 0,
      };
      this.#records.set(id, r);
    }
    return r;
  }

  isEjected(id: string): boolean {
    const r = this.#records.get(id);
    return r !== undefined && this.clock.now() < r.ejectedUntil;
  }

  /** Ids ejected now, sorted. */
  ejected(): string[] {
    return [...this.#records.keys()].filter((id) => this.isEjected(id)).sort();
  }

  /** `outcome` of one request to `id`; `population` is how many instances the service has now. */
  report(id: string, outcome: Outcome, population: number): void {
    const s = this.settings;
    const r = this.#record(id);
    const now = this.clock.now();
    if (now < r.ejectedUntil) return; // a late answer from before the ejection
    if (now - r.windowStart >= (s.failureRate?.windowMs ?? Number.POSITIVE_INFINITY)) {
      r.windowStart = now;
      r.windowTotal = 0;
      r.windowFailures = 0;
    }
    r.windowTotal += 1;
    if (outcome.ok) {
      r.consecutive = 0;
      this.#checkRate(id, r, population);
      return;
    }
    r.consecutive += 1;
    r.windowFailures += 1;
    if (r.consecutive >= s.consecutiveFailures) this.#eject(id, r, population, `${r.consecutive} consecutive failures`);
    else this.#checkRate(id, r, population);
  }

  #checkRate(id: string, r: InstanceRecord, population: number): void {
    const rate = this.settings.failureRate;
    if (!rate || r.windowTotal < rate.minRequests) return;
    const share = r.windowFailures / r.windowTotal;
    if (share >= rate.threshold)
      this.#eject(id, r, population, `${r.windowFailures}/${r.windowTotal} failed within ${rate.windowMs} ms`);
  }

  #eject(id: string, r: InstanceRecord, population: number, why: string): void {
    const s = this.settings;
    const now = this.clock.now();
    const ejectedNow = this.ejected().length;
    // Instances reported on count too, when discovery has not seen the service's full list.
    const known = Math.max(population, this.#records.size);
    const allowed = Math.max(1, Math.floor((known * s.maxEjectionPercent) / 100));
    if (ejectedNow >= allowed) return; // the cap: this instance keeps serving
    const decayed = r.ejectedUntil === 0 ? 0 : Math.floor((now - r.ejectedUntil) / s.baseEjectionMs);
    r.ejections = Math.max(0, r.ejections - decayed) + 1;
    const forMs = Math.min(s.baseEjectionMs * r.ejections, Math.max(s.baseEjectionMs, s.maxEjectionMs));
    r.ejectedUntil = now + forMs;
    r.consecutive = 0;
    r.windowStart = now;
    r.windowTotal = 0;
    r.windowFailures = 0;
    this.onEject(id, forMs, why);
  }
}
