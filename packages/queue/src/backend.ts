import type { JobInfo, JobState, NewJob } from './job';
import type { BackendOperations } from './operations';

/** A job as a worker fetches it: raw fields, parsed by the worker. */
export interface FetchedJob {
  id: string;
  name: string;
  data: string;
  /** JSON of `StoredJobOptions`. */
  opts: string;
  priority: number;
  attemptsMade: number;
  createdAt: number;
  /** The lease token this attempt holds; every later move of the job must present it. */
  token: string;
}

/** How a failed attempt ends. */
export type FailOutcome =
  | { kind: 'retry'; delayMs: number }
  | { kind: 'dead'; keep?: [count: number, ageMs: number] }
  | { kind: 'failed'; keep: [count: number, ageMs: number] };

export interface Counts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  failed: number;
  dead: number;
  /** Flow parents waiting for their children (`waiting-children`); absent from backends without flows. */
  waitingChildren?: number;
  /** Waiting jobs by priority label (`high`, `medium`, `low`, or the number). */
  byPriority: Record<string, number>;
}

export interface StalledJob {
  id: string;
  /** `waiting`: back in line; `dead`: stalled more than `maxStalledCount` times. */
  outcome: 'waiting' | 'dead';
}

/**
 * A worker's two fetch lanes (see `QueueBackend.createFetchLanes`): lane 0 on the queue's connection, lane 1 on a
 * connection of its own. Every fetch returns `order`, the worker's fetches numbered in the order the backend ran
 * them (1, 2, 3, …): with a fetch out on each lane, the later-sent one may run first, and the worker takes the
 * batches in that order — so it starts jobs in priority order as with one fetch at a time.
 */
export interface FetchLanes {
  /** Whether lane 1's connection is up (until it is, the worker fetches on lane 0 alone). */
  readonly ready: boolean;
  fetch(
    lane: 0 | 1,
    now: number,
    count: number,
    token: string,
    lockMs: number,
  ): Promise<{ jobs: FetchedJob[]; nextDueAt: number | null; order: number }>;
  /** Ends lane 1's connection. */
  close(): void;
}

/** A worker's blocking wait for new work. */
export interface Waiter {
  /**
   * Resolves when work may be there (a wake-up), after `timeoutMs`, or when closed. Rejects when the wait
   * itself failed (a refused or broken connection): the worker then reports it and backs off, instead of
   * fetching again at once in a tight loop.
   */
  wait(timeoutMs: number): Promise<void>;
  close(): void;
}

/**
 * The store of one queue. Every method is one atomic state move (one Lua script on Redis). Times are passed
 * in (the caller's clock) for timestamps; backends shared by several hosts schedule on a clock of their own
 * (Redis: the server's `TIME`), so a worker whose clock is off neither runs delayed jobs early nor declares
 * healthy jobs stalled. The memory backend (one process) has the one clock it is given.
 */
export interface QueueBackend {
  readonly kind: 'memory' | 'redis' | 'rabbitmq';
  /** Job and queue operations (remove, retry, promote, getJobs, clean, drain, …); absent: not supported. */
  readonly ops?: BackendOperations;
  /** Adds every job or none (validation happened before); an existing `id` is a duplicate and not added. */
  add(jobs: readonly NewJob[], now: number): Promise<{ id: string; added: boolean }[]>;
  /**
   * Promotes due delayed jobs, then moves up to `count` waiting jobs (highest priority, then oldest) to
   * active under `token` with a lease of `lockMs`. `nextDueAt`: when the earliest delayed job is due, on the
   * caller's clock (`now` + the time until it is due on the backend's clock).
   */
  fetch(
    now: number,
    count: number,
    token: string,
    lockMs: number,
  ): Promise<{ jobs: FetchedJob[]; nextDueAt: number | null }>;
  /** Active → completed (or removed, per `keep`); false when `token` no longer holds the job. */
  complete(id: string, token: string, now: number, result: string, keep: [number, number]): Promise<boolean>;
  /** Active → waiting/delayed (retry), dead (DLQ) or failed, appending `errorEntry` (JSON) to the history. */
  fail(id: string, token: string, now: number, errorEntry: string, outcome: FailOutcome): Promise<boolean>;
  /** Extends the leases still held by `lockMs` from now; returns ids whose token no longer holds them. */
  renew(jobs: readonly (readonly [id: string, token: string])[], lockMs: number, now: number): Promise<string[]>;
  /**
   * Active jobs whose lease lapsed (on the backend's clock): back to waiting, or to the DLQ past
   * `maxStalledCount` (the DLQ then trimmed to `keepDead`: [count, ageMs], -1 unbounded).
   */
  recoverStalled(now: number, maxStalledCount: number, keepDead?: [number, number]): Promise<StalledJob[]>;
  getJob(id: string): Promise<JobInfo | undefined>;
  counts(): Promise<Counts>;
  /** Ids in `state`, oldest first (waiting: in fetch order). */
  list(state: JobState, offset: number, limit: number): Promise<string[]>;
  /**
   * Up to `limit` dead ids, oldest first, after the one `cursor` names (from the start when `null`), and the
   * cursor of the last one returned. Backends without it are paged by offset (`Queue.listDead`).
   */
  listDeadAfter?(cursor: string | null, limit: number): Promise<{ ids: string[]; cursor: string | null }>;
  /** Dead → waiting with a fresh attempt count; all dead jobs when `ids` is omitted. Returns how many moved. */
  replayDead(now: number, ids?: readonly string[]): Promise<number>;
  setPaused(paused: boolean): Promise<void>;
  isPaused(): Promise<boolean>;
  /** Broker backends: start consuming (prefetch = what the worker holds: concurrency + its `prefetch` option). */
  startConsuming?(prefetch: number, maxStalledCount: number): Promise<void>;
  /** A blocking waiter for one worker. */
  createWaiter(): Waiter;
  /**
   * Two fetch lanes for one worker (absent: the backend has one path). A worker keeps a fetch out on each: Redis
   * runs one while the worker runs the jobs of the other.
   */
  createFetchLanes?(workerId: string): FetchLanes;
  /** Where the queue's job schedulers live (`upsertScheduler`); absent: the backend keeps none. */
  schedulers?(): import('./scheduler').SchedulerStore | undefined;
  /** Where the queue's rate limiter (`limiter`, `worker.rateLimit`) lives; absent: no shared limiter. */
  limiter?(): import('./limiter').LimiterStore | undefined;
  /** Flows (parent/child jobs, `addFlow`); absent: the backend has none. */
  flows?(): import('./flows').FlowStore | undefined;
  /** Grouped lines (`groups` queue option); absent: the backend has none. */
  groups?(): import('./groups').GroupStore | undefined;
  /** Active → delayed `delayMs` (or waiting) without spending an attempt; false when `token` lost the job. */
  release?(id: string, token: string, now: number, delayMs: number): Promise<boolean>;
  close(): Promise<void>;
}
