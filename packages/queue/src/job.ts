import { backoffOptionsSchema, parseOptions } from '@ballast/core';
import { NonSerializableDataError, PayloadTooLargeError, UnknownPriorityError } from './errors';
import {
  JOB_DEFAULTS,
  type JobOptions,
  jobOptionsSchema,
  MAX_PRIORITY,
  PRIORITIES,
  type PriorityName,
  type Retention,
  type StoredJobOptions,
} from './options';

/** `waiting-children`: a flow parent waiting for its children to complete (see `addFlow`). */
export type JobState = 'waiting' | 'waiting-children' | 'delayed' | 'active' | 'completed' | 'failed' | 'dead';
export const JOB_STATES: readonly JobState[] = [
  'waiting',
  'waiting-children',
  'delayed',
  'active',
  'completed',
  'failed',
  'dead',
];

/** One failed attempt, as kept in a job's error history. */
export interface JobErrorEntry {
  attempt: number;
  name: string;
  message: string;
  code?: string;
  /** The attempt ran into its `timeoutMs`. */
  timeout?: boolean;
  /** Recorded by stalled recovery rather than a worker. */
  stalled?: boolean;
  /** A flow parent failed by its child (`CHILD_FAILED`, `failParentOnFailure`): the child's `<queue>:<id>`. */
  child?: string;
  at: number;
}

/** A job as `getJob` reports it. */
export interface JobInfo<T = unknown, R = unknown> {
  id: string;
  name: string;
  data: T;
  priority: number;
  state: JobState;
  /** Failed attempts so far. */
  attemptsMade: number;
  maxAttempts: number;
  stalledCount: number;
  result?: R;
  /** The last failure, when there was one. */
  error?: JobErrorEntry;
  /** Every failure, oldest first. */
  errors: JobErrorEntry[];
  createdAt: number;
  processedAt?: number;
  finishedAt?: number;
  /** When a delayed job (or a retry in backoff) becomes due. */
  delayUntil?: number;
  /** The last `job.updateProgress` of its handler. */
  progress?: number | object;
  /** The newest lines its handler logged (`job.log`), oldest first; bounded (see `MAX_LOG_LINES`). */
  logs?: string[];
}

/** What a handler receives. */
export interface Job<T = unknown> {
  readonly id: string;
  readonly name: string;
  readonly data: T;
  readonly priority: number;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly createdAt: number;
  /**
   * Reports progress (a number, e.g. percent, or a JSON object): kept with the job (`getJob(id).progress`) and
   * published as a `progress` event. Ignored once this attempt no longer holds the job (its lease was lost).
   */
  updateProgress(progress: number | object): Promise<void>;
  /** Appends a line to the job's log (`getJob(id).logs`: the newest `MAX_LOG_LINES`, each cut to 4,096 chars). */
  log(line: string): Promise<void>;
  /**
   * A flow parent's children's results, by child key `<queue>:<id>` (see `addFlow`); `{}` for a job without
   * children. Children dropped by `ignoreDependencyOnFailure` / `removeDependencyOnFailure` are not in it.
   */
  childrenResults<R = unknown>(): Promise<Record<string, R>>;
}

/** What `add` returns: the job's id; `duplicate` when a job with that `jobId` already existed (nothing added). */
export interface AddedJob {
  id: string;
  name: string;
  duplicate: boolean;
}

/** A job ready for a backend: validated and serialised. */
export interface NewJob {
  /** '' : the backend generates one. */
  id: string;
  name: string;
  data: string;
  priority: number;
  delayMs: number;
  opts: string;
  /** Its group (grouped queues). */
  group?: string;
}

/** `high` → 10, `medium` → 5, `low` → 1, an integer 0..10 as is; anything else is `UnknownPriorityError`. */
export function resolvePriority(priority: unknown): number {
  if (typeof priority === 'string' && Object.hasOwn(PRIORITIES, priority)) {
    return PRIORITIES[priority as PriorityName];
  }
  if (typeof priority === 'number' && Number.isInteger(priority) && priority >= 0 && priority <= MAX_PRIORITY) {
    return priority;
  }
  throw new UnknownPriorityError(priority);
}

/** The label metrics and `counts()` use: `high`/`medium`/`low` for those levels, else the number. */
export function priorityLabel(priority: number): string {
  for (const [name, value] of Object.entries(PRIORITIES)) if (value === priority) return name;
  return String(priority);
}

/** JSON text of `value`, or `NonSerializableDataError` naming the first value JSON would drop or mangle. */
export function serialize(value: unknown, what = 'data'): string {
  const seen = new Set<object>();
  const check = (v: unknown, path: string): void => {
    switch (typeof v) {
      case 'function':
      case 'symbol':
        throw new NonSerializableDataError(path, `${typeof v} cannot be stored`);
      case 'bigint':
        throw new NonSerializableDataError(path, 'bigint cannot be stored as JSON');
      case 'number':
        if (!Number.isFinite(v)) throw new NonSerializableDataError(path, `${v} is not a JSON number`);
        return;
      case 'object': {
        if (v === null) return;
        if (seen.has(v)) throw new NonSerializableDataError(path, 'circular reference');
        if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return;
        seen.add(v);
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) check(v[i], `${path}[${i}]`);
        } else if (v instanceof Map || v instanceof Set)
          throw new NonSerializableDataError(path, `${v.constructor.name} would be stored as {}`);
        else
          for (const k of Object.keys(v))
            if ((v as Record<string, unknown>)[k] !== undefined)
              check((v as Record<string, unknown>)[k], `${path}.${k}`);
        seen.delete(v);
        return;
      }
      default:
        return;
    }
  };
  if (value === undefined) return 'null';
  check(value, what);
  return JSON.stringify(value);
}

function retention(r: Retention): [number, number] {
  if (r === true) return [0, -1];
  if (r === false) return [-1, -1];
  return [r.count ?? -1, r.ageMs ?? -1];
}

const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The job options checked by hand when they are the common few (priority, delay, attempts, timeout, jobId):
 * the same rules as `jobOptionsSchema` without zod's cost on every job of a bulk add. Undefined when anything
 * else is there or anything is off — the caller then runs the schema, which names the problem.
 */
function quickJobOptions(options: JobOptions | undefined): JobOptions | undefined {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Object.getPrototypeOf(options) !== Object.prototype)
    return undefined;
  for (const k in options) {
    const v = (options as Record<string, unknown>)[k];
    if (v === undefined) continue;
    switch (k) {
      case 'priority':
        break; // checked by resolvePriority, as the schema leaves it
      case 'delayMs':
      case 'timeoutMs':
        if (!isCount(v)) return undefined;
        break;
      case 'attempts':
        if (!isCount(v) || (v as number) < 1) return undefined;
        break;
      case 'group':
        if (typeof v !== 'string' || v.length > 256) return undefined;
        break;
      case 'jobId':
        if (typeof v !== 'string' || v.length === 0 || v.length > 256) return undefined;
        break;
      default:
        return undefined;
    }
  }
  return options;
}

/**
 * Default backoff objects already checked (the queue's parsed defaults, the package's frozen one — neither is
 * changed after the queue is made), shared by every job that sets none: parsed once each, not per job.
 */
const checkedBackoffs = new WeakMap<object, ReturnType<typeof backoffOptionsSchema.parse>>();

function resolvedBackoff(backoff: object, name: string): ReturnType<typeof backoffOptionsSchema.parse> {
  let r = checkedBackoffs.get(backoff);
  if (!r) {
    r = parseOptions(backoffOptionsSchema, backoff, `add("${name}").backoff`);
    checkedBackoffs.set(backoff, r);
  }
  return r;
}

/**
 * Validates one job's name, data and options against the queue's defaults and limit, and serialises it.
 * Throws a typed error (nothing is enqueued) for bad options, unknown priority, non-serialisable data or an
 * oversized payload.
 */
export function prepareJob(
  name: string,
  data: unknown,
  options: JobOptions | undefined,
  defaults: JobOptions | undefined,
  maxPayloadBytes: number,
  trace?: Record<string, string>,
): NewJob {
  if (typeof name !== 'string' || name.length === 0)
    throw new NonSerializableDataError('name', 'job name must be a non-empty string');
  const own = quickJobOptions(options) ?? parseOptions(jobOptionsSchema, options ?? {}, `add("${name}")`);
  const o = { ...JOB_DEFAULTS, ...defaults, ...own } as Required<JobOptions> & { jobId?: string };
  const priority = resolvePriority(own.priority ?? defaults?.priority ?? JOB_DEFAULTS.priority);
  const text = serialize(data);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxPayloadBytes) throw new PayloadTooLargeError(bytes, maxPayloadBytes);
  const backoff =
    typeof o.backoff === 'number'
      ? { initialMs: o.backoff, maxMs: o.backoff, factor: 1, jitter: 'none' as const }
      : own.backoff === undefined
        ? resolvedBackoff(o.backoff, name) // the queue's (or the package's) default: checked once
        : parseOptions(backoffOptionsSchema, o.backoff, `add("${name}").backoff`);
  const stored: StoredJobOptions = {
    attempts: o.attempts,
    backoff,
    timeoutMs: o.timeoutMs,
    keepComplete: retention(o.removeOnComplete),
    keepFail: retention(o.removeOnFail),
  };
  if (trace && Object.keys(trace).length > 0) stored.trace = trace;
  if (own.group !== undefined) stored.group = own.group;
  const job: NewJob = {
    id: o.jobId ?? '',
    name,
    data: text,
    priority,
    delayMs: o.delayMs,
    opts: JSON.stringify(stored),
  };
  if (own.group !== undefined) job.group = own.group;
  return job;
}
