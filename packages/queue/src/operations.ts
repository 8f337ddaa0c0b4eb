import { abortedError, InvalidOptionsError, parseOptions } from '@ballast/core';
import { z } from 'zod';
import type { QueueEvents } from './events';
import { type Dependencies, flowStoreOf, readDependencies } from './flows';
import type { JobInfo, JobState } from './job';
import { resolvePriority, serialize } from './job';
import {
  JobFailedError,
  JobNotFoundError,
  JobStateError,
  QueueHasActiveJobsError,
  UnsupportedOperationError,
  WaitTimeoutError,
} from './operation-errors';
import type { Priority } from './options';
import type { Queue } from './queue';

/** A job operation a backend runs atomically (one script on Redis). */
export type JobOpKind = 'remove' | 'retry' | 'promote' | 'priority' | 'data' | 'progress';

/** `done`, or refused with the job's state (`undefined`: no such job). `state` is the state before. */
export interface OpOutcome {
  done: boolean;
  state: JobState | undefined;
}

/** What a backend offers for job and queue operations; `QueueBackend.ops` (absent: not supported). */
export interface BackendOperations {
  /** See job-op.lua: `priority` takes the priority, `data` the JSON, `progress` the lease token and JSON. */
  jobOp(op: JobOpKind, id: string, ...args: string[]): Promise<OpOutcome>;
  /** Appends a line, keeping the newest `maxLines`; lines ever logged, or `undefined` when the job is gone. */
  log(id: string, line: string, maxLines: number): Promise<number | undefined>;
  /** The `[start, stop]` slice of the states' jobs joined in the order given, read at one instant. */
  getJobs(states: readonly JobState[], start: number, stop: number, asc: boolean): Promise<JobInfo[]>;
  /** Removes up to `limit` jobs of `state` finished (created, for waiting/delayed) before `cutoff`. */
  clean(state: JobState, cutoff: number, limit: number): Promise<string[]>;
  /** Removes up to `chunk` waiting/delayed jobs; `left`: how many remain. */
  drain(chunk: number): Promise<{ removed: number; left: number }>;
  /** Removes up to `chunk` jobs of the queue (`active` set: refused, nothing removed); `left` 0: gone. */
  obliterate(force: boolean, chunk: number): Promise<{ removed: number; left: number; active?: number }>;
}

/** Newest log lines kept per job. */
export const MAX_LOG_LINES = 100;
/** Longest log line kept (longer ones are cut, marked with `…`). */
export const MAX_LOG_LINE_LENGTH = 4_096;
/** Jobs removed per script call by drain and obliterate: bounds how long one call holds Redis. */
const CHUNK = 5_000;

const STATES = ['waiting', 'waiting-children', 'delayed', 'active', 'completed', 'failed', 'dead'] as const;

const getJobsSchema = z
  .object({
    /** First position (0-based) of the joined list. */
    start: z.number().int().min(0).default(0),
    /** Last position, inclusive; -1: to the end. */
    end: z.number().int().min(-1).default(-1),
    /** Oldest (waiting: next to run) first; `false`: newest first. */
    asc: z.boolean().default(true),
  })
  .strict();
export type GetJobsOptions = z.input<typeof getJobsSchema>;

const cleanSchema = z
  .object({
    /** Only jobs finished (waiting/delayed: created) at least this long ago. Default 0: any. */
    olderThanMs: z.number().int().min(0).default(0),
    /** Most jobs removed by this call. */
    limit: z.number().int().min(1).max(100_000).default(1_000),
  })
  .strict();
export type CleanOptions = z.input<typeof cleanSchema>;
/** States `clean` takes: not `active` (workers hold those jobs) nor `waiting-children` (flow parents). */
export type CleanableState = Exclude<JobState, 'active' | 'waiting-children'>;

const obliterateSchema = z.object({ force: z.boolean().default(false) }).strict();
export type ObliterateOptions = z.input<typeof obliterateSchema>;

/** @internal the backend's operations, or the typed error saying it has none. */
export function opsOf(queue: Queue, operation: string): BackendOperations {
  const ops = queue.backend.ops;
  if (!ops) {
    throw new UnsupportedOperationError(
      queue.backend.kind === 'rabbitmq' ? 'RabbitMQ' : queue.backend.kind,
      operation,
      'a broker cannot reach into a queue to change or drop one message (see the README)',
    );
  }
  return ops;
}

function settle(queue: Queue, operation: string, id: string, r: OpOutcome, expected: readonly JobState[]): JobState {
  if (r.done) return r.state!;
  if (r.state === undefined) throw new JobNotFoundError(queue.name, id, operation);
  throw new JobStateError(queue.name, id, operation, r.state, expected);
}

/**
 * One job by id, to act on: `queue.job(id)`. Each operation is atomic against workers (one script on Redis);
 * a job in a state the operation does not apply to is refused with `JobStateError` and left as it was, a
 * missing job is `JobNotFoundError`.
 */
export class JobHandle<D = unknown> {
  constructor(
    readonly queue: Queue<D>,
    readonly id: string,
  ) {}

  /** The job as `queue.getJob(id)` reports it. */
  get<R = unknown>(): Promise<JobInfo<D, R> | undefined> {
    return this.queue.getJob<D, R>(this.id);
  }

  /**
   * Removes the job. Refused while it is active (a worker holds it): `JobStateError` with `state: 'active'`.
   * `onlyIn` removes it only in one of those states, checked in the same atomic step (e.g. `['dead']` for a DLQ
   * prune that must not drop a job someone replayed meanwhile); in another state it is `JobStateError`.
   */
  async remove(options: { onlyIn?: readonly Exclude<JobState, 'active'>[] } = {}): Promise<void> {
    const onlyIn = options.onlyIn ?? [];
    for (const s of onlyIn) {
      if (!STATES.includes(s) || (s as JobState) === 'active') {
        throw new InvalidOptionsError('job.remove', [
          { path: 'onlyIn', expected: 'job states other than active', received: String(s), message: 'bad state' },
        ]);
      }
    }
    const prev = settle(
      this.queue,
      'remove',
      this.id,
      await opsOf(this.queue, 'remove').jobOp('remove', this.id, ...(onlyIn.length ? [onlyIn.join(',')] : [])),
      onlyIn.length ? onlyIn : STATES.filter((s) => s !== 'active' && s !== 'waiting-children'),
    );
    this.queue.publish({ event: 'removed', jobId: this.id, prev });
  }

  /**
   * A flow parent's children as they stand: `processed` results by child key (`<queue>:<id>`), `unprocessed`
   * keys still pending, `failed` errors recorded under `ignoreDependencyOnFailure` (or the child that failed it).
   * All empty for a job without children.
   */
  async getDependencies<R = unknown>(): Promise<Dependencies<R>> {
    return readDependencies<R>(flowStoreOf(this.queue, 'getDependencies'), this.id);
  }

  /** A failed or dead job runs again: back to waiting with fresh attempts (its error history kept). */
  async retry(): Promise<void> {
    const r = await opsOf(this.queue, 'retry').jobOp('retry', this.id);
    settle(this.queue, 'retry', this.id, r, ['failed', 'dead']);
    this.queue.publish({ event: 'waiting', jobId: this.id });
  }

  /** A delayed job (or a retry in backoff) runs now: to waiting at once. */
  async promote(): Promise<void> {
    settle(this.queue, 'promote', this.id, await opsOf(this.queue, 'promote').jobOp('promote', this.id), ['delayed']);
    this.queue.publish({ event: 'waiting', jobId: this.id });
  }

  /**
   * Sets the job's priority (`high` | `medium` | `low` | 0..10; `UnknownPriorityError` otherwise). A waiting job
   * moves to the end of its new level's line; a delayed, active or failed one keeps it for when it waits again.
   */
  async changePriority(priority: Priority): Promise<void> {
    const p = resolvePriority(priority);
    const r = await opsOf(this.queue, 'changePriority').jobOp('priority', this.id, String(p));
    settle(this.queue, 'changePriority', this.id, r, STATES);
  }

  /** Replaces the job's data (checked as `add` checks it). An attempt already running keeps the data it got. */
  async updateData(data: D): Promise<void> {
    const text = serialize(data);
    const r = await opsOf(this.queue, 'updateData').jobOp('data', this.id, text);
    settle(this.queue, 'updateData', this.id, r, STATES);
  }

  /**
   * Waits until the job finished, through `events` (any process's workers): its result, or `JobFailedError`
   * (failed for good, dead, or removed), `WaitTimeoutError` past `timeoutMs`, core's `AbortedError` on
   * `signal`. A job that already finished answers at once; one removed before the call waits for the timeout.
   */
  async waitUntilFinished<R = unknown>(
    events: QueueEvents,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<R> {
    const { timeoutMs, signal } = options;
    if (signal?.aborted) throw abortedError(signal);
    await events.ready;
    const dead = this.queue.options.deadLetter;
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        off();
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => finish(() => reject(abortedError(signal!)));
      const off = events.onEvent((e) => {
        if (e.jobId !== this.id) return;
        if (e.event === 'completed') finish(() => resolve(e.result as R));
        else if (e.event === 'failed' && !e.willRetry)
          finish(() => reject(new JobFailedError(this.id, dead ? 'dead' : 'failed', e.error)));
        else if (e.event === 'dead') finish(() => reject(new JobFailedError(this.id, 'dead', e.error)));
        else if (e.event === 'removed') finish(() => reject(new JobFailedError(this.id, 'removed', undefined)));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined)
        timer = setTimeout(() => finish(() => reject(new WaitTimeoutError(this.id, timeoutMs))), timeoutMs);
      // Subscribed first, then looked: a job finishing in between is seen by one or the other.
      this.queue.getJob<D, R>(this.id).then(
        (info) => {
          if (info?.state === 'completed') finish(() => resolve(info.result as R));
          else if (info?.state === 'failed' || info?.state === 'dead')
            finish(() => reject(new JobFailedError(this.id, info.state as 'failed' | 'dead', info.error)));
        },
        (error: unknown) => finish(() => reject(error)),
      );
    });
  }
}

/** `queue.getJobs`: see `Queue.getJobs`. */
export async function getJobs<D>(
  queue: Queue<D>,
  states: JobState | readonly JobState[],
  options: GetJobsOptions = {},
): Promise<JobInfo<D>[]> {
  const o = parseOptions(getJobsSchema, options, `getJobs("${queue.name}")`);
  const list = parseOptions(z.array(z.enum(STATES)).min(1), typeof states === 'string' ? [states] : states, 'getJobs');
  const stop = o.end < 0 ? Number.MAX_SAFE_INTEGER : o.end;
  if (stop < o.start) return [];
  return (await opsOf(queue, 'getJobs').getJobs(list, o.start, stop, o.asc)) as JobInfo<D>[];
}

/** `queue.clean`: see `Queue.clean`. */
export async function clean(queue: Queue, state: CleanableState, options: CleanOptions = {}): Promise<string[]> {
  const o = parseOptions(cleanSchema, options, `clean("${queue.name}")`);
  const s = parseOptions(z.enum(['waiting', 'delayed', 'completed', 'failed', 'dead']), state, 'clean(state)');
  const removed = await opsOf(queue, 'clean').clean(s, queue.clock.now() - o.olderThanMs, o.limit);
  for (const id of removed) queue.publish({ event: 'removed', jobId: id, prev: s });
  return removed;
}

/** `queue.drain`: see `Queue.drain`. */
export async function drain(queue: Queue): Promise<number> {
  const ops = opsOf(queue, 'drain');
  let total = 0;
  for (;;) {
    const { removed, left } = await ops.drain(CHUNK);
    total += removed;
    if (left === 0 || removed === 0) return total;
  }
}

/** `queue.obliterate`: see `Queue.obliterate`. */
export async function obliterate(queue: Queue, options: ObliterateOptions = {}): Promise<number> {
  const { force } = parseOptions(obliterateSchema, options, `obliterate("${queue.name}")`);
  const ops = opsOf(queue, 'obliterate');
  let total = 0;
  for (;;) {
    const r = await ops.obliterate(force, CHUNK);
    if (r.active !== undefined) throw new QueueHasActiveJobsError(queue.name, r.active);
    total += r.removed;
    if (r.left === 0) return total;
  }
}
