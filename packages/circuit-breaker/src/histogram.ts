/**
 * A fixed-size log-linear latency histogram (HdrHistogram's idea, 16 sub-buckets per power of two: ≤ 6.25 %
 * error), in microseconds up to ~71 minutes. Recording is a few integer operations; percentiles scan 464
 * counters. Memory is constant whatever the traffic (opossum keeps and sorts an array of samples).
 */
const SUB_BITS = 4;
const SUB = 1 << SUB_BITS; // 16
export const HISTOGRAM_SIZE = (32 - SUB_BITS + 1) * SUB; // 464

export function bucketIndex(us: number): number {
  const v = us >= 0xffffffff ? 0xffffffff : us > 0 ? Math.floor(us) >>> 0 : 0;
  if (v < SUB) return v;
  const e = 31 - Math.clz32(v); // >= 4
  return (e - SUB_BITS + 1) * SUB + ((v >>> (e - SUB_BITS)) & (SUB - 1));
}

/** The midpoint of a bucket's range, in µs. */
export function bucketValue(index: number): number {
  if (index < SUB) return index;
  const e = Math.floor(index / SUB) + SUB_BITS - 1;
  const low = (SUB + (index % SUB)) * 2 ** (e - SUB_BITS);
  const width = 2 ** (e - SUB_BITS);
  return low + width / 2;
}

export class LatencyHistogram {
  readonly counts = new Uint32Array(HISTOGRAM_SIZE);
  count = 0;
  sumUs = 0;
  maxUs = 0;

  /** One sample of `us`, standing for `weight` calls (1 unless sampled: see `RollingHistogram`). */
  record(us: number, weight = 1): void {
    this.counts[bucketIndex(us)]! += weight;
    this.count += weight;
    this.sumUs += us * weight;
    if (us > this.maxUs) this.maxUs = us;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumUs = 0;
    this.maxUs = 0;
  }

  /** Adds `other`'s samples into this one. */
  merge(other: LatencyHistogram): this {
    for (let i = 0; i < HISTOGRAM_SIZE; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sumUs += other.sumUs;
    if (other.maxUs > this.maxUs) this.maxUs = other.maxUs;
    return this;
  }

  /** The value at quantile `q` (0..1), in µs; 0 with no samples. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_SIZE; i++) {
      seen += this.counts[i]!;
      // The top rank is the maximum itself, which is tracked exactly.
      if (seen >= rank) return rank === this.count ? this.maxUs : Math.min(bucketValue(i), this.maxUs);
    }
    return this.maxUs;
  }

  get meanUs(): number {
    return this.count === 0 ? 0 : this.sumUs / this.count;
  }
}

/**
 * Latency over the recent past at constant cost: two histograms that swap every `periodMs`, so percentiles
 * cover the last one to two periods (the breaker uses its rolling window length).
 */
export class RollingHistogram {
  #current = new LatencyHistogram();
  #previous = new LatencyHistogram();
  #periodStart: number;

  constructor(
    readonly periodMs: number,
    now: number,
  ) {
    this.#periodStart = now;
  }

  record(now: number, us: number, weight = 1): void {
    if (now - this.#periodStart >= this.periodMs) this.#rotate(now);
    this.#current.record(us, weight);
  }

  /** Calls recorded in the current period so far (weights included; not rotated: may be the last period's). */
  get currentCount(): number {
    return this.#current.count;
  }

  /** A merged copy of the last one to two periods. */
  snapshot(now: number): LatencyHistogram {
    if (now - this.#periodStart >= this.periodMs) this.#rotate(now);
    return new LatencyHistogram().merge(this.#previous).merge(this.#current);
  }

  reset(now: number): void {
    this.#current.reset();
    this.#previous.reset();
    this.#periodStart = now;
  }

  #rotate(now: number): void {
    const periods = Math.floor((now - this.#periodStart) / this.periodMs);
    const swap = this.#previous;
    this.#previous = this.#current;
    this.#current = swap;
    this.#current.reset();
    if (periods > 1) this.#previous.reset(); // idle for more than a period: the old one is stale too
    this.#periodStart += periods * this.periodMs;
  }
}
