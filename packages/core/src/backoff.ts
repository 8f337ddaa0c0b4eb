import { z } from 'zod';
import { parseOptions } from './options';

/**
 * How to spread retries in time.
 * - `none`: exponential, no randomness: `initialMs · factor^attempt`, capped at `maxMs`.
 * - `full`: uniform in `[0, exponential]` (AWS "full jitter"): best at de-synchronising a fleet.
 * - `equal`: half fixed, half random: `exp/2 + uniform[0, exp/2]`; never retries immediately.
 * - `decorrelated`: `min(maxMs, uniform[initialMs, previous · 3])` (AWS "decorrelated jitter").
 */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

export const backoffOptionsSchema = z
  .object({
    /** First delay (attempt 0), in ms. */
    initialMs: z.number().finite().min(0).default(100),
    /** Cap on any delay, in ms. */
    maxMs: z.number().finite().min(0).default(30_000),
    /** Growth per attempt. */
    factor: z.number().finite().min(1).default(2),
    jitter: z.enum(['none', 'full', 'equal', 'decorrelated']).default('full'),
  })
  .strict()
  .refine((o) => o.maxMs >= o.initialMs, {
    message: 'maxMs must be >= initialMs',
    path: ['maxMs'],
    params: { expected: 'number >= initialMs' },
  });

export type BackoffOptions = z.input<typeof backoffOptionsSchema>;
export type ResolvedBackoffOptions = z.output<typeof backoffOptionsSchema>;

/** Stateful delay generator for one sequence of retries. */
export interface Backoff {
  /** Delay before the next retry, in ms (integer). */
  next(): number;
  /** How many delays `next()` has handed out. */
  readonly attempt: number;
  /** Back to attempt 0. */
  reset(): void;
}

/**
 * The delay for a given attempt (0-based). Pure: pass `previousMs` for decorrelated jitter and your own
 * `random` for deterministic tests. Always a finite integer in `[0, maxMs]`, for any attempt (including
 * `initialMs: 0`, where `0 · factor^attempt` would be `0 · Infinity = NaN` once the power overflows).
 */
export function backoffDelay(
  options: ResolvedBackoffOptions,
  attempt: number,
  previousMs: number = options.initialMs,
  random: () => number = Math.random,
): number {
  const { initialMs, maxMs, factor, jitter } = options;
  let delay: number;
  if (jitter === 'decorrelated') {
    const upper = Math.min(maxMs, Math.max(initialMs, previousMs * 3));
    delay = initialMs + random() * (upper - initialMs);
  } else {
    // factor^attempt overflows to Infinity for large attempts; min() keeps it finite, and a zero initialMs
    // stays zero (0 · Infinity is NaN).
    const exp = initialMs === 0 ? 0 : Math.min(maxMs, initialMs * factor ** attempt);
    switch (jitter) {
      case 'none':
        delay = exp;
        break;
      case 'full':
        delay = random() * exp;
        break;
      case 'equal':
        delay = exp / 2 + random() * (exp / 2);
        break;
    }
  }
  // Rounding must not step over a fractional cap (maxMs 10.6 → at most 10).
  return Math.min(Math.round(delay), Math.floor(maxMs));
}

/**
 * A backoff sequence. Options are validated once here (typed error naming the bad field).
 *
 * @example
 * const b = createBackoff({ initialMs: 500, maxMs: 8_000, jitter: 'full' });
 * await sleep(clock, b.next());
 */
export function createBackoff(options: BackoffOptions = {}, random: () => number = Math.random): Backoff {
  const resolved = parseOptions(backoffOptionsSchema, options, 'createBackoff');
  return backoffFromResolved(resolved, random);
}

/** Like `createBackoff` for options a caller already validated (no parsing on the hot path). */
export function backoffFromResolved(resolved: ResolvedBackoffOptions, random: () => number = Math.random): Backoff {
  let attempt = 0;
  let previous = resolved.initialMs;
  return {
    next() {
      previous = backoffDelay(resolved, attempt, previous, random);
      attempt += 1;
      return previous;
    },
    get attempt() {
      return attempt;
    },
    reset() {
      attempt = 0;
      previous = resolved.initialMs;
    },
  };
}
