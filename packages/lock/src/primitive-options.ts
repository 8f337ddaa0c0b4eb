import {
  clockSchema,
  DEFAULT_COMMAND_TIMEOUT_MS,
  functionSchema,
  loggerSchema,
  objectSchema,
  type RedisClient,
} from '@ballast/core';
import { z } from 'zod';

/** A wait in ms; `Infinity` waits until granted or aborted. */
export const waitMsSchema = z.union([z.number().min(0), z.literal(Number.POSITIVE_INFINITY)]);
export const signalSchema = z
  .custom<AbortSignal>((v) => v instanceof AbortSignal, { message: 'expected an AbortSignal' })
  .optional();

/** Options every primitive factory shares: where it lives, its clock and logger. */
export const commonPrimitiveShape = {
  /** A Redis client (single node or Cluster): the primitive lives there. Without one (and no backend): in memory. */
  redis: objectSchema<RedisClient>('redis').optional(),
  prefix: z.string().min(1).default('ballast'),
  /** How long one Redis command may wait for its reply; past it the call fails with `BackendUnavailableError`. */
  commandTimeoutMs: z.number().positive().default(DEFAULT_COMMAND_TIMEOUT_MS),
  /** Upper bound of the safety-net re-check while waiting (wake-ups come from pub/sub). */
  maxRetryDelayMs: z.number().int().positive().default(1_000),
  clock: clockSchema().optional(),
  logger: loggerSchema().optional(),
  random: functionSchema<() => number>('random').optional(),
};

/** Options of primitives that hold leases (semaphore permits, multi-locks, read/write leases). */
export const leaseShape = {
  /** Lease length; a holder that dies frees what it held after this long. */
  ttlMs: z.number().int().positive().default(30_000),
  /** Extend held leases every ttl/3 while held. */
  autoExtend: z.boolean().default(true),
  /** How long `acquire` waits by default; `Infinity` waits until granted or aborted. */
  waitMs: waitMsSchema.default(Number.POSITIVE_INFINITY),
  /** Share of the ttl assumed lost to clock drift when computing a lease's validity (+2 ms). */
  driftFactor: z.number().min(0).max(0.5).default(0.01),
};

/** Per-call options of every lease-holding `acquire` (semaphore, multi-lock, read/write lock). */
export const holdOptionsSchema = z
  .object({
    waitMs: waitMsSchema.optional(),
    signal: signalSchema,
    ttlMs: z.number().int().positive().optional(),
    autoExtend: z.boolean().optional(),
  })
  .strict();
