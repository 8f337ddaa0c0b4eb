import {
  backoffOptionsSchema,
  type Clock,
  DEFAULT_COMMAND_TIMEOUT_MS,
  functionSchema,
  type Logger,
  objectSchema,
  type RedisClient,
  type ResolvedBackoffOptions,
} from '@ballast/core';
import { z } from 'zod';
import { groupsSchema, limiterSchema } from './limiter';

/** Seed 002's three levels (`TaskPriority.HIGH/MEDIUM/LOW`) on RabbitMQ's 0..10 scale: higher runs first. */
export const PRIORITIES = { high: 10, medium: 5, low: 1 } as const;
export type PriorityName = keyof typeof PRIORITIES;
export type Priority = PriorityName | number;
/** Highest numeric priority (RabbitMQ's `x-max-priority`). */
export const MAX_PRIORITY = 10;

/** Retention of finished jobs: `true` removes at once, `false` keeps all, or keep the last `count` / younger than `ageMs`. */
const retentionSchema = z.union([
  z.boolean(),
  z
    .object({
      count: z.number().int().min(0).optional(),
      ageMs: z.number().int().min(0).optional(),
    })
    .strict(),
]);
export type Retention = z.input<typeof retentionSchema>;

/** `number`: a fixed delay between attempts; an object: exponential backoff (core's options). */
const jobBackoffSchema = z.union([z.number().int().min(0), backoffOptionsSchema]);

export const jobOptionsSchema = z
  .object({
    /** `high` | `medium` | `low` or 0..10 (seed 002: three levels). Checked separately: see `resolvePriority`. */
    priority: z.unknown().optional(),
    /** Run no earlier than this many ms from now (seed 002's delayed tasks). */
    delayMs: z.number().int().min(0).optional(),
    /** Attempts in total, the first included. After the last failure the job goes to the DLQ. */
    attempts: z.number().int().min(1).optional(),
    /** Delay before each retry: a fixed number of ms or exponential backoff options. */
    backoff: jobBackoffSchema.optional(),
    /** One attempt's time limit: the handler's signal aborts and the attempt fails with `JobTimeoutError`. `0`: none. */
    timeoutMs: z.number().int().min(0).optional(),
    /** Deduplicates: adding a job whose id exists returns the existing job, adds nothing. */
    jobId: z.string().min(1).max(256).optional(),
    /** What to keep of completed jobs. */
    removeOnComplete: retentionSchema.optional(),
    /** What to keep of finally failed jobs (queues with `deadLetter: false`). */
    removeOnFail: retentionSchema.optional(),
    /** The job's group on a grouped queue (`groups` option), e.g. a tenant id: groups take turns. */
    group: z.string().max(256).optional(),
  })
  .strict();
export type JobOptions = Omit<z.input<typeof jobOptionsSchema>, 'priority'> & { priority?: Priority };

/** Defaults every job of a queue gets unless its own options say otherwise. */
export const JOB_DEFAULTS = {
  priority: 'medium' as Priority,
  delayMs: 0,
  attempts: 3,
  // Frozen: checked once, not per job (see `resolvedBackoff`).
  backoff: Object.freeze({ initialMs: 1_000, maxMs: 60_000, factor: 2, jitter: 'full' }) as z.input<
    typeof backoffOptionsSchema
  >,
  timeoutMs: 30_000,
  removeOnComplete: { count: 1_000 } as Retention,
  removeOnFail: { count: 5_000 } as Retention,
};

/** What the worker needs of a job's options, stored beside the job (`opts`). */
export interface StoredJobOptions {
  attempts: number;
  backoff: ResolvedBackoffOptions;
  timeoutMs: number;
  /** [count, ageMs]; -1: unbounded. count 0: remove at once. */
  keepComplete: [number, number];
  keepFail: [number, number];
  /** W3C trace context of the `add` that enqueued the job (its producer span): the worker's span continues it. */
  trace?: Record<string, string>;
  /** Its group on a grouped queue. */
  group?: string;
  /** A flow child: its parent (the worker then passes its outcome on, see flows.ts). */
  parent?: { queue: string; id: string };
}

export const queueOptionsSchema = z
  .object({
    /** `memory` (default, one process), `redis` or `rabbitmq`. */
    backend: z.enum(['memory', 'redis', 'rabbitmq']).default('memory'),
    /** Redis client or URL (`redis` backend; with `rabbitmq`, a Redis status store). */
    redis: z.union([z.string().min(1), objectSchema<RedisClient>('redis')]).optional(),
    /** First segment of every Redis key. */
    prefix: z.string().min(1).default('ballast'),
    /**
     * How long one Redis command may wait for its reply; past it (Redis down, hung) the call fails with core's
     * `BackendUnavailableError`. The blocking wait for jobs gets its `blockMs` on top.
     */
    commandTimeoutMs: z.number().positive().default(DEFAULT_COMMAND_TIMEOUT_MS),
    /**
     * `redis` backend, off by default: after `add`/`addBulk` writes jobs, `WAIT replicas timeoutMs` on the master
     * holding the queue's keys (on a Cluster, their slot's master); fewer acknowledgements reject with
     * `QueueDurabilityError` — the jobs are queued on the master all the same (WAIT bounds what a failover can
     * lose; it is not a rollback nor strong consistency). Jobs added to a group are not waited on.
     */
    durability: z
      .object({ replicas: z.number().int().min(1), timeoutMs: z.number().int().min(1) })
      .strict()
      .optional(),
    /** AMQP URL (`rabbitmq` backend). */
    url: z.string().min(1).optional(),
    /**
     * RabbitMQ queue type (`rabbitmq` backend). `classic` (default): one priority queue (`x-max-priority` 10).
     * `quorum`: replicated queues for a cluster; RabbitMQ 3.x quorum queues have no priorities, so each
     * priority level (0..10) gets its own queue (`<name>` for 5, `<name>.p<n>` for the others) and a worker
     * consumes all of them, running what it holds highest first. Delays and the DLQ work the same.
     */
    queueType: z.enum(['classic', 'quorum']).default('classic'),
    /**
     * Where the `rabbitmq` backend keeps job status (getJob, counts, dedupe, pause): a `StatusStore`; default a
     * Redis one when `redis` is given, else in memory: this process only (another process's `getJob`, `counts`,
     * `jobId` dedupe and pause do not see it), logged as a warning once per process. Passing a
     * `MemoryStatusStore` here says that is what you want (no warning).
     */
    statusStore: objectSchema<import('./status').StatusStore>('statusStore').optional(),
    /** Defaults merged under every job's options. */
    defaultJobOptions: objectSchema<JobOptions>('defaultJobOptions').optional(),
    /** Largest serialised job data accepted by `add`, bytes. */
    maxPayloadBytes: z
      .number()
      .int()
      .positive()
      .default(512 * 1024),
    /** After the last attempt: `true` moves the job to the DLQ, `false` to `failed` (trimmed by `removeOnFail`). */
    deadLetter: z.boolean().default(true),
    /**
     * What the DLQ keeps: the newest `count` dead jobs, none older than `ageMs` (each bound optional); `false`
     * keeps every dead job. Trimmed as jobs die (Redis, memory; RabbitMQ's DLQ is a broker queue: a policy's
     * `max-length` bounds it). Default: the last 10,000, up to 30 days.
     */
    deadLetterRetention: z
      .union([
        z.literal(false),
        z
          .object({
            count: z.number().int().positive().optional(),
            ageMs: z.number().int().positive().optional(),
          })
          .strict(),
      ])
      .default({ count: 10_000, ageMs: 30 * 24 * 3_600_000 }),
    /**
     * Rate limit of the whole queue: at most `max` jobs started per `durationMs` by all its workers in every
     * process (a token bucket of `max` refilled over `durationMs`, in Redis on Redis). See `worker.rateLimit`.
     */
    limiter: limiterSchema.optional(),
    /**
     * Grouped queue: every job in a group (`group` job option, default `''`), groups served round-robin, each
     * optionally rate limited on its own (`{ limiter: { max, durationMs } }`, per group, all processes).
     */
    groups: groupsSchema.optional(),
    clock: objectSchema<Clock>('clock').optional(),
    logger: objectSchema<Logger>('logger').optional(),
    /**
     * Publish this queue's job events (waiting, waiting-children, active, progress, completed, failed, dead,
     * stalled, delayed, removed) for `createQueueEvents` in any process: on Redis a stream per queue holding about
     * `maxLen` (default 10,000, at most 1,000,000) events (an entry holds one tick's events, up to maxLen / 10 and
     * 100) and, with `maxAgeMs`, the events of that last span (Redis' clock on Redis).
     * Off by default; turn it on in every process that adds or works on the queue.
     */
    events: z
      // The object first: a bad field (`{ maxAgeMs: 1.5 }`) ties with "not a boolean" on issue count, and the
      // first branch is the one reported — so the error names `events.maxAgeMs`, not `events: expected boolean`.
      .union([
        z
          .object({
            maxLen: z.number().int().positive().max(1_000_000).optional(),
            maxAgeMs: z.number().int().positive().optional(),
          })
          .strict(),
        z.boolean(),
      ])
      .default(false),
  })
  .strict();
export type QueueOptions = z.input<typeof queueOptionsSchema>;
export type ResolvedQueueOptions = z.output<typeof queueOptionsSchema>;

export const workerOptionsSchema = z
  .object({
    /** Jobs handled at once (seed 002: `start_workers(worker_count=4)`). */
    concurrency: z.number().int().positive().default(4),
    /**
     * Jobs fetched ahead of free slots (leased, started as slots free), so the next batch is at hand when a
     * batch finishes; default = concurrency. `0` fetches only for free slots: strictest priority order across
     * workers (a job added later never waits behind jobs another worker fetched ahead). On RabbitMQ the
     * broker's prefetch is concurrency + this option, default concurrency alone: a job of higher priority added
     * later overtakes every waiting job the worker does not run yet (a delivery round trip between jobs at most
     * for each slot; set `prefetch` to trade some priority order for throughput).
     */
    prefetch: z.number().int().min(0).optional(),
    /** Lease of an active job; renewed while it runs, recovered as stalled when it lapses. */
    lockMs: z.number().int().positive().default(30_000),
    /** Lease renewal period; default lockMs / 2. */
    renewIntervalMs: z.number().int().positive().optional(),
    /** How often this worker looks for stalled jobs (lapsed leases). */
    stalledIntervalMs: z.number().int().positive().default(30_000),
    /** Times a job may stall and go back to waiting; past it the job goes to the DLQ. */
    maxStalledCount: z.number().int().min(0).default(1),
    /** Longest blocking wait for new jobs before looking again (a safety net; wake-ups end it earlier). */
    blockMs: z.number().int().positive().default(5_000),
    /** Time in-flight jobs get on `close()`; after it their signals abort and the close returns. */
    drainTimeoutMs: z.number().int().positive().default(30_000),
    /**
     * Claim the queue's due scheduler ticks (`upsertScheduler`) and add their jobs; every worker that does
     * races for each tick and exactly one wins. Looks again at least every `blockMs`.
     */
    schedulers: z.boolean().default(true),
    /**
     * With a processor module (`createWorker(queue, new URL('./processor.js', import.meta.url), …)`): where it
     * runs. `thread` (the default): a pool of `concurrency` worker threads; `process`: a pool of `concurrency`
     * child processes (a crash or a native module's fault cannot take the worker's process down; more memory,
     * slower to start).
     */
    sandbox: z.enum(['thread', 'process']).default('thread'),
    /** Start fetching at once (default) or on `run()`. */
    autorun: z.boolean().default(true),
    /** Called for background errors (fetch, renew, stalled check); default: logged. */
    onError: functionSchema<(error: unknown) => void>('onError').optional(),
  })
  .strict();
export type WorkerOptions = z.input<typeof workerOptionsSchema>;
export type ResolvedWorkerOptions = z.output<typeof workerOptionsSchema>;
