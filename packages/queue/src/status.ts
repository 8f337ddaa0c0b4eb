import type { RedisClient } from '@ballast/core';
import { createKeyBuilder, defineScript, runScript } from '@ballast/core';
import type { Counts } from './backend';
import type { JobState } from './job';
import { priorityLabel } from './job';
import applySource from './lua/status-apply.lua';

const APPLY = defineScript('queue:status-apply', applySource);
/** Operations per script call: a bigger tick is split, so one call never holds Redis for long. */
const MAX_BATCH = 500;

/** A change of one job's record: new state (indexed by `score`), fields to set, error to append, counters. */
export interface StatusMove {
  state?: JobState;
  /** Sort key in the new state's index (time for most; priority order for waiting). */
  score?: number;
  set?: Record<string, string | number>;
  /** JSON object appended to the job's error history. */
  appendError?: string;
  incr?: { attemptsMade?: number; stalledCount?: number };
  /** Retention of the new state's index (completed/failed): [count, ageMs], -1 unbounded, count 0 removes. */
  keep?: [number, number];
  /** Applies only when the job is in this state (a stale worker cannot move it). */
  ifState?: JobState;
  /** Applies unless the job is in one of these states (a second copy of a finished job's message). */
  unlessState?: readonly JobState[];
}

/**
 * Where a broker backend (RabbitMQ) keeps job status: the broker holds the messages, this store answers
 * `getJob`, `counts`, `list`, deduplicates `jobId`s and holds the queue-wide pause flag. Memory (one process)
 * or Redis (shared by every process of the queue).
 */
export interface StatusStore {
  /** Creates the record unless the id exists; false for a duplicate. */
  create(id: string, fields: Record<string, string | number>, state: JobState, score: number): Promise<boolean>;
  /** Applies a move; false when the job is gone, not in `ifState` or in one of `unlessState`. */
  move(id: string, move: StatusMove): Promise<boolean>;
  get(id: string): Promise<Record<string, string> | undefined>;
  remove(id: string): Promise<void>;
  counts(): Promise<Counts>;
  list(state: JobState, offset: number, limit: number): Promise<string[]>;
  setPaused(paused: boolean): Promise<void>;
  isPaused(): Promise<boolean>;
}

const STATES: JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed', 'dead'];

/** In-process status store. */
export class MemoryStatusStore implements StatusStore {
  readonly #jobs = new Map<string, Record<string, string>>();
  readonly #index = new Map<JobState, Map<string, number>>(
    [...STATES, 'waiting-children' as const].map((s) => [s, new Map()]),
  );
  #paused = false;

  async create(id: string, fields: Record<string, string | number>, state: JobState, score: number) {
    if (this.#jobs.has(id)) return false;
    const f: Record<string, string> = {};
    for (const k in fields) f[k] = String(fields[k]);
    f.state = state;
    this.#jobs.set(id, f);
    this.#index.get(state)!.set(id, score);
    return true;
  }

  async move(id: string, m: StatusMove) {
    const f = this.#jobs.get(id);
    if (!f || (m.ifState && f.state !== m.ifState)) return false;
    if (m.unlessState?.includes(f.state as JobState)) return false;
    if (m.set) for (const k in m.set) f[k] = String(m.set[k]);
    if (m.incr?.attemptsMade) f.attemptsMade = String(Number(f.attemptsMade ?? 0) + m.incr.attemptsMade);
    if (m.incr?.stalledCount) f.stalledCount = String(Number(f.stalledCount ?? 0) + m.incr.stalledCount);
    if (m.appendError) f.errors = f.errors ? `${f.errors.slice(0, -1)},${m.appendError}]` : `[${m.appendError}]`;
    if (m.state) {
      this.#index.get(f.state as JobState)!.delete(id);
      if (m.keep?.[0] === 0) {
        this.#jobs.delete(id);
        return true;
      }
      f.state = m.state;
      const idx = this.#index.get(m.state)!;
      idx.set(id, m.score ?? 0);
      if (m.keep) this.#trim(idx, m.keep, m.score ?? 0);
    }
    return true;
  }

  /** Map order is insertion order, which for finished jobs is finish-time order: trim from the front. */
  #trim(idx: Map<string, number>, [count, ageMs]: [number, number], now: number): void {
    for (const [id, score] of idx) {
      const over = count > 0 && idx.size > count;
      const old = ageMs >= 0 && score < now - ageMs;
      if (!over && !old) break;
      idx.delete(id);
      this.#jobs.delete(id);
    }
  }

  async get(id: string) {
    const f = this.#jobs.get(id);
    return f ? { ...f } : undefined;
  }

  async remove(id: string) {
    const f = this.#jobs.get(id);
    if (f) this.#index.get(f.state as JobState)!.delete(id);
    this.#jobs.delete(id);
  }

  async counts(): Promise<Counts> {
    const byPriority: Record<string, number> = {};
    for (const id of this.#index.get('waiting')!.keys()) {
      const label = priorityLabel(Number(this.#jobs.get(id)?.priority));
      byPriority[label] = (byPriority[label] ?? 0) + 1;
    }
    const n = (s: JobState) => this.#index.get(s)!.size;
    return {
      waiting: n('waiting'),
      delayed: n('delayed'),
      active: n('active'),
      completed: n('completed'),
      failed: n('failed'),
      dead: n('dead'),
      waitingChildren: 0,
      byPriority,
    };
  }

  async list(state: JobState, offset: number, limit: number) {
    return [...this.#index.get(state)!.entries()]
      .sort((a, b) => a[1] - b[1])
      .slice(offset, offset + limit)
      .map(([id]) => id);
  }

  async setPaused(paused: boolean) {
    this.#paused = paused;
  }

  async isPaused() {
    return this.#paused;
  }
}

/**
 * Status in Redis: a hash per job and a ZSET per state, under one hash tag per queue. Creates and moves made in
 * the same tick go out as one script call, applied in call order (a fetch moves its whole batch to active, jobs
 * of a batch finish together): a job costs a fraction of a round trip, not two.
 */
export class RedisStatusStore implements StatusStore {
  readonly #redis: RedisClient;
  readonly #job: string;
  readonly #state: (s: JobState) => string;
  readonly #indexes: string[];
  readonly #meta: string;
  #ops: { args: (string | number)[]; resolve(ok: boolean): void; reject(error: unknown): void }[] = [];

  constructor(redis: RedisClient, queue: string, prefix = 'ballast') {
    const b = createKeyBuilder({ prefix, scope: 'queue-status', tag: queue });
    this.#redis = redis;
    this.#job = b.key('job', '');
    this.#state = (s) => b.key('state', s);
    this.#indexes = STATES.map(this.#state);
    this.#meta = b.key('meta');
  }

  create(id: string, fields: Record<string, string | number>, state: JobState, score: number): Promise<boolean> {
    const pairs: (string | number)[] = ['state', state];
    for (const k in fields) pairs.push(k, fields[k]!);
    return this.#enqueue(['create', id, state, score, '', -1, -1, 0, 0, '', '', pairs.length / 2, ...pairs]);
  }

  move(id: string, m: StatusMove): Promise<boolean> {
    const pairs: (string | number)[] = [];
    if (m.set) for (const k in m.set) pairs.push(k, m.set[k]!);
    return this.#enqueue([
      'move',
      id,
      m.state ?? '',
      m.score ?? 0,
      m.appendError ?? '',
      m.keep?.[0] ?? -1,
      m.keep?.[1] ?? -1,
      m.incr?.attemptsMade ?? 0,
      m.incr?.stalledCount ?? 0,
      m.ifState ?? '',
      m.unlessState?.join(',') ?? '',
      pairs.length / 2,
      ...pairs,
    ]);
  }

  #enqueue(args: (string | number)[]): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (this.#ops.length === 0) process.nextTick(() => this.#flush());
      this.#ops.push({ args, resolve, reject });
    });
  }

  #flush(): void {
    const all = this.#ops;
    this.#ops = [];
    for (let from = 0; from < all.length; from += MAX_BATCH) {
      const batch = all.slice(from, from + MAX_BATCH);
      const argv: (string | number)[] = [this.#job, batch.length];
      for (const op of batch) for (const a of op.args) argv.push(a);
      runScript<number[]>(this.#redis, APPLY, this.#indexes, argv).then(
        (oks) => {
          for (let i = 0; i < batch.length; i++) batch[i]!.resolve(oks[i] === 1);
        },
        (error: unknown) => {
          for (const op of batch) op.reject(error);
        },
      );
    }
  }

  async get(id: string) {
    const h = await this.#redis.hgetall(this.#job + id);
    return h.state === undefined ? undefined : h;
  }

  async remove(id: string) {
    const state = await this.#redis.hget(this.#job + id, 'state');
    if (state) await this.#redis.zrem(this.#state(state as JobState), id);
    await this.#redis.del(this.#job + id);
  }

  async counts(): Promise<Counts> {
    const n = await Promise.all(STATES.map((s) => this.#redis.zcard(this.#state(s))));
    const byPriority: Record<string, number> = {};
    // Waiting jobs are scored by priority: (10 - p) · 2^44 + seq.
    for (let p = 0; p <= 10; p++) {
      const lo = (10 - p) * 2 ** 44;
      const c = await this.#redis.zcount(this.#state('waiting'), lo, `(${lo + 2 ** 44}`);
      if (c > 0) byPriority[priorityLabel(p)] = c;
    }
    return {
      waiting: n[0]!,
      delayed: n[1]!,
      active: n[2]!,
      completed: n[3]!,
      failed: n[4]!,
      dead: n[5]!,
      waitingChildren: 0, // no flows on RabbitMQ
      byPriority,
    };
  }

  async list(state: JobState, offset: number, limit: number) {
    return this.#redis.zrange(this.#state(state), offset, offset + limit - 1);
  }

  async setPaused(paused: boolean) {
    if (paused) await this.#redis.hset(this.#meta, 'paused', '1');
    else await this.#redis.hdel(this.#meta, 'paused');
  }

  async isPaused() {
    return (await this.#redis.hget(this.#meta, 'paused')) === '1';
  }
}
