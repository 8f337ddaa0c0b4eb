import { type Clock, systemClock } from '@ballast/core';
import type { Counts, FailOutcome, FetchedJob, QueueBackend, StalledJob, Waiter } from '../backend';
import { type FlowRecord, type FlowStore, type OutboxEntry, parseOutbox, RESOLVED } from '../flows';
import { addSplit, type GroupStore, toGroupLine } from '../groups';
import type { JobErrorEntry, JobInfo, JobState, NewJob } from '../job';
import { priorityLabel } from '../job';
import { MemoryLimiterStore } from '../limiter';
import { MAX_PRIORITY } from '../options';
import { MemorySchedulerStore } from '../scheduler';
import { toJobInfo } from './codec';
import { MemoryOperations } from './memory-ops';

export interface Rec {
  fields: Record<string, string>;
  /** A flow parent's pending children (`<queue>:<id>`), their results, and failures recorded (`ignore`). */
  deps?: Set<string>;
  processed?: Map<string, string>;
  failedDeps?: Map<string, string>;
}

/** A sorted set of ids by score (ties by insertion), small and simple: the memory backend is for one process. */
export class ZSet {
  readonly #scores = new Map<string, number>();
  add(id: string, score: number): void {
    this.#scores.set(id, score);
  }
  remove(id: string): boolean {
    return this.#scores.delete(id);
  }
  has(id: string): boolean {
    return this.#scores.has(id);
  }
  get size(): number {
    return this.#scores.size;
  }
  /** Ids ordered by score. */
  sorted(): string[] {
    return [...this.#scores.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id);
  }
  /** Ids with score < bound (or <= when inclusive), by score. */
  below(bound: number, inclusive = false): string[] {
    const out: [string, number][] = [];
    for (const e of this.#scores) if (inclusive ? e[1] <= bound : e[1] < bound) out.push(e);
    return out.sort((a, b) => a[1] - b[1]).map(([id]) => id);
  }
  /** [id, score] by score. */
  entries(): [string, number][] {
    return [...this.#scores.entries()].sort((a, b) => a[1] - b[1]);
  }
  max(): number | null {
    let m: number | null = null;
    for (const s of this.#scores.values()) if (m === null || s > m) m = s;
    return m;
  }
  min(): number | null {
    let m: number | null = null;
    for (const s of this.#scores.values()) if (m === null || s < m) m = s;
    return m;
  }
}

/** @internal what memory-ops.ts works on. */
export interface MemoryInternals {
  jobs: Map<string, Rec>;
  /** One FIFO of waiting ids per priority (index = priority). */
  wait: string[][];
  /** Waiting ids (their FIFOs skip ids no longer in here). */
  waitSet: Set<string>;
  sets: Record<'delayed' | 'active' | 'completed' | 'failed' | 'dead' | 'waiting-children', ZSet>;
  enqueue(id: string): void;
  wake(): void;
  list(state: JobState): Promise<string[]>;
  /** A grouped queue: takes a waiting job out of its group's line; the group, or undefined when in none. */
  ungroup(id: string): string | undefined;
  /** A grouped queue: re-queues a waiting job in its group's line at `priority`, keeping the group's turn; false when in none. */
  regroupPriority(id: string, priority: number): boolean;
  /** A grouped queue: jobs in group lines. */
  grouped(): number;
  /** Drops every group line. */
  clearGroups(): void;
}

/**
 * In-process backend with exactly the Redis backend's semantics (the contract suite runs on both). Waiting
 * jobs sit in one FIFO per priority, so fetching is O(1) per job.
 */
export class MemoryBackend implements QueueBackend {
  readonly kind = 'memory' as const;
  readonly ops = new MemoryOperations(() => this.internals);
  readonly #jobs = new Map<string, Rec>();
  /** One FIFO per priority (index = priority); removed ids are skipped lazily. */
  readonly #wait: string[][] = Array.from({ length: MAX_PRIORITY + 1 }, () => []);
  readonly #waitSet = new Set<string>();
  readonly #delayed = new ZSet();
  readonly #active = new ZSet();
  readonly #completed = new ZSet();
  readonly #failed = new ZSet();
  readonly #dead = new ZSet();
  readonly #waitingChildren = new ZSet();
  /** Flow outbox: child id → notification for its parent (see flows.ts). */
  readonly #outbox = new Map<string, string>();
  readonly #peers = new Map<string, FlowStore>();
  readonly #waiters = new Set<() => void>();
  readonly #clock: Clock;
  #seq = 0;
  #paused = false;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  /** A wake-up nobody was waiting for (work added while every worker was between fetch and wait). */
  #wakePending = false;

  #wake(): void {
    if (this.#waiters.size === 0) this.#wakePending = true;
    const all = [...this.#waiters];
    this.#waiters.clear();
    for (const w of all) w();
  }

  #enqueue(id: string): void {
    const rec = this.#jobs.get(id)!;
    rec.fields.state = 'waiting';
    delete rec.fields.delayUntil;
    this.#wait[Number(rec.fields.priority)]!.push(id);
    this.#waitSet.add(id);
  }

  async add(jobs: readonly NewJob[], now: number): Promise<{ id: string; added: boolean }[]> {
    if (jobs.some(toGroupLine)) return addSplit(jobs, now, (rest) => this.add(rest, now), this.groups());
    const out: { id: string; added: boolean }[] = [];
    for (const j of jobs) {
      let id = j.id;
      this.#seq++;
      if (id === '') {
        id = String(this.#seq);
        while (this.#jobs.has(id)) id = String(++this.#seq);
      }
      if (this.#jobs.has(id)) {
        out.push({ id, added: false });
        continue;
      }
      const fields: Record<string, string> = {
        name: j.name,
        data: j.data,
        opts: j.opts,
        priority: String(j.priority),
        attemptsMade: '0',
        stalledCount: '0',
        createdAt: String(now),
        state: 'waiting',
      };
      this.#jobs.set(id, { fields });
      if (j.delayMs > 0) {
        fields.state = 'delayed';
        fields.delayUntil = String(now + j.delayMs);
        this.#delayed.add(id, now + j.delayMs);
      } else {
        this.#enqueue(id);
      }
      out.push({ id, added: true });
    }
    if (out.some((o) => o.added)) this.#wake();
    return out;
  }

  async fetch(now: number, count: number, token: string, lockMs: number) {
    for (const id of this.#delayed.below(now, true)) {
      this.#delayed.remove(id);
      if (this.#jobs.has(id)) this.#enqueue(id);
    }
    const jobs: FetchedJob[] = [];
    if (!this.#paused) {
      for (let p = MAX_PRIORITY; p >= 0 && jobs.length < count; p--) {
        const fifo = this.#wait[p]!;
        while (fifo.length > 0 && jobs.length < count) {
          const id = fifo.shift()!;
          if (!this.#waitSet.delete(id)) continue;
          jobs.push(this.#lease(id, token, now, lockMs));
        }
      }
    }
    return { jobs, nextDueAt: this.#delayed.min() };
  }

  #trim(set: ZSet, now: number, [count, ageMs]: [number, number]): void {
    if (count > 0 && set.size > count) {
      for (const id of set.sorted().slice(0, set.size - count)) {
        set.remove(id);
        this.#jobs.delete(id);
      }
    }
    if (ageMs >= 0) {
      for (const id of set.below(now - ageMs)) {
        set.remove(id);
        this.#jobs.delete(id);
      }
    }
  }

  /** As fail.lua's `after_last`: after every score there, so scores are unique and ties keep their order. */
  #addFinished(set: ZSet, id: string, now: number): void {
    const last = set.max();
    set.add(id, last !== null && last >= now ? last + 1 / 1024 : now);
  }

  async listDeadAfter(cursor: string | null, limit: number): Promise<{ ids: string[]; cursor: string | null }> {
    const after = cursor === null ? Number.NEGATIVE_INFINITY : Number(cursor.slice(0, cursor.indexOf(':')));
    const entries = this.#dead.entries().filter(([, score]) => score > after);
    const page = entries.slice(0, limit);
    const last = page[page.length - 1];
    return { ids: page.map(([id]) => id), cursor: last ? `${last[1]}:${last[0]}` : cursor };
  }

  /** A waiting job (taken out of its line by the caller) becomes active under `token`: the fetched job. */
  #lease(id: string, token: string, now: number, lockMs: number): FetchedJob {
    const f = this.#jobs.get(id)!.fields;
    f.state = 'active';
    f.token = token;
    f.processedAt = String(now);
    this.#active.add(id, now + lockMs);
    return {
      id,
      name: f.name!,
      data: f.data!,
      opts: f.opts!,
      priority: Number(f.priority),
      attemptsMade: Number(f.attemptsMade),
      createdAt: Number(f.createdAt),
      token,
    };
  }

  #held(id: string, token: string): Record<string, string> | undefined {
    const f = this.#jobs.get(id)?.fields;
    return f && f.token === token ? f : undefined;
  }

  async complete(id: string, token: string, now: number, result: string, keep: [number, number]): Promise<boolean> {
    const f = this.#held(id, token);
    if (!f) return false;
    this.#active.remove(id);
    this.#notifyParent(id, f, 'completed', result);
    if (keep[0] === 0) {
      this.#jobs.delete(id);
      return true;
    }
    delete f.token;
    f.state = 'completed';
    f.finishedAt = String(now);
    f.result = result;
    this.#completed.add(id, now);
    this.#trim(this.#completed, now, keep);
    return true;
  }

  async fail(id: string, token: string, now: number, errorEntry: string, outcome: FailOutcome): Promise<boolean> {
    const f = this.#held(id, token);
    if (!f) return false;
    this.#active.remove(id);
    delete f.token;
    f.attemptsMade = String(Number(f.attemptsMade) + 1);
    f.errors = f.errors ? `${f.errors.slice(0, -1)},${errorEntry}]` : `[${errorEntry}]`;
    if (outcome.kind === 'retry') {
      if (outcome.delayMs > 0) {
        f.state = 'delayed';
        f.delayUntil = String(now + outcome.delayMs);
        this.#delayed.add(id, now + outcome.delayMs);
      } else {
        this.#enqueue(id);
      }
      this.#wake();
    } else if (outcome.kind === 'dead') {
      this.#notifyParent(id, f, 'failed', errorEntry);
      f.state = 'dead';
      f.finishedAt = String(now);
      this.#addFinished(this.#dead, id, now);
      if (outcome.keep) this.#trim(this.#dead, now, outcome.keep);
    } else {
      this.#notifyParent(id, f, 'failed', errorEntry);
      if (outcome.keep[0] === 0) {
        this.#jobs.delete(id);
        return true;
      }
      f.state = 'failed';
      f.finishedAt = String(now);
      this.#failed.add(id, now);
      this.#trim(this.#failed, now, outcome.keep);
    }
    return true;
  }

  async renew(jobs: readonly (readonly [string, string])[], lockMs: number, now: number): Promise<string[]> {
    const lost: string[] = [];
    const deadline = now + lockMs;
    for (const [id, token] of jobs) {
      if (this.#held(id, token) && this.#active.has(id)) this.#active.add(id, deadline);
      else lost.push(id);
    }
    return lost;
  }

  async recoverStalled(
    now: number,
    maxStalledCount: number,
    keepDead: [number, number] = [-1, -1],
  ): Promise<StalledJob[]> {
    const out: StalledJob[] = [];
    for (const id of this.#active.below(now)) {
      this.#active.remove(id);
      const f = this.#jobs.get(id)?.fields;
      if (!f) continue;
      delete f.token;
      const count = Number(f.stalledCount) + 1;
      f.stalledCount = String(count);
      if (count > maxStalledCount) {
        const entry = JSON.stringify({
          attempt: Number(f.attemptsMade) + 1,
          name: 'JobStalledError',
          code: 'JOB_STALLED',
          message: `Job "${id}" stalled ${count} times`,
          stalled: true,
          at: now,
        });
        f.errors = f.errors ? `${f.errors.slice(0, -1)},${entry}]` : `[${entry}]`;
        f.state = 'dead';
        f.finishedAt = String(now);
        this.#notifyParent(id, f, 'failed', entry);
        this.#addFinished(this.#dead, id, now);
        this.#trim(this.#dead, now, keepDead);
        out.push({ id, outcome: 'dead' });
      } else {
        this.#enqueue(id);
        out.push({ id, outcome: 'waiting' });
      }
    }
    if (out.some((o) => o.outcome === 'waiting')) this.#wake();
    return out;
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    const rec = this.#jobs.get(id);
    return rec ? toJobInfo(id, { ...rec.fields }) : undefined;
  }

  async counts(): Promise<Counts> {
    const byPriority: Record<string, number> = {};
    for (const id of this.#waitSet) {
      const label = priorityLabel(Number(this.#jobs.get(id)!.fields.priority));
      byPriority[label] = (byPriority[label] ?? 0) + 1;
    }
    return {
      waiting: this.#waitSet.size,
      delayed: this.#delayed.size,
      active: this.#active.size,
      completed: this.#completed.size,
      failed: this.#failed.size,
      dead: this.#dead.size,
      waitingChildren: this.#waitingChildren.size,
      byPriority,
    };
  }

  async list(state: JobState, offset: number, limit: number): Promise<string[]> {
    let ids: string[];
    if (state === 'waiting') {
      ids = [];
      for (let p = MAX_PRIORITY; p >= 0; p--) for (const id of this.#wait[p]!) if (this.#waitSet.has(id)) ids.push(id);
      // A grouped queue's group lines, in their turn order (as Redis lists them).
      for (const group of this.#turns) for (const { id } of this.#glines.get(group) ?? []) ids.push(id);
    } else {
      const sets = {
        delayed: this.#delayed,
        active: this.#active,
        completed: this.#completed,
        failed: this.#failed,
        dead: this.#dead,
        'waiting-children': this.#waitingChildren,
      };
      ids = sets[state].sorted();
    }
    return ids.slice(offset, offset + limit);
  }

  async replayDead(_now: number, ids?: readonly string[]): Promise<number> {
    let moved = 0;
    for (const id of ids ?? this.#dead.sorted()) {
      if (!this.#dead.remove(id)) continue;
      const f = this.#jobs.get(id)?.fields;
      if (!f) continue;
      f.attemptsMade = '0';
      f.stalledCount = '0';
      delete f.finishedAt;
      delete f.processedAt;
      this.#enqueue(id);
      moved++;
    }
    if (moved > 0) this.#wake();
    return moved;
  }

  /** @internal the store's structures, for the job and queue operations (memory-ops.ts). */
  get internals(): MemoryInternals {
    return {
      jobs: this.#jobs,
      wait: this.#wait,
      waitSet: this.#waitSet,
      sets: {
        delayed: this.#delayed,
        active: this.#active,
        completed: this.#completed,
        failed: this.#failed,
        dead: this.#dead,
        'waiting-children': this.#waitingChildren,
      },
      enqueue: (id) => this.#enqueue(id),
      wake: () => this.#wake(),
      list: (state) => this.list(state, 0, Number.MAX_SAFE_INTEGER),
      ungroup: (id) => this.#ungroup(id),
      regroupPriority: (id, priority) => {
        // Out of its line and back in at the new priority, the line (and its group's turn) kept meanwhile: as on
        // Redis, where the group stays listed — a group whose only job changes priority keeps its place.
        const g = this.#ungroup(id, true);
        if (g === undefined) return false;
        this.#gpush(g, id, priority);
        return true;
      },
      grouped: () => {
        let n = 0;
        for (const line of this.#glines.values()) n += line.length;
        return n;
      },
      clearGroups: () => {
        this.#glines.clear();
        this.#turns.length = 0;
      },
    };
  }

  async setPaused(paused: boolean): Promise<void> {
    this.#paused = paused;
    if (!paused) this.#wake();
  }

  async isPaused(): Promise<boolean> {
    return this.#paused;
  }

  createWaiter(): Waiter {
    let cancel: (() => void) | undefined;
    let closed = false;
    return {
      wait: (timeoutMs) =>
        new Promise<void>((resolve) => {
          // Jobs added between the worker's empty fetch and this wait (another task's add, a scheduler tick)
          // woke nobody: look again at once instead of sleeping past them.
          if (closed || (this.#waitSet.size > 0 && !this.#paused) || this.#wakePending) {
            this.#wakePending = false;
            return resolve();
          }
          const clock = this.#clock;
          const done = () => {
            clock.clearTimeout(timer);
            this.#waiters.delete(done);
            cancel = undefined;
            resolve();
          };
          const timer = clock.setTimeout(done, timeoutMs);
          timer.unref();
          cancel = done;
          this.#waiters.add(done);
        }),
      close: () => {
        closed = true;
        cancel?.();
      },
    };
  }

  #schedulers: MemorySchedulerStore | undefined;

  schedulers(): MemorySchedulerStore {
    this.#schedulers ??= new MemorySchedulerStore((jobs, now) => this.add(jobs, now));
    return this.#schedulers;
  }

  #limiter: MemoryLimiterStore | undefined;

  limiter(): MemoryLimiterStore {
    this.#limiter ??= new MemoryLimiterStore(this.#clock);
    return this.#limiter;
  }

  /** Grouped lines: per group, ids by score ((10 - priority) · 2^44 + seq); groups with waiting jobs in turn. */
  readonly #glines = new Map<string, { id: string; score: number }[]>();
  readonly #turns: string[] = [];
  /** Per group limiter: theoretical arrival time (ms). */
  readonly #gtat = new Map<string, number>();
  #groupStore: GroupStore | undefined;

  #gpush(group: string, id: string, priority: number): void {
    const score = (MAX_PRIORITY - priority) * 2 ** 44 + ++this.#seq;
    let line = this.#glines.get(group);
    if (!line) {
      line = [];
      this.#glines.set(group, line);
      this.#turns.push(group);
    }
    let i = line.length;
    while (i > 0 && line[i - 1]!.score > score) i--;
    line.splice(i, 0, { id, score });
  }

  #ungroup(id: string, keepTurn = false): string | undefined {
    const f = this.#jobs.get(id)?.fields;
    if (f?.state !== 'waiting' || f.group === undefined) return undefined;
    const line = this.#glines.get(f.group);
    const at = line?.findIndex((e) => e.id === id) ?? -1;
    if (at < 0) return undefined;
    line!.splice(at, 1);
    if (line!.length === 0 && !keepTurn) {
      this.#glines.delete(f.group);
      const turn = this.#turns.indexOf(f.group);
      if (turn >= 0) this.#turns.splice(turn, 1);
    }
    return f.group;
  }

  groups(): GroupStore {
    this.#groupStore ??= {
      add: async (jobs, now) => {
        const out: { id: string; added: boolean }[] = [];
        for (const j of jobs) {
          let id = j.id;
          this.#seq++;
          if (id === '') {
            id = String(this.#seq);
            while (this.#jobs.has(id)) id = String(++this.#seq);
          }
          if (this.#jobs.has(id)) {
            out.push({ id, added: false });
            continue;
          }
          this.#jobs.set(id, {
            fields: {
              name: j.name,
              data: j.data,
              opts: j.opts,
              priority: String(j.priority),
              state: 'waiting',
              attemptsMade: '0',
              stalledCount: '0',
              createdAt: String(now),
              group: j.group ?? '',
            },
          });
          this.#gpush(j.group ?? '', id, j.priority);
          out.push({ id, added: true });
        }
        this.#wake();
        return out;
      },
      fetch: async (now, count, token, lockMs, limit) => {
        const jobs: FetchedJob[] = [];
        let waitMs: number | null = null;
        if (this.#paused) return { jobs, waitMs };
        const interval = limit ? limit.durationMs / limit.max : 0;
        let progressed = true;
        while (jobs.length < count && progressed) {
          progressed = false;
          for (let n = this.#turns.length; n > 0 && jobs.length < count; n--) {
            const group = this.#turns.shift()!;
            const line = this.#glines.get(group)!;
            let ok = true;
            const tat = Math.max(this.#gtat.get(group) ?? 0, now);
            if (limit && tat + interval - limit.durationMs > now + 1e-9) {
              ok = false;
              const ms = Math.ceil(tat + interval - limit.durationMs - now);
              waitMs = waitMs === null ? ms : Math.min(waitMs, ms);
            }
            if (ok) {
              const { id } = line.shift()!;
              jobs.push(this.#lease(id, token, now, lockMs));
              if (limit) this.#gtat.set(group, tat + interval);
              progressed = true;
            }
            if (line.length > 0) this.#turns.push(group);
            else this.#glines.delete(group);
          }
        }
        return { jobs, waitMs };
      },
      waiting: async () => {
        const out = new Array<number>(MAX_PRIORITY + 1).fill(0);
        for (const line of this.#glines.values()) {
          for (const { id } of line) out[Number(this.#jobs.get(id)?.fields.priority ?? 0)]!++;
        }
        return out;
      },
      regroup: async (id, token, group) => {
        const f = this.#held(id, token);
        if (!f) return false;
        this.#active.remove(id);
        delete f.token;
        f.state = 'waiting';
        f.group = group;
        this.#gpush(group, id, Number(f.priority));
        this.#wake();
        return true;
      },
    };
    return this.#groupStore;
  }

  /** As the scripts' `notify_parent`: a flow child's outcome for its parent, in this queue's outbox. */
  #notifyParent(id: string, f: Record<string, string>, kind: 'completed' | 'failed', value: string): void {
    if (f.pq === undefined) return;
    let k: string | undefined = kind;
    if (kind !== 'completed') {
      k = f.pp;
      if (k === undefined || k === 'wait') return;
    }
    this.#outbox.set(id, JSON.stringify({ q: f.pq, id: f.pid, ck: f.ck, k, v: value }));
  }

  #flows: FlowStore | undefined;

  /** Flows: the moves of flow-add.lua and flow-resolve.lua, in one process. */
  flows(): FlowStore {
    this.#flows ??= {
      addNode: async (r: FlowRecord, now: number) => {
        const j = r.job;
        if (this.#jobs.has(j.id)) return false;
        const fields: Record<string, string> = {
          name: j.name,
          data: j.data,
          opts: j.opts,
          priority: String(j.priority),
          attemptsMade: '0',
          stalledCount: '0',
          createdAt: String(now),
          state: 'waiting',
          ck: r.key,
          pf: r.failTo,
        };
        if (r.parent) Object.assign(fields, { pq: r.parent.queue, pid: r.parent.id, pp: r.parent.policy });
        const rec: Rec = { fields };
        this.#jobs.set(j.id, rec);
        this.#seq++;
        if (r.deps.length > 0) {
          rec.deps = new Set(r.deps);
          fields.state = 'waiting-children';
          this.#waitingChildren.add(j.id, now);
        } else if (j.delayMs > 0) {
          fields.state = 'delayed';
          fields.delayUntil = String(now + j.delayMs);
          this.#delayed.add(j.id, now + j.delayMs);
          this.#wake();
        } else {
          this.#enqueue(j.id);
          this.#wake();
        }
        return true;
      },
      resolve: async (pid: string, ck: string, kind: OutboxEntry['kind'], value: string, now: number) => {
        const rec = this.#jobs.get(pid);
        if (!rec?.deps?.delete(ck)) return RESOLVED.none;
        if (kind === 'completed') {
          rec.processed ??= new Map();
          rec.processed.set(ck, value);
        } else if (kind === 'ignore' || kind === 'fail') {
          rec.failedDeps ??= new Map();
          rec.failedDeps.set(ck, value);
        }
        const f = rec.fields;
        if (f.state !== 'waiting-children') return RESOLVED.applied;
        if (kind === 'fail') {
          this.#waitingChildren.remove(pid);
          const entry = JSON.stringify({
            attempt: Number(f.attemptsMade) + 1,
            name: 'ChildJobFailedError',
            code: 'CHILD_FAILED',
            message: `child job "${ck}" failed`,
            child: ck,
            at: now,
          });
          f.errors = f.errors ? `${f.errors.slice(0, -1)},${entry}]` : `[${entry}]`;
          f.state = f.pf === 'dead' ? 'dead' : 'failed';
          f.finishedAt = String(now);
          this.#addFinished(f.state === 'dead' ? this.#dead : this.#failed, pid, now);
          const events = this.#flows?.events;
          if (events) {
            const error = JSON.parse(entry) as JobErrorEntry;
            events.publish({ event: 'failed', jobId: pid, error, willRetry: false });
            if (f.state === 'dead') events.publish({ event: 'dead', jobId: pid, error });
          }
          if (f.pq !== undefined && f.pp !== 'wait') {
            this.#notifyParent(pid, f, 'failed', entry);
            return RESOLVED.failedUp;
          }
          return RESOLVED.failed;
        }
        if (rec.deps.size > 0) return RESOLVED.applied;
        this.#waitingChildren.remove(pid);
        this.#enqueue(pid);
        this.#flows?.events?.publish({ event: 'waiting', jobId: pid, prev: 'waiting-children' });
        this.#wake();
        return RESOLVED.released;
      },
      outbox: async (childId?: string, limit = 200) => {
        if (childId !== undefined) {
          const raw = this.#outbox.get(childId);
          return raw === undefined ? [] : [parseOutbox(childId, raw)];
        }
        return [...this.#outbox].slice(0, limit).map(([id, raw]) => parseOutbox(id, raw));
      },
      ack: async (e: OutboxEntry) => {
        if (this.#outbox.get(e.childId) === e.raw) this.#outbox.delete(e.childId);
      },
      dependencies: async (id: string) => {
        const rec = this.#jobs.get(id);
        return {
          processed: Object.fromEntries(rec?.processed ?? []),
          pending: [...(rec?.deps ?? [])],
          failed: Object.fromEntries(rec?.failedDeps ?? []),
        };
      },
      peer: (name: string) => this.#peers.get(name),
      link: (name: string, store: FlowStore) => void this.#peers.set(name, store),
    };
    return this.#flows;
  }

  async release(id: string, token: string, now: number, delayMs: number): Promise<boolean> {
    const f = this.#held(id, token);
    if (!f) return false;
    this.#active.remove(id);
    delete f.token;
    if (delayMs > 0) {
      f.state = 'delayed';
      f.delayUntil = String(now + delayMs);
      this.#delayed.add(id, now + delayMs);
    } else {
      this.#enqueue(id);
    }
    this.#wake();
    return true;
  }

  async close(): Promise<void> {
    this.#wake();
  }
}
