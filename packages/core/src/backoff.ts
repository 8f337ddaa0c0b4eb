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
  .refine((o) => o.maxMs >= o.initialMs, { message: 'maxMs must be >= initialMs', path: ['maxMs'] });

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
 * `random` for deterministic tests.
 */
export function backoffDelay(
  options: ResolvedBackoffOptions,
  attempt: number,
  previousMs: number = options.initialMs,
  random: () => number = Math.random,
): number {
  const { initialMs, maxMs, factor, jitter } = options;
  if (jitter === 'decorrelated') {
    const upper = Math.min(maxMs, Math.max(initialMs, previousMs * 3));
    return Math.round(initialMs + random() * (upper - initialMs));
  }
  // factor^attempt overflows to Infinity for large attempts; min() keeps it finite.
  const exp = Math.min(maxMs, initialMs * factor ** attempt);
  switch (jitter) {
    case 'none':
      return Math.round(exp);
    case 'full':
      return Math.round(random() * exp);
    case 'equal':
      return Math.round(exp / 2 + random() * (exp / 2));
  }
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
