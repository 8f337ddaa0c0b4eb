import {
  type Clock,
  childLogger,
  createRedis,
  EventEmitter,
  getDefaultLogger,
  guardRedis,
  InvalidOptionsError,
  injectTraceContext,
  type Logger,
  parseOptions,
  type RedisClient,
  systemClock,
  watchConnection,
} from '@ballast/core';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Counts, QueueBackend } from './backend';
import { MemoryBackend } from './backends/memory';
import { RabbitBackend } from './backends/rabbitmq';
import { RedisBackend } from './backends/redis';
import { QueueClosedError } from './errors';
import {
  EventPublisher,
  type EventsTransport,
  eventsKey,
  MemoryTransport,
  type QueueEventInput,
  QueueEvents,
  type QueueEventsOptions,
  RedisStreamTransport,
} from './events';
import { type FlowJob, type FlowNode, planFlow, writeFlow } from './flows';
import { groupedOptions, withGroupCounts } from './groups';
import { type AddedJob, type JobErrorEntry, type JobInfo, type JobState, type NewJob, prepareJob } from './job';
import { queueInstruments } from './metrics';
import {
  type CleanableState,
  type CleanOptions,
  clean,
  drain,
  type GetJobsOptions,
  getJobs,
  JobHandle,
  type ObliterateOptions,
  obliterate,
} from './operations';
import { type JobOptions, type QueueOptions, queueOptionsSchema, type ResolvedQueueOptions } from './options';
import {
  pokeRunners,
  resolveScheduler,
  type Schedule,
  type SchedulerInfo,
  type SchedulerTemplate,
  schedulerInfo,
  schedulerStoreOf,
} from './scheduler';
import { MemoryStatusStore, RedisStatusStore } from './status';

let warnedMemoryStatus = false;

/**
 * RabbitMQ with neither `redis` nor `statusStore`: job status and dedupe live in this process's memory. Said
 * once per process (every queue of it is in the same situation).
 */
function warnMemoryStatus(logger: Logger): void {
  if (warnedMemoryStatus) return;
  warnedMemoryStatus = true;
  logger.warn(
    { backend: 'rabbitmq', statusStore: 'memory' },
    'queue on RabbitMQ without a `redis` status store: getJob, counts, jobId dedupe and pause are per process ' +
      '(another process sees none of it); pass `redis` (or `statusStore: new MemoryStatusStore()` to accept this)',
  );
}

export interface JobRef {
  id: string;
  name: string;
  priority: number;
}
export interface CompletedEvent {
  job: JobRef;
  result: unknown;
  durationMs: number;
}
export interface FailedEvent {
  job: JobRef;
  error: unknown;
  attempt: number;
  /** Another attempt follows (see `retrying`). */
  willRetry: boolean;
}
export interface RetryingEvent {
  job: JobRef;
  error: unknown;
  attempt: number;
  delayMs: number;
}
export interface StalledEvent {
  jobId: string;
  outcome: 'waiting' | 'dead';
}
export interface DeadEvent {
  jobId: string;
  /** The last failure (a `JobStalledError` entry for jobs that stalled too often). */
  error: JobErrorEntry | unknown;
}

/** A job to add in bulk. */
export interface BulkJob<D = unknown> {
  name: string;
  data: D;
  options?: JobOptions;
}

/** One page of the DLQ (`listDead({ cursor, limit })`). */
export interface DeadPage<D = unknown> {
  /** Dead jobs, oldest first. */
  jobs: JobInfo<D>[];
  /** Pass to the next `listDead` call for the jobs after these; `null` when this page is the last. */
  cursor: string | null;
}

/** Options for a custom backend instance instead of a built-in one. */
export type CreateQueueOptions = Omit<QueueOptions, 'backend'> & { backend?: QueueOptions['backend'] | QueueBackend };

/**
 * A named job queue (seed 002's queue manager). `add` enqueues; workers created with `createWorker(queue, …)`
 * process. Events here are emitted by this process's workers of the queue.
 */
export class Queue<D = unknown> {
  readonly name: string;
  readonly backend: QueueBackend;
  readonly options: ResolvedQueueOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  /** @internal emitters workers of this queue emit to. */
  readonly emitters = {
    completed: new EventEmitter<CompletedEvent>('completed'),
    failed: new EventEmitter<FailedEvent>('failed'),
    retrying: new EventEmitter<RetryingEvent>('retrying'),
    stalled: new EventEmitter<StalledEvent>('stalled'),
    dead: new EventEmitter<DeadEvent>('dead'),
  };
  readonly onCompleted = this.emitters.completed.event;
  readonly onFailed = this.emitters.failed.event;
  readonly onRetrying = this.emitters.retrying.event;
  readonly onStalled = this.emitters.stalled.event;
  readonly onDead = this.emitters.dead.event;
  #owned: RedisClient | undefined;
  /** One outage, one warning: the queue's connections (client, waiters) share whether Redis is down. */
  readonly #connection = { down: false };
  /** Removes the 'error' listener put on a client the user gave (theirs to close, ours not to leave noisy). */
  #unwatchGiven: (() => void) | undefined;
  readonly #tracer = queueInstruments().tracer;

  /** A connection made from a URL is ours: closed by `close()`, its outages logged once each. */
  #own(client: RedisClient): RedisClient {
    watchConnection(client, { logger: this.logger, backend: 'redis', connection: 'queue', state: this.#connection });
    this.#owned = client;
    return client;
  }

  /**
   * A client the user gave stays theirs (not closed by `close()`), but gets an 'error' listener while the queue
   * uses it: an outage is logged once as a warning instead of ioredis printing an unhandled-error stack for
   * every reconnect attempt.
   */
  #given(client: RedisClient): RedisClient {
    this.#unwatchGiven ??= watchConnection(client, {
      logger: this.logger,
      backend: 'redis',
      connection: 'queue',
      state: this.#connection,
    });
    return client;
  }
  readonly #closers = new Set<() => Promise<void>>();
  readonly #unwatch: () => void;
  #closed = false;
  /** The Redis client events go through (the backend's, or RabbitMQ's status store's); none: in memory. */
  #eventsRedis: RedisClient | undefined;
  #memoryEvents: MemoryTransport | undefined;
  #publisher: EventPublisher | undefined;

  constructor(name: string, options: CreateQueueOptions = {}) {
    const custom = typeof options.backend === 'object' ? options.backend : undefined;
    this.options = parseOptions(
      queueOptionsSchema,
      { ...options, backend: custom ? custom.kind : options.backend },
      `createQueue("${name}")`,
    );
    this.name = name;
    this.clock = this.options.clock ?? systemClock;
    this.logger = childLogger(this.options.logger ?? getDefaultLogger(), { component: 'queue', queue: name });
    if (custom) {
      this.backend = custom;
    } else if (this.options.backend === 'redis') {
      const given = this.options.redis;
      if (given === undefined) {
        throw new InvalidOptionsError(`createQueue("${name}")`, [
          {
            path: 'redis',
            expected: 'a Redis client or URL',
            received: 'undefined',
            message: 'backend "redis" needs redis',
          },
        ]);
      }
      const client = typeof given === 'string' ? this.#own(createRedis(given)) : this.#given(given);
      this.#eventsRedis = guardRedis(client, { commandTimeoutMs: this.options.commandTimeoutMs });
      this.backend = new RedisBackend({
        redis: client,
        name,
        prefix: this.options.prefix,
        commandTimeoutMs: this.options.commandTimeoutMs,
        logger: this.logger,
        connectionState: this.#connection,
        ...(this.options.durability ? { durability: this.options.durability } : {}),
      });
    } else if (this.options.backend === 'rabbitmq') {
      const url = this.options.url;
      if (url === undefined) {
        throw new InvalidOptionsError(`createQueue("${name}")`, [
          { path: 'url', expected: 'an AMQP URL', received: 'undefined', message: 'backend "rabbitmq" needs url' },
        ]);
      }
      const given = this.options.redis;
      let status = this.options.statusStore;
      if (!status && given !== undefined) {
        const client = typeof given === 'string' ? this.#own(createRedis(given)) : this.#given(given);
        const guarded = guardRedis(client, { commandTimeoutMs: this.options.commandTimeoutMs });
        status = new RedisStatusStore(guarded, name, this.options.prefix);
        this.#eventsRedis = guarded;
      }
      if (!status) warnMemoryStatus(this.logger);
      this.backend = new RabbitBackend({
        url,
        name,
        queueType: this.options.queueType,
        status: status ?? new MemoryStatusStore(),
        clock: this.clock,
        logger: this.logger,
        commandTimeoutMs: this.options.commandTimeoutMs,
      });
    } else {
      this.backend = new MemoryBackend({ clock: this.clock });
    }
    this.#unwatch = queueInstruments().watch({ name, counts: () => this.counts() });
    if (this.options.events !== false) {
      const publisher = new EventPublisher(this.eventsTransport(), this.logger);
      this.#publisher = publisher;
      // addFlow's jobs, and the moves of flow parents this process's workers make (in whichever queue).
      const flows = this.backend.flows?.();
      if (flows) {
        const [maxLen, maxAgeMs] = this.#eventsRetention;
        flows.events = { publish: (event) => publisher.publish(event), maxLen, maxAgeMs };
      }
    }
  }

  /** Capped length and age of the events stream (`events: { maxLen, maxAgeMs }`). */
  get #eventsRetention(): [maxLen: number, maxAgeMs: number] {
    const e = this.options.events;
    return [(typeof e === 'object' ? e.maxLen : undefined) ?? 10_000, (typeof e === 'object' ? e.maxAgeMs : 0) ?? 0];
  }

  /**
   * @internal A transport for this queue's events: the queue's Redis stream (a connection of its own for
   * blocking reads), or this process's memory (memory backend; RabbitMQ without `redis`).
   */
  eventsTransport(): EventsTransport {
    const [maxLen, maxAgeMs] = this.#eventsRetention;
    if (this.#eventsRedis)
      return new RedisStreamTransport(this.#eventsRedis, eventsKey(this.name, this.options.prefix), maxLen, maxAgeMs);
    this.#memoryEvents ??= new MemoryTransport(maxLen, maxAgeMs, () => this.clock.now());
    return this.#memoryEvents;
  }

  /** @internal Publishes one job event (no-op unless the queue was created with `events`). */
  publish(event: QueueEventInput): void {
    this.#publisher?.publish(event);
  }

  /**
   * This queue's events as every process sees them (see `QueueEvents`); close it when done. Events are published
   * by queues created with `events: true` (in whichever process adds or works on the jobs).
   */
  createEvents(options: QueueEventsOptions = {}): QueueEvents {
    return new QueueEvents(this.eventsTransport(), this.logger, options);
  }

  /** A job by id, to act on: `remove`, `retry`, `promote`, `changePriority`, `updateData`, `waitUntilFinished`. */
  job(id: string): JobHandle<D> {
    return new JobHandle<D>(this, id);
  }

  /**
   * Jobs of one or more states, read at one instant: the states joined in the order given (each oldest first;
   * waiting: in the order they will run), the `[start, end]` slice of that (`end` -1: to the end).
   */
  getJobs(states: JobState | readonly JobState[], options: GetJobsOptions = {}): Promise<JobInfo<D>[]> {
    return getJobs(this, states, options);
  }

  /**
   * Removes up to `limit` (default 1,000) jobs of `state` that finished (waiting/delayed: were added) more than
   * `olderThanMs` ago. Returns their ids. Active jobs cannot be cleaned (their workers hold them).
   */
  clean(state: CleanableState, options: CleanOptions = {}): Promise<string[]> {
    this.#check('clean');
    return clean(this, state, options);
  }

  /** Removes every waiting and delayed job (active and finished ones stay). Returns how many. */
  drain(): Promise<number> {
    this.#check('drain');
    return drain(this);
  }

  /**
   * Removes the queue with all its jobs, pausing it first. With active jobs it throws `QueueHasActiveJobsError`
   * and removes nothing, unless `force` (then their workers' acks find nothing: reported, without effect).
   */
  obliterate(options: ObliterateOptions = {}): Promise<number> {
    this.#check('obliterate');
    return obliterate(this, options);
  }

  #check(operation: string): void {
    if (this.#closed) throw new QueueClosedError(this.name, operation);
  }

  #prepare(name: string, data: unknown, options: JobOptions | undefined, carrier?: Record<string, string>): NewJob {
    const grouped = groupedOptions(this.backend, !!this.options.groups, this.name, name, options);
    return prepareJob(name, data, grouped, this.options.defaultJobOptions, this.options.maxPayloadBytes, carrier);
  }

  /**
   * Runs an enqueue in a producer span whose W3C trace context each job carries (`traceparent`): the worker's
   * `queue.process` span is its child, so one trace runs from `add` to the handler, across processes.
   */
  async #produce<T>(spanName: string, fn: (carrier: Record<string, string>) => Promise<T>): Promise<T> {
    const span: Span = this.#tracer.startSpan(spanName, {
      kind: SpanKind.PRODUCER,
      attributes: { 'ballast.queue': this.name },
    });
    try {
      return await fn(injectTraceContext({}, trace.setSpan(context.active(), span)) as Record<string, string>);
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * Enqueues one job. Bad options, an unknown priority, non-serialisable data or an oversized payload throw
   * a typed error and enqueue nothing. A `jobId` that exists returns that job with `duplicate: true`.
   */
  async add(name: string, data: D, options?: JobOptions): Promise<AddedJob> {
    this.#check('add');
    return this.#produce(`queue.add ${name}`, async (carrier) => {
      const job = this.#prepare(name, data, options, carrier);
      const now = this.clock.now();
      const [r] = await this.backend.add([job], now);
      if (this.#publisher && r!.added) this.#published(r!.id, job.delayMs, now);
      return { id: r!.id, name, duplicate: !r!.added };
    });
  }

  /** Enqueues many jobs in one atomic step (per 1,000 on Redis); all are validated before any is added. */
  async addBulk(jobs: readonly BulkJob<D>[]): Promise<AddedJob[]> {
    this.#check('addBulk');
    if (jobs.length === 0) return [];
    return this.#produce(`queue.addBulk ${this.name}`, async (carrier) => {
      const prepared = jobs.map((j) => this.#prepare(j.name, j.data, j.options, carrier));
      const now = this.clock.now();
      const results = await this.backend.add(prepared, now);
      if (this.#publisher)
        for (const [i, r] of results.entries()) if (r.added) this.#published(r.id, prepared[i]!.delayMs, now);
      return results.map((r, i) => ({ id: r.id, name: prepared[i]!.name, duplicate: !r.added }));
    });
  }

  /**
   * Adds a flow: a job that runs after every one of its `children` completed (they may be in other queues:
   * `queue`), each child possibly with children of its own. The parent waits in `waiting-children`; its handler
   * reads their results with `job.childrenResults()`. A child's final failure follows its policy
   * (`failParentOnFailure`, `ignoreDependencyOnFailure`, `removeDependencyOnFailure`; default: the parent waits).
   * Every job is validated before any is written; parents are written before their children, so a parent never
   * runs early. Jobs without `jobId` get `<parent id>:<index>`: with a `jobId` on the root, adding the same flow
   * again (after a crash midway) adds only what is missing. Not on RabbitMQ (`UnsupportedOperationError`).
   */
  async addFlow(flow: FlowJob<D>): Promise<FlowNode> {
    this.#check('addFlow');
    return this.#produce(`queue.addFlow ${this.name}`, async (carrier) => {
      const plan = planFlow(flow, this, (q, name, data, options) =>
        (q as Queue).prepareNew(name, data, options, carrier),
      );
      return writeFlow(plan, this.clock.now());
    });
  }

  /** @internal validates and serialises one job for this queue (its defaults and payload limit). */
  prepareNew(name: string, data: unknown, options: JobOptions | undefined, carrier?: Record<string, string>): NewJob {
    return this.#prepare(name, data, options, carrier);
  }

  #published(jobId: string, delayMs: number, now: number): void {
    this.publish(delayMs > 0 ? { event: 'delayed', jobId, delayUntil: now + delayMs } : { event: 'waiting', jobId });
  }

  /** A job's state, attempts, result or error history and timestamps; `undefined` once removed. */
  getJob<T = D, R = unknown>(id: string): Promise<JobInfo<T, R> | undefined> {
    return this.backend.getJob(id) as Promise<JobInfo<T, R> | undefined>;
  }

  async counts(): Promise<Counts> {
    const counts = await this.backend.counts();
    return this.options.groups ? withGroupCounts(this.backend, counts) : counts;
  }

  /** Jobs in a state, oldest first. */
  async list(state: JobState, offset = 0, limit = 100): Promise<JobInfo<D>[]> {
    // A grouped queue's waiting jobs sit in their groups' lines: the operations' listing walks those too.
    if (state === 'waiting' && this.options.groups && this.backend.ops)
      return (await this.backend.ops.getJobs([state], offset, offset + limit - 1, true)) as JobInfo<D>[];
    const ids = await this.backend.list(state, offset, limit);
    const jobs = await Promise.all(ids.map((id) => this.getJob(id)));
    return jobs.filter((j): j is JobInfo<D> => j !== undefined);
  }

  /** @internal the DLQ's retention as [count, ageMs] (-1: unbounded), for the backends' trimming. */
  get keepDead(): [number, number] {
    const r = this.options.deadLetterRetention;
    return r === false ? [-1, -1] : [r.count ?? -1, r.ageMs ?? -1];
  }

  /**
   * The dead-letter queue, oldest first, each with its error history. With `{ cursor, limit }` (default limit
   * 100): one page and the cursor of the next, exact while jobs die, are replayed or trimmed meanwhile (an
   * offset would skip or repeat jobs then). With numbers: `offset`, `limit`, as `list('dead', …)`.
   */
  listDead(page: { cursor?: string | null; limit?: number }): Promise<DeadPage<D>>;
  listDead(offset?: number, limit?: number): Promise<JobInfo<D>[]>;
  async listDead(
    first: number | { cursor?: string | null; limit?: number } = 0,
    limit = 100,
  ): Promise<JobInfo<D>[] | DeadPage<D>> {
    if (typeof first === 'number') return this.list('dead', first, limit);
    const size = first.limit ?? 100;
    const cursor = first.cursor ?? null;
    let ids: string[];
    let next: string | null;
    if (this.backend.listDeadAfter) {
      ({ ids, cursor: next } = await this.backend.listDeadAfter(cursor, size));
    } else {
      // Offset paging (RabbitMQ's status store): the cursor carries the offset.
      const offset = cursor === null ? 0 : Number(cursor.slice(2));
      ids = await this.backend.list('dead', offset, size);
      next = `o:${offset + ids.length}`;
    }
    const jobs = (await Promise.all(ids.map((id) => this.getJob(id)))).filter((j): j is JobInfo<D> => j !== undefined);
    return { jobs, cursor: ids.length < size ? null : next };
  }

  /** Dead jobs back to waiting with fresh attempts (all of them when `ids` is omitted). */
  replayDead(ids?: readonly string[]): Promise<number> {
    this.#check('replayDead');
    return this.backend.replayDead(this.clock.now(), ids);
  }

  /**
   * Adds or replaces the job scheduler `id`: every `every` ms, or on a cron `pattern` (in `tz`), a job from
   * `template`. Workers (any process) add the jobs, exactly one per tick. Upserting an unchanged schedule keeps
   * its next tick (call it on every start); a changed one starts over from now. Returns the scheduler.
   */
  async upsertScheduler<T = D>(
    id: string,
    schedule: Schedule,
    template: SchedulerTemplate<T>,
  ): Promise<SchedulerInfo<T>> {
    this.#check('upsertScheduler');
    const store = schedulerStoreOf(this.backend);
    const { record, specKey } = resolveScheduler(this, id, schedule, template, this.clock.now());
    await store.upsert(record, specKey);
    pokeRunners(this);
    return schedulerInfo<T>((await store.get(id)) ?? record);
  }

  /** Removes a scheduler (jobs it added stay); false when there was none. */
  removeScheduler(id: string): Promise<boolean> {
    this.#check('removeScheduler');
    return schedulerStoreOf(this.backend).remove(id);
  }

  /** One scheduler, or `undefined`. */
  async getScheduler<T = D>(id: string): Promise<SchedulerInfo<T> | undefined> {
    const r = await schedulerStoreOf(this.backend).get(id);
    return r ? schedulerInfo<T>(r) : undefined;
  }

  /** Every scheduler of the queue, soonest next tick first. */
  async listSchedulers<T = D>(): Promise<SchedulerInfo<T>[]> {
    return (await schedulerStoreOf(this.backend).list()).map((r) => schedulerInfo<T>(r));
  }

  /** Stops every worker of the queue (all processes) from taking new jobs; in-flight jobs finish. */
  pause(): Promise<void> {
    return this.backend.setPaused(true);
  }

  resume(): Promise<void> {
    return this.backend.setPaused(false);
  }

  isPaused(): Promise<boolean> {
    return this.backend.isPaused();
  }

  /** @internal workers register their close here, so closing the queue drains them first. */
  registerCloser(close: () => Promise<void>): () => void {
    this.#closers.add(close);
    return () => void this.#closers.delete(close);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes this process's workers of the queue (graceful), then the backend and a client it created. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#closers].map((c) => c()));
    await this.#publisher?.flush();
    this.#unwatch();
    await this.backend.close();
    if (this.#owned) await this.#owned.quit().catch(() => {});
    this.#unwatchGiven?.();
  }
}

/**
 * Creates a queue.
 *
 * @example
 * const queue = createQueue('default', { backend: 'redis', redis: 'redis://127.0.0.1:6379' });
 * await queue.add('process_medical_request', { userId: '123' }, { priority: 'high' });
 */
export function createQueue<D = unknown>(name: string, options: CreateQueueOptions = {}): Queue<D> {
  return new Queue<D>(name, options);
}
