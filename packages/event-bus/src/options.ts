import {
  backoffOptionsSchema,
  clockSchema,
  DEFAULT_COMMAND_TIMEOUT_MS,
  functionSchema,
  loggerSchema,
  objectSchema,
} from '@ballast/core';
import { z } from 'zod';
import type { Transport } from './transport';

export const subscribeOptionsSchema = z
  .object({
    /** Consumer group; default seed 000's `group:<type>` (no braces). Every group gets every event. */
    group: z.string().min(1).optional(),
    /** This consumer's name in the group; default `consumer:<host>:<pid>:<random>`. */
    consumer: z.string().min(1).optional(),
    /**
     * Where a group that does not exist yet starts: `'earliest'` (default: every event the stream still holds,
     * so nothing published before the first deploy of a subscriber is missed), `'latest'` (only events
     * published from now on) or an entry id (`<ms>-<seq>`: the events after it). An existing group keeps its
     * position whatever this says. A group Redis lost is always recreated from the earliest (nothing lost).
     */
    startFrom: z
      .union([z.enum(['earliest', 'latest']), z.string().regex(/^\d+-\d+$/, 'an entry id <ms>-<seq>')])
      .default('earliest'),
    /**
     * Per-key ordering: consume the type's partition streams (events published with a `partitionKey`), the
     * events of one key one at a time in publish order across the group's consumers — see the README's
     * "Per-key ordering". A plain subscriber does not see partitioned events, nor an ordered one plain events.
     */
    ordered: z.boolean().default(false),
    /** Ordered: a consumer's ownership of a partition lapses this long after its last renewal (crash takeover). */
    orderedLeaseMs: z.number().int().positive().default(10_000),
    /** Ordered: how often an owned partition with nothing new is polled. */
    orderedPollMs: z.number().int().positive().default(100),
    /** Handlers running at once. */
    concurrency: z.number().int().positive().default(10),
    /** XREADGROUP COUNT (seed 000: 10). */
    batchSize: z.number().int().positive().default(10),
    /** XREADGROUP BLOCK (seed 000: 1000 ms). */
    blockMs: z.number().int().min(0).default(1_000),
    /** Deliveries before an entry goes to the DLQ. */
    maxDeliveries: z.number().int().positive().default(5),
    /** An entry pending this long without renewal is taken over by another consumer (crash recovery). */
    idleTimeoutMs: z.number().int().positive().default(30_000),
    /** How often a consumer renews the lease of the entries it is handling; default idleTimeoutMs / 3. */
    renewIntervalMs: z.number().int().positive().optional(),
    /** How often a consumer looks for stale or due-for-retry entries. */
    claimIntervalMs: z.number().int().positive().default(1_000),
    /** Delay before a failed entry is redelivered, growing with its delivery count. */
    retryBackoff: backoffOptionsSchema.prefault({ initialMs: 1_000, maxMs: 60_000, factor: 2, jitter: 'full' }),
    /**
     * Housekeeping period: group-aware trim of the type's stream, and removal of consumers idle longer than
     * `removeIdleConsumersAfterMs` that hold nothing pending. `0` turns it off.
     */
    maintenanceIntervalMs: z.number().int().min(0).default(60_000),
    /** A consumer silent this long, with nothing pending, is removed from the group. */
    removeIdleConsumersAfterMs: z.number().int().positive().default(3_600_000),
    /**
     * Bound of one delivery's handlers (`0`: none). Past it the handler's `signal` aborts with
     * `HandlerTimeoutError` and the delivery fails (retried, dead-lettered after `maxDeliveries`): a handler
     * that never returns in a live consumer otherwise keeps its entry pending — renewed, never taken over —
     * and pins the group's retention floor.
     */
    handlerTimeoutMs: z.number().int().min(0).default(0),
    /** Time a handler gets after `close()` before the drain gives up on it (it stays pending: redelivered). */
    drainTimeoutMs: z.number().int().positive().default(30_000),
  })
  .strict();

export type SubscribeOptions = z.input<typeof subscribeOptionsSchema>;
export type ResolvedSubscribeOptions = z.output<typeof subscribeOptionsSchema>;

/**
 * Bounded retention of each type's stream and DLQ, applied by every trim (`bus.trim`, each consumer's
 * maintenance, and the bus's own timer). `0` turns a limit off.
 */
export const retentionOptionsSchema = z
  .object({
    /**
     * Entries older than this are removed — never one a live group has not acknowledged (delivered and pending,
     * or not yet delivered to it). Default 7 days.
     */
    maxAgeMs: z
      .number()
      .int()
      .min(0)
      .default(7 * 86_400_000),
    /** Beyond this many entries the oldest are removed, with the same live-group floor. Default 1 000 000. */
    maxLen: z.number().int().min(0).default(1_000_000),
    /**
     * A group none of whose consumers was active for this long (or that has none) is dead: it stops holding
     * entries back from the age/length limits; each trim that removes entries it had not consumed logs a
     * warning and counts `ballast_event_bus_dead_group_trims_total`. Default 24 h; 0 = a group is never dead.
     */
    deadGroupAfterMs: z.number().int().min(0).default(86_400_000),
    /** DLQ cap by count, oldest removed first (logged, `ballast_event_bus_dlq_trimmed_total`). Default 100 000. */
    dlqMaxLen: z.number().int().min(0).default(100_000),
    /** DLQ cap by age (logged, `ballast_event_bus_dlq_trimmed_total`). Default 30 days. */
    dlqMaxAgeMs: z
      .number()
      .int()
      .min(0)
      .default(30 * 86_400_000),
    /**
     * How often the bus itself trims every type of its schemas — also types no process subscribes to, which no
     * consumer maintenance reaches. Default 5 min; 0 = off (consumers' maintenance and `bus.trim` still trim).
     */
    intervalMs: z.number().int().min(0).default(300_000),
  })
  .strict();

export type RetentionOptions = z.input<typeof retentionOptionsSchema>;
export type ResolvedRetentionOptions = z.output<typeof retentionOptionsSchema>;

export const busOptionsSchema = z
  .object({
    /** Where streams live. Give this, or `redis`; neither: an in-memory transport (single process). */
    transport: objectSchema<Transport>('transport').optional(),
    /** A Redis client: the bus makes a `RedisTransport` on it (and closes only what it created). */
    redis: objectSchema<import('@ballast/core').RedisClient>('redis').optional(),
    /** Key prefix for the Redis transport: `myapp` (or `myapp:`) gives `myapp:events:{type}`. Default none. */
    prefix: z.string().optional(),
    /**
     * Redis key names: `'cluster'` (default: `events:{type}`, Cluster-safe) or `'seed'` (seed 000's exact
     * `events:<type>`, standalone Redis only) — see the README's key table.
     */
    keyLayout: z.enum(['cluster', 'seed']).default('cluster'),
    /** `source_service` of every event published (seed 000). */
    source: z.string().min(1),
    /** Event type → zod schema of its `data`. */
    events: z.record(z.string().min(1), objectSchema<z.ZodType>('schema')),
    /**
     * Partition streams per type for `publish(type, data, { partitionKey })` (`events:{type:p<n>}`); publishers
     * and ordered subscribers of a type must agree on it. Default 16.
     */
    partitions: z.number().int().min(1).max(1024).default(16),
    /** Retention of each type's stream and DLQ: see `retentionOptionsSchema` and the README's table. */
    retention: retentionOptionsSchema.prefault({}),
    /** Approximate cap of `events:all`. */
    maxLenAll: z.number().int().min(0).default(100_000),
    /**
     * Largest encoded `data` (JSON, bytes) `publish` accepts; a bigger event is refused with
     * `PayloadTooLargeError` before anything is written. Default 1 MiB; 0 = no limit.
     */
    maxPayloadBytes: z.number().int().min(0).default(1_048_576),
    /**
     * How long one Redis command may wait for its reply; past it (Redis down, hung) the call fails with core's
     * `BackendUnavailableError`. Blocking reads get their `blockMs` on top.
     */
    commandTimeoutMs: z.number().positive().default(DEFAULT_COMMAND_TIMEOUT_MS),
    /** Validate `data` on publish too (always validated on consume). */
    validateOnPublish: z.boolean().default(true),
    clock: clockSchema().optional(),
    logger: loggerSchema().optional(),
    /** Event ids; default `crypto.randomUUID`. */
    newId: functionSchema<() => string>('newId').optional(),
  })
  .strict();
