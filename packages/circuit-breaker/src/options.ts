import { clockSchema, functionSchema as fn, loggerSchema, objectSchema as obj } from '@ballast/core';
import { z } from 'zod';
import type { FleetLink } from './fleet';

/**
 * Breaker options. Defaults are seed 003's (the API gateway's opossum settings): 10 s timeout, 50 % errors
 * over a 10 s window of 10 buckets with at least 10 calls, 30 s before a probe, 100 concurrent calls.
 */
export const breakerOptionsSchema = z
  .object({
    /** Shown in logs, stats and metrics; the registry's key. */
    name: z.string().min(1).default('default'),
    /** Per-call time limit; `false` disables it. */
    timeoutMs: z.union([z.number().positive().finite(), z.literal(false)]).default(10_000),
    /** Trip when failures (incl. timeouts) reach this share of calls in the window, in %. */
    errorThresholdPercentage: z.number().min(0).max(100).default(50),
    /** How long the breaker stays open before letting probes through. */
    resetTimeoutMs: z.number().positive().finite().default(30_000),
    /** Length of the rolling window (time windows). */
    rollingCountTimeoutMs: z.number().positive().finite().default(10_000),
    /** Buckets the window is divided into (time windows). */
    rollingCountBuckets: z.number().int().positive().default(10),
    /** `time`: calls in the last `rollingCountTimeoutMs`; `count`: the last `windowSize` calls. */
    windowType: z.enum(['time', 'count']).default('time'),
    /** Calls a count window holds. */
    windowSize: z.number().int().positive().default(100),
    /** No trip before this many calls are in the window. */
    volumeThreshold: z.number().int().min(0).default(10),
    /** Concurrent calls allowed through; more are shed (not counted as failures). */
    capacity: z.number().int().positive().default(100),
    /** Concurrent probes while half-open. */
    halfOpenMaxProbes: z.number().int().positive().default(1),
    /** Successful probes needed to close. */
    successThreshold: z.number().int().positive().default(1),
    /** A call at least this long is slow (success or not). Unset: slow calls are not tracked. */
    slowCallDurationMs: z.number().positive().finite().optional(),
    /** Trip when slow calls reach this share of calls in the window, in %. */
    slowCallRateThreshold: z.number().min(0).max(100).default(100),
    /** Also trip after this many failures in a row (seed 004's simple breaker: 5). Unset: off. */
    consecutiveFailureThreshold: z.number().int().positive().optional(),
    /** Which errors count as failures; others are rethrown but count as successes. Default: all. */
    isFailure: fn<(error: unknown) => boolean>('isFailure').optional(),
    clock: clockSchema().optional(),
    logger: loggerSchema().optional(),
    /** Share OPEN with other processes (see `redisFleet`). Off by default. */
    fleet: obj<FleetLink>('fleet').optional(),
    /** Record OTel metrics. Default true (a no-op until the app registers an SDK). */
    metrics: z.boolean().default(true),
  })
  .strict();

export type BreakerOptions = z.input<typeof breakerOptionsSchema>;
export type ResolvedBreakerOptions = z.output<typeof breakerOptionsSchema>;

/** opossum's option names and what they are called here. */
const OPOSSUM_NAMES: Record<string, string> = {
  timeout: 'timeoutMs',
  resetTimeout: 'resetTimeoutMs',
  rollingCountTimeout: 'rollingCountTimeoutMs',
};

/**
 * Accepts opossum's option names beside ours (`timeout`, `resetTimeout`, `rollingCountTimeout`,
 * `errorFilter`), so seed 003's option objects work unchanged. Giving both spellings of one option is an error
 * reported by the schema as an unknown key.
 */
export function fromOpossumNames(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const [theirs, ours] of Object.entries(OPOSSUM_NAMES)) {
    if (theirs in out && !(ours in out)) {
      out[ours] = out[theirs];
      delete out[theirs];
    }
  }
  if (typeof out.errorFilter === 'function' && !('isFailure' in out)) {
    const errorFilter = out.errorFilter as (e: unknown) => boolean;
    out.isFailure = (e: unknown) => !errorFilter(e);
    delete out.errorFilter;
  }
  return out;
}
