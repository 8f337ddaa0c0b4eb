import {
  clockSchema,
  DEFAULT_COMMAND_TIMEOUT_MS,
  functionSchema,
  loggerSchema,
  objectSchema,
  type RedisClient,
} from '@ballast/core';
import { z } from 'zod';
import type { LockBackend } from './backend';

/** A wait in ms; `Infinity` (which zod's `number()` refuses) waits until acquired or aborted. */
const waitMsSchema = z.union([z.number().min(0), z.literal(Number.POSITIVE_INFINITY)]);

export const managerOptionsSchema = z
  .object({
    /** A Redis client: the manager makes a `RedisLockBackend` on it. */
    redis: objectSchema<RedisClient>('redis').optional(),
    /** Or any backend; neither: in-memory (one process). */
    backend: objectSchema<LockBackend>('backend').optional(),
    prefix: z.string().min(1).default('ballast'),
    /** Lease length (seed 002: default_timeout 30 s). */
    ttlMs: z.number().int().positive().default(30_000),
    /** Extend held leases every ttl/3 while held (seed 002: auto_extend true). */
    autoExtend: z.boolean().default(true),
    /** How long `acquire` waits by default; `Infinity` waits until acquired or aborted. */
    waitMs: waitMsSchema.default(Number.POSITIVE_INFINITY),
    /** Share of the ttl assumed lost to clock drift when computing a lease's validity (+2 ms). */
    driftFactor: z.number().min(0).max(0.5).default(0.01),
    /** Upper bound of the jittered safety-net retry while waiting (wake-ups come from pub/sub). */
    maxRetryDelayMs: z.number().int().positive().default(1_000),
    /** Refuse new shared holders while a writer waits (no writer starvation). */
    writerPreference: z.boolean().default(true),
    /**
     * FIFO fair exclusive locks: waiters queue, and a release hands the lock to the oldest live waiter inside
     * the release script (no retry round trip). `false`: waiters race on each release (non-fair). Shared
     * locks and a backend without a queue (Redlock) are never fair.
     */
    fair: z.boolean().default(true),
    /**
     * How long a fair waiter's queue entry lives without a refresh (waiters refresh it every
     * min(⅓ of it, `maxRetryDelayMs`)): how long a waiter that died can hold the queue up — or the lock, when it
     * is handed to it just as it died (the hand-off lasts no longer than the entry had left).
     */
    fairQueueTtlMs: z.number().int().positive().default(10_000),
    /**
     * Cork the Redis socket until the end of the tick, so the scripts of one tick leave in one write (half of
     * node's CPU on a busy lock path is the write syscall). `'auto'` (default): only when commands are already
     * in flight on the connection — under concurrency, when the replies of a tick release many callers at once
     * — while a lone caller's command leaves at once. `true`: always; `false`: never. Applies to the calls sent
     * one by one (shared locks, extends, exclusive calls with `coalesceScripts: false`); the batched exclusive
     * calls are never corked (see `coalesceScripts`).
     */
    coalesceWrites: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /**
     * Run the exclusive acquires and releases called in one tick in a few script calls (up to three, none
     * under four entries nor over 200; per hash slot on a Cluster), sent once the tick's code and promise
     * callbacks have run, each in a write of its own: a service acquiring many keys at once pays three
     * `EVALSHA`s for them all, and Redis works on the first while the others are on their way. Each caller keeps
     * its own reply, error, deadline and signal. `false`: one script call each.
     */
    coalesceScripts: z.boolean().default(true),
    /**
     * How long one Redis command may wait for its reply; past it (Redis down, hung, restarting) the call fails
     * with core's `BackendUnavailableError`. A finite `waitMs` or a `signal` bounds `acquire` sooner.
     */
    commandTimeoutMs: z.number().positive().default(DEFAULT_COMMAND_TIMEOUT_MS),
    /**
     * `redis` only, off by default: after every exclusive or shared grant, `WAIT replicas timeoutMs` on the master
     * holding the lock (on a Cluster, its slot's master), before the lease is returned. Fewer acknowledgements:
     * the hold is released and `acquire` rejects with `LockDurabilityError`. Without it a failover to a replica
     * that missed the grant loses the hold AND the fencing counter's increment: the promoted master can grant the
     * lock again and issue a fencing token already in use. A grant handed over by a fair release is written by
     * the releasing client, so the waiter first extends its hold (a write of its own) and then waits.
     */
    durability: z
      .object({ replicas: z.number().int().min(1), timeoutMs: z.number().int().min(1) })
      .strict()
      .optional(),
    clock: clockSchema().optional(),
    logger: loggerSchema().optional(),
    random: functionSchema<() => number>('random').optional(),
  })
  .strict();

export type LockManagerOptions = z.input<typeof managerOptionsSchema>;

export const acquireOptionsSchema = z
  .object({
    ttlMs: z.number().int().positive().optional(),
    waitMs: waitMsSchema.optional(),
    mode: z.enum(['exclusive', 'shared']).default('exclusive'),
    signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, { message: 'expected an AbortSignal' }).optional(),
    /** Reentrancy owner; default: the async context's (inside `using`), else a fresh one (not reentrant). */
    owner: z.string().min(1).optional(),
    autoExtend: z.boolean().optional(),
    /** Exclusive only: FIFO fair (queue, hand-off) or not; default the manager's `fair`. */
    fair: z.boolean().optional(),
  })
  .strict();

export type AcquireLockOptions = z.input<typeof acquireOptionsSchema>;
