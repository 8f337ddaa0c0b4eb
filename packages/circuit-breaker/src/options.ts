import {
  type Clock,
  clockSchema,
  describeValue,
  functionSchema as fn,
  InvalidOptionsError,
  type Logger,
  loggerSchema,
  type OptionIssue,
  objectSchema as obj,
  parseOptions,
} from '@ballast/core';
import { z } from 'zod';
import type { FleetLink } from './fleet';
import type { CacheTransport, KeyedCallOptions } from './keyed';

const ms = z.number().positive().finite();
const timeoutValue = z.union([ms, z.literal(false)]);
/** An opossum option Ballast has no equivalent for: accepted, ignored, and named in one warning. */
const ignored = z.unknown().optional();

/**
 * Breaker options. Defaults are seed 003's (the API gateway's opossum settings): 10 s timeout, 50 % errors
 * over a 10 s window of 10 buckets with at least 10 calls, 30 s before a probe, 100 concurrent calls.
 *
 * Every opossum 9 option name is accepted too, so seed 003's option objects work unchanged: those opossum
 * spells differently are aliases (`timeout`, `resetTimeout`, `rollingCountTimeout`, `errorFilter`,
 * `allowWarmUp`); its result cache (`cache*`), coalescing (`coalesce*`) and `enableSnapshots` work as in
 * opossum; those with no Ballast equivalent (shared AbortController, pre-filled status, rolling-percentile
 * switch, bucket controller) are ignored and named in one warning when the breaker is created.
 * A key that is neither Ballast's nor opossum's is an error, so typos of our own names are caught.
 */
export const breakerOptionsSchema = z
  .object({
    /** Shown in logs, stats and metrics; the registry's key. */
    name: z.string().min(1).default('default'),
    /** Per-call time limit; `false` disables it. Default 10 000. */
    timeoutMs: timeoutValue.optional(),
    /** Trip when failures (incl. timeouts) reach this share of calls in the window, in %. */
    errorThresholdPercentage: z.number().min(0).max(100).default(50),
    /** How long the breaker stays open before letting probes through. Default 30 000. */
    resetTimeoutMs: ms.optional(),
    /** Length of the rolling window (time windows). Default 10 000. */
    rollingCountTimeoutMs: ms.optional(),
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
    slowCallDurationMs: ms.optional(),
    /** Trip when slow calls reach this share of calls in the window, in %. */
    slowCallRateThreshold: z.number().min(0).max(100).default(100),
    /** Also trip after this many failures in a row (seed 004's simple breaker: 5). Unset: off. */
    consecutiveFailureThreshold: z.number().int().positive().optional(),
    /** Which errors count as failures; others are rethrown but count as successes. Default: all. */
    isFailure: fn<(error: unknown) => boolean>('isFailure').optional(),
    /** No trip during this long after creation, whatever fails (opossum's `allowWarmUp`). Default 0. */
    warmUpMs: z.number().min(0).finite().optional(),
    /** `false`: start disabled — calls run unprotected and uncounted until `enable()` (opossum's). */
    enabled: z.boolean().default(true),
    /** The metrics' `service` attribute, to group breakers (opossum's `group`). Default: the name. */
    group: z.string().min(1).optional(),
    clock: clockSchema().optional(),
    logger: loggerSchema().optional(),
    /**
     * With `timeoutMs`: `aggressive` (default) rejects at the deadline while the function may run on (a
     * zombie, counted in `zombieCalls`); `cooperative` aborts its signal and settles when it does.
     */
    timeoutStrategy: z.enum(['aggressive', 'cooperative']).default('aggressive'),
    /** Keep a timed-out call's `capacity` slot until its function really settles (aggressive timeouts). */
    holdSlotUntilSettled: z.boolean().default(false),
    /** Share OPEN with other processes (see `redisFleet`). Off by default. */
    fleet: obj<FleetLink>('fleet').optional(),
    /** Record OTel metrics. Default true (a no-op until the app registers an SDK). */
    metrics: z.boolean().default(true),

    // opossum 9's spellings of options above.
    /** opossum's `timeoutMs`. */
    timeout: timeoutValue.optional(),
    /** opossum's `resetTimeoutMs`. */
    resetTimeout: ms.optional(),
    /** opossum's `rollingCountTimeoutMs`. */
    rollingCountTimeout: ms.optional(),
    /** opossum's inverse of `isFailure`: true for errors that must not count. */
    errorFilter: fn<(error: unknown) => boolean>('errorFilter').optional(),
    /** opossum's: `true` is `warmUpMs` = the rolling window. */
    allowWarmUp: z.boolean().optional(),

    // opossum 9's result cache and request coalescing (see `KeyedCalls`).
    /** Cache each key's first successful result (opossum's). Default false. */
    cache: z.boolean().optional(),
    /** How long a cached result lives, ms; 0 = until `clearCache()` (opossum's default). */
    cacheTTL: z.number().min(0).finite().optional(),
    /** Entries the built-in cache holds; the oldest leaves first. Default 2²⁴ − 1 (opossum's). */
    cacheSize: z.number().int().positive().optional(),
    /** The key of one call from the wrapped function's arguments. Default `JSON.stringify(args)`. */
    cacheGetKey: fn<(...args: unknown[]) => string>('cacheGetKey').optional(),
    /** A cache of your own: `{ get(key), set(key, value, expiresAt), flush() }` (opossum's). */
    cacheTransport: obj<CacheTransport>('cacheTransport')
      .refine(
        (t) => ['get', 'set', 'flush'].every((m) => typeof (t as unknown as Record<string, unknown>)[m] === 'function'),
        {
          message: 'expected an object with get, set and flush methods',
        },
      )
      .optional(),
    /** Concurrent calls with the same key share one execution (opossum's). Default false. */
    coalesce: z.boolean().optional(),
    /** How long a shared execution is reused, ms; default the timeout (0 = until it is reset). */
    coalesceTTL: z.number().min(0).finite().optional(),
    /** Entries of the coalescing cache. Default 2²⁴ − 1. */
    coalesceSize: z.number().int().positive().optional(),
    /** Outcomes that drop a shared execution at once, so the next call runs afresh. Default none. */
    coalesceResetOn: z.array(z.enum(['error', 'success', 'timeout'])).optional(),
    /** Emit `onSnapshot` with `stats` once per bucket (opossum's `enableSnapshots`; here default false). */
    enableSnapshots: z.boolean().optional(),

    // opossum 9 options with no Ballast equivalent (ignored, with a warning).
    status: ignored,
    stats: ignored,
    state: ignored,
    maxFailures: ignored,
    rollingPercentilesEnabled: ignored,
    rotateBucketController: ignored,
    abortController: ignored,
    autoRenewAbortController: ignored,
  })
  .strict();

export type BreakerOptions = z.input<typeof breakerOptionsSchema>;

export interface ResolvedBreakerOptions {
  readonly name: string;
  readonly timeoutMs: number | false;
  readonly errorThresholdPercentage: number;
  readonly resetTimeoutMs: number;
  readonly rollingCountTimeoutMs: number;
  readonly rollingCountBuckets: number;
  readonly windowType: 'time' | 'count';
  readonly windowSize: number;
  readonly volumeThreshold: number;
  readonly capacity: number;
  readonly halfOpenMaxProbes: number;
  readonly successThreshold: number;
  readonly slowCallDurationMs: number | undefined;
  readonly slowCallRateThreshold: number;
  readonly consecutiveFailureThreshold: number | undefined;
  readonly isFailure: ((error: unknown) => boolean) | undefined;
  readonly warmUpMs: number;
  readonly enabled: boolean;
  readonly group: string | undefined;
  readonly clock: Clock | undefined;
  readonly logger: Logger | undefined;
  readonly fleet: FleetLink | undefined;
  readonly metrics: boolean;
  readonly timeoutStrategy: 'aggressive' | 'cooperative';
  readonly holdSlotUntilSettled: boolean;
  /** Cache/coalesce settings, undefined when neither is on. */
  readonly keyed: KeyedCallOptions | undefined;
  readonly enableSnapshots: boolean;
  /** opossum options that were given but have no Ballast equivalent (the breaker warns about them once). */
  readonly ignoredOpossumOptions: readonly string[];
}

/** opossum's name → Ballast's, for the options both have. */
export const OPOSSUM_ALIASES = {
  timeout: 'timeoutMs',
  resetTimeout: 'resetTimeoutMs',
  rollingCountTimeout: 'rollingCountTimeoutMs',
  errorFilter: 'isFailure',
  allowWarmUp: 'warmUpMs',
} as const;

const IGNORED_OPOSSUM_OPTIONS = [
  'status',
  'stats',
  'state',
  'maxFailures',
  'rollingPercentilesEnabled',
  'rotateBucketController',
  'abortController',
  'autoRenewAbortController',
] as const;

/**
 * Validates breaker options (either spelling) and resolves them: defaults applied, opossum's spellings folded
 * into Ballast's. Giving both spellings of one option is an `InvalidOptionsError` naming the opossum one.
 */
export function resolveBreakerOptions(input: unknown, where: string): ResolvedBreakerOptions {
  const o = parseOptions(breakerOptionsSchema, input, where);
  const conflicts: OptionIssue[] = [];
  for (const [theirs, ours] of Object.entries(OPOSSUM_ALIASES) as [keyof typeof OPOSSUM_ALIASES, string][]) {
    if (o[theirs] !== undefined && o[ours as keyof typeof o] !== undefined) {
      conflicts.push({
        path: theirs,
        expected: `either ${theirs} (opossum's name) or ${ours}, not both`,
        received: describeValue(o[theirs]),
        message: `${theirs} and ${ours} are the same option`,
      });
    }
  }
  if (conflicts.length > 0) throw new InvalidOptionsError(where, conflicts);
  const rollingCountTimeoutMs = o.rollingCountTimeoutMs ?? o.rollingCountTimeout ?? 10_000;
  const errorFilter = o.errorFilter;
  const timeoutMs = o.timeoutMs ?? o.timeout ?? 10_000;
  return {
    name: o.name,
    timeoutMs,
    errorThresholdPercentage: o.errorThresholdPercentage,
    resetTimeoutMs: o.resetTimeoutMs ?? o.resetTimeout ?? 30_000,
    rollingCountTimeoutMs,
    rollingCountBuckets: o.rollingCountBuckets,
    windowType: o.windowType,
    windowSize: o.windowSize,
    volumeThreshold: o.volumeThreshold,
    capacity: o.capacity,
    halfOpenMaxProbes: o.halfOpenMaxProbes,
    successThreshold: o.successThreshold,
    slowCallDurationMs: o.slowCallDurationMs,
    slowCallRateThreshold: o.slowCallRateThreshold,
    consecutiveFailureThreshold: o.consecutiveFailureThreshold,
    isFailure: o.isFailure ?? (errorFilter && ((error: unknown) => !errorFilter(error))),
    warmUpMs: o.warmUpMs ?? (o.allowWarmUp ? rollingCountTimeoutMs : 0),
    enabled: o.enabled,
    group: o.group,
    clock: o.clock,
    logger: o.logger,
    fleet: o.fleet,
    metrics: o.metrics,
    timeoutStrategy: o.timeoutStrategy,
    holdSlotUntilSettled: o.holdSlotUntilSettled,
    keyed:
      o.cache || o.coalesce
        ? {
            cache: o.cache === true,
            cacheTTL: o.cacheTTL ?? 0,
            cacheSize: o.cacheSize,
            cacheGetKey: o.cacheGetKey,
            cacheTransport: o.cacheTransport,
            coalesce: o.coalesce === true,
            // opossum: the timeout by default.
            coalesceTTL: o.coalesceTTL ?? (timeoutMs === false ? 0 : timeoutMs),
            coalesceSize: o.coalesceSize,
            coalesceResetOn: o.coalesceResetOn ?? [],
          }
        : undefined,
    enableSnapshots: o.enableSnapshots === true,
    ignoredOpossumOptions: IGNORED_OPOSSUM_OPTIONS.filter((key) => o[key] !== undefined),
  };
}

/**
 * `{ ...base, ...override }` where an option in `override` also replaces `base`'s other spelling of it: a
 * registry's `{ timeoutMs: 5_000 }` defaults under a breaker's opossum-style `{ timeout: 1_000 }` give 1 000,
 * not a both-spellings error.
 */
export function mergeBreakerOptions(base: BreakerOptions, override: BreakerOptions): BreakerOptions {
  const merged: Record<string, unknown> = { ...base };
  if (typeof override !== 'object' || override === null) return merged as BreakerOptions;
  for (const [theirs, ours] of Object.entries(OPOSSUM_ALIASES)) {
    if (theirs in override) delete merged[ours];
    if (ours in override) delete merged[theirs];
  }
  return { ...merged, ...override } as BreakerOptions;
}
