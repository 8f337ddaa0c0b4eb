/**
 * Outcome counts over a rolling window with running sums: recording and reading are O(1) whatever the
 * window's size (opossum re-reduces its buckets on every failure; a sorted-array window grows with traffic).
 *
 * Precisely, a time window is amortised O(1): a call that finds time has moved on clears the buckets that
 * expired since the last call — one per bucket length elapsed, at most `buckets` (after a long idle spell it
 * zeroes the whole window at once). That bound is the bucket count (10 by default), never the traffic nor
 * the window's length; a busy breaker advances at most one bucket at a time.
 */

/** What happened to one call. Numbers, so the hot path compares small integers. */
export const Outcome = {
  success: 0,
  failure: 1,
  timeout: 2,
  rejected: 3,
  shed: 4,
  cancelled: 5,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];
export const OUTCOME_NAMES = ['success', 'failure', 'timeout', 'rejected', 'shed', 'cancelled'] as const;
export type OutcomeName = (typeof OUTCOME_NAMES)[number];
const KINDS = OUTCOME_NAMES.length;

/** Counts in the window, by outcome, plus slow calls. `calls` = success + failure + timeout. */
export interface WindowCounts {
  readonly success: number;
  readonly failure: number;
  readonly timeout: number;
  readonly rejected: number;
  readonly shed: number;
  readonly cancelled: number;
  readonly slow: number;
}

export interface OutcomeWindow {
  record(now: number, outcome: Outcome, slow: boolean): void;
  /** Calls that count for tripping: successes, failures, timeouts. */
  calls(now: number): number;
  /** Failures + timeouts. */
  failures(now: number): number;
  slow(now: number): number;
  counts(now: number): WindowCounts;
  reset(now: number): void;
}

function countsOf(sums: Float64Array, slow: number): WindowCounts {
  return {
    success: sums[0]!,
    failure: sums[1]!,
    timeout: sums[2]!,
    rejected: sums[3]!,
    shed: sums[4]!,
    cancelled: sums[5]!,
    slow,
  };
}

/** `buckets` time buckets covering `windowMs`; old buckets leave the running sums as time moves on. */
export class TimeWindow implements OutcomeWindow {
  readonly #bucketMs: number;
  readonly #buckets: number;
  // Per bucket: KINDS outcome counters then one slow counter, flattened.
  readonly #cells: Float64Array;
  readonly #sums = new Float64Array(KINDS);
  #slowSum = 0;
  #index = 0;
  #bucketStart: number;

  constructor(windowMs: number, buckets: number, now: number) {
    this.#buckets = buckets;
    this.#bucketMs = windowMs / buckets;
    this.#cells = new Float64Array(buckets * (KINDS + 1));
    this.#bucketStart = now;
  }

  #advance(now: number): void {
    const elapsed = now - this.#bucketStart;
    if (elapsed < this.#bucketMs) return;
    const steps = Math.floor(elapsed / this.#bucketMs);
    this.#bucketStart += steps * this.#bucketMs;
    if (steps >= this.#buckets) {
      this.#cells.fill(0);
      this.#sums.fill(0);
      this.#slowSum = 0;
      this.#index = (this.#index + steps) % this.#buckets;
      return;
    }
    const stride = KINDS + 1;
    for (let s = 0; s < steps; s++) {
      this.#index = this.#index + 1 === this.#buckets ? 0 : this.#index + 1;
      const base = this.#index * stride;
      for (let k = 0; k < KINDS; k++) {
        this.#sums[k]! -= this.#cells[base + k]!;
        this.#cells[base + k] = 0;
      }
      this.#slowSum -= this.#cells[base + KINDS]!;
      this.#cells[base + KINDS] = 0;
    }
  }

  record(now: number, outcome: Outcome, slow: boolean): void {
    this.#advance(now);
    const base = this.#index * (KINDS + 1);
    this.#cells[base + outcome]!++;
    this.#sums[outcome]!++;
    if (slow) {
      this.#cells[base + KINDS]!++;
      this.#slowSum++;
    }
  }

  calls(now: number): number {
    this.#advance(now);
    return this.#sums[0]! + this.#sums[1]! + this.#sums[2]!;
  }

  failures(now: number): number {
    this.#advance(now);
    return this.#sums[1]! + this.#sums[2]!;
  }

  slow(now: number): number {
    this.#advance(now);
    return this.#slowSum;
  }

  counts(now: number): WindowCounts {
    this.#advance(now);
    return countsOf(this.#sums, this.#slowSum);
  }

  reset(now: number): void {
    this.#cells.fill(0);
    this.#sums.fill(0);
    this.#slowSum = 0;
    this.#bucketStart = now;
  }
}

/**
 * The last `size` calls (successes, failures, timeouts), in a ring. Rejected, shed and cancelled calls are
 * counted beside the ring, since they are not samples of the dependency's health.
 */
export class CountWindow implements OutcomeWindow {
  readonly #ring: Uint8Array; // outcome | (slow << 3); 255 = empty
  readonly #sums = new Float64Array(KINDS);
  #slowSum = 0;
  #next = 0;

  constructor(readonly size: number) {
    this.#ring = new Uint8Array(size).fill(255);
  }

  record(_now: number, outcome: Outcome, slow: boolean): void {
    if (outcome > Outcome.timeout) {
      this.#sums[outcome]!++;
      return;
    }
    const old = this.#ring[this.#next]!;
    if (old !== 255) {
      this.#sums[old & 7]!--;
      if (old & 8) this.#slowSum--;
    }
    this.#ring[this.#next] = outcome | (slow ? 8 : 0);
    this.#next = this.#next + 1 === this.size ? 0 : this.#next + 1;
    this.#sums[outcome]!++;
    if (slow) this.#slowSum++;
  }

  calls(): number {
    return this.#sums[0]! + this.#sums[1]! + this.#sums[2]!;
  }

  failures(): number {
    return this.#sums[1]! + this.#sums[2]!;
  }

  slow(): number {
    return this.#slowSum;
  }

  counts(): WindowCounts {
    return countsOf(this.#sums, this.#slowSum);
  }

  reset(): void {
    this.#ring.fill(255);
    this.#sums.fill(0);
    this.#slowSum = 0;
    this.#next = 0;
  }
}
