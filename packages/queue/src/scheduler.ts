import {
  type Backoff,
  BallastError,
  backoffFromResolved,
  backoffOptionsSchema,
  type Clock,
  errorGuard,
  InvalidOptionsError,
  parseOptions,
  sleep,
} from '@ballast/core';
import { Cron } from 'croner';
import { z } from 'zod';
import type { QueueBackend } from './backend';
import { type NewJob, prepareJob } from './job';
import type { JobOptions } from './options';
import type { Queue } from './queue';

/**
 * Repeatable and cron jobs (job schedulers). A scheduler is a stored rule — every N ms, or a cron pattern in a
 * time zone — plus a job template. Workers (every process running one) claim due ticks: a tick's claim is one
 * compare-and-set of the scheduler's next run time (one Lua script on Redis, which also adds the job), so
 * however many processes race for a tick, and across restarts, each tick produces exactly one job.
 */

/** After downtime (nobody claimed for more than one period): what the missed ticks produce. */
export type MissedTickPolicy = 'once' | 'skip';

const dateSchema = z.union([z.number().int().min(0), z.date(), z.iso.datetime({ offset: true })]);

const commonShape = {
  /** No tick before this time (the first `every` tick is at it). */
  startDate: dateSchema.optional(),
  /** No tick after this time; the scheduler is removed once past it. */
  endDate: dateSchema.optional(),
  /** Jobs in total; the scheduler is removed after the last one. */
  limit: z.number().int().positive().optional(),
  /**
   * Ticks missed while no worker ran (the scheduler more than one period behind): `once` (default) adds one
   * job for all of them (its tick time: the first missed), `skip` adds none. Either way the schedule then
   * resumes at its next tick after now.
   */
  missed: z.enum(['once', 'skip']).default('once'),
};

export const scheduleSchema = z.union([
  z.object({ every: z.number().int().positive(), ...commonShape }).strict(),
  z
    .object({
      /** Cron pattern, 5 fields (minute first) or 6 (seconds first): croner's syntax. */
      pattern: z.string().min(1),
      /** IANA time zone the pattern is read in (e.g. `Asia/Shanghai`); default the process's. */
      tz: z.string().min(1).optional(),
      ...commonShape,
    })
    .strict(),
]);
export type Schedule = z.input<typeof scheduleSchema>;

/** The job a scheduler adds at each tick. `jobId` is the scheduler's (`repeat:<id>:<tick ms>`), `delayMs` none. */
export interface SchedulerTemplate<D = unknown> {
  name: string;
  data?: D;
  options?: Omit<JobOptions, 'jobId' | 'delayMs'>;
}

/** A scheduler as stored: the schedule resolved to numbers, the template already serialised. */
export interface SchedulerRecord {
  id: string;
  every?: number;
  pattern?: string;
  tz?: string;
  /** `every`: the first tick (ticks are `anchor + k · every`). */
  anchor?: number;
  startDate?: number;
  endDate?: number;
  limit?: number;
  missed: MissedTickPolicy;
  /** Template: job name, data (JSON), stored options (JSON), priority. */
  name: string;
  data: string;
  opts: string;
  priority: number;
  /** Jobs produced so far. */
  count: number;
  /** The next tick (ms since the epoch). */
  next: number;
}

/** What `listSchedulers` and `getScheduler` return. */
export interface SchedulerInfo<D = unknown> {
  id: string;
  every?: number;
  pattern?: string;
  tz?: string;
  startDate?: number;
  endDate?: number;
  limit?: number;
  missed: MissedTickPolicy;
  template: { name: string; data: D; priority: number };
  /** Jobs produced so far. */
  count: number;
  /** When the next job is due (ms since the epoch). */
  nextRunAt: number;
}

/** One tick claimed: move `next` from `expected` to `newNext` (null: the scheduler is done, removed). */
export interface TickClaim {
  id: string;
  expected: number;
  newNext: number | null;
  /** Add the tick's job (false: a skipped missed tick). */
  job: boolean;
  /** The job's id: `repeat:<id>:<expected>`. */
  jobId: string;
}

/**
 * Where a backend keeps its schedulers. `claim` is the one atomic step every racing process goes through: it
 * succeeds for exactly one of them per tick.
 */
export interface SchedulerStore {
  /** Adds or replaces; an unchanged schedule keeps its next tick and count (only the template is replaced). */
  upsert(record: SchedulerRecord, specKey: string): Promise<void>;
  remove(id: string): Promise<boolean>;
  get(id: string): Promise<SchedulerRecord | undefined>;
  list(): Promise<SchedulerRecord[]>;
  /** Up to `limit` schedulers due at `now`, and the earliest next tick of the rest (null: none). */
  due(now: number, limit: number): Promise<{ due: SchedulerRecord[]; nextAt: number | null }>;
  /** False when another process claimed the tick first (or the scheduler changed or went). */
  claim(claim: TickClaim, now: number): Promise<boolean>;
}

/** The backend keeps no schedulers (RabbitMQ without a Redis status store). */
export class SchedulersUnsupportedError extends BallastError {
  static readonly code = 'NO_SCHEDULERS';
  constructor(
    readonly backend: string,
    reason: string,
  ) {
    super(new.target.code, `Job schedulers are not available on the ${backend} backend: ${reason}`);
  }
}
export const isSchedulersUnsupportedError = errorGuard<SchedulersUnsupportedError>(SchedulersUnsupportedError.code);

const toMs = (d: number | Date | string | undefined): number | undefined =>
  d === undefined ? undefined : typeof d === 'number' ? d : new Date(d).getTime();

/** The tick arithmetic of one scheduler (croner for patterns, pinned). */
export class Ticks {
  readonly #every: number | undefined;
  readonly #anchor: number;
  readonly #cron: Cron | undefined;
  readonly #start: number | undefined;
  readonly #end: number | undefined;

  constructor(r: Pick<SchedulerRecord, 'every' | 'anchor' | 'pattern' | 'tz' | 'startDate' | 'endDate'>) {
    this.#every = r.every;
    this.#anchor = r.anchor ?? r.startDate ?? 0;
    this.#start = r.startDate;
    this.#end = r.endDate;
    if (r.pattern !== undefined) {
      this.#cron = new Cron(r.pattern, { paused: true, ...(r.tz ? { timezone: r.tz } : {}) });
    }
  }

  #bound(t: number | null): number | null {
    return t === null || (this.#end !== undefined && t > this.#end) ? null : t;
  }

  /** The first tick strictly after `t` (null: none, past `endDate`). */
  after(t: number): number | null {
    if (this.#every !== undefined) {
      const every = this.#every;
      if (t < this.#anchor) return this.#bound(this.#anchor);
      return this.#bound(this.#anchor + (Math.floor((t - this.#anchor) / every) + 1) * every);
    }
    const from = this.#start !== undefined ? Math.max(t, this.#start - 1) : t;
    const next = this.#cron!.nextRun(new Date(from));
    return this.#bound(next ? next.getTime() : null);
  }

  /** The first tick at or after `t`. */
  from(t: number): number | null {
    return this.after(t - 1);
  }
}

/** Checks and resolves a schedule and template into a record (a typed error naming the field otherwise). */
export function resolveScheduler(
  queue: Queue<unknown>,
  id: string,
  schedule: Schedule,
  template: SchedulerTemplate,
  now: number,
): { record: SchedulerRecord; specKey: string } {
  const where = `upsertScheduler("${id}")`;
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    throw new InvalidOptionsError(where, [
      { path: 'id', expected: 'a string of 1..200 characters', received: String(id), message: 'bad scheduler id' },
    ]);
  }
  const s = parseOptions(scheduleSchema, schedule, where);
  if (typeof template !== 'object' || template === null || typeof template.name !== 'string') {
    throw new InvalidOptionsError(where, [
      { path: 'template.name', expected: 'a job name', received: typeof template, message: 'bad template' },
    ]);
  }
  const opts = template.options as (JobOptions & Record<string, unknown>) | undefined;
  for (const k of ['jobId', 'delayMs'] as const) {
    if (opts && opts[k] !== undefined) {
      throw new InvalidOptionsError(where, [
        {
          path: `template.options.${k}`,
          expected: 'undefined',
          received: String(opts[k]),
          message: `a scheduler sets ${k} itself`,
        },
      ]);
    }
  }
  const job: NewJob = prepareJob(
    template.name,
    template.data ?? null,
    opts,
    queue.options.defaultJobOptions,
    queue.options.maxPayloadBytes,
  );
  const startDate = toMs(s.startDate);
  const endDate = toMs(s.endDate);
  const spec = {
    every: 'every' in s ? s.every : undefined,
    pattern: 'pattern' in s ? s.pattern : undefined,
    tz: 'pattern' in s ? s.tz : undefined,
    startDate,
    endDate,
    limit: s.limit,
    missed: s.missed,
  };
  const specKey = JSON.stringify(spec);
  const record: SchedulerRecord = {
    id,
    ...spec,
    anchor: spec.every !== undefined ? (startDate ?? now) : undefined,
    name: job.name,
    data: job.data,
    opts: job.opts,
    priority: job.priority,
    count: 0,
    next: 0,
  };
  let ticks: Ticks;
  try {
    ticks = new Ticks(record);
  } catch (error) {
    throw new InvalidOptionsError(where, [
      {
        path: 'pattern' in s ? 'pattern' : 'every',
        expected: 'a cron pattern (5 or 6 fields) and an IANA time zone',
        received: `${spec.pattern} ${spec.tz ?? ''}`.trim(),
        message: error instanceof Error ? error.message : String(error),
      },
    ]);
  }
  let first: number | null;
  try {
    first = ticks.from(Math.max(now, startDate ?? now));
  } catch (error) {
    throw new InvalidOptionsError(where, [
      {
        path: 'tz',
        expected: 'an IANA time zone',
        received: String(spec.tz),
        message: error instanceof Error ? error.message : String(error),
      },
    ]);
  }
  if (first === null) {
    throw new InvalidOptionsError(where, [
      { path: 'endDate', expected: 'a time after the first tick', received: String(endDate), message: 'no tick left' },
    ]);
  }
  record.next = first;
  return { record, specKey };
}

/** A record as users see it. */
export function schedulerInfo<D>(r: SchedulerRecord): SchedulerInfo<D> {
  const info: SchedulerInfo<D> = {
    id: r.id,
    missed: r.missed,
    template: { name: r.name, data: JSON.parse(r.data) as D, priority: r.priority },
    count: r.count,
    nextRunAt: r.next,
  };
  for (const k of ['every', 'pattern', 'tz', 'startDate', 'endDate', 'limit'] as const) {
    if (r[k] !== undefined) (info as unknown as Record<string, unknown>)[k] = r[k];
  }
  return info;
}

/** The id of the job a scheduler adds for the tick at `at`. */
export const tickJobId = (id: string, at: number): string => `repeat:${id}:${at}`;

/**
 * What to do with a due scheduler at `now`: the tick it owes (`expected`, its stored next), whether a job is
 * added, and the next tick after it. More than one period behind (the tick after `expected` is due too): the
 * missed-tick policy applies and the schedule resumes at the first tick after `now`.
 */
export function planTick(r: SchedulerRecord, ticks: Ticks, now: number): TickClaim {
  const expected = r.next;
  const following = ticks.after(expected);
  let newNext = following;
  let job = true;
  if (following !== null && following <= now) {
    job = r.missed === 'once';
    newNext = ticks.after(now);
  }
  if (job && r.limit !== undefined && r.count + 1 >= r.limit) newNext = null;
  return { id: r.id, expected, newNext, job, jobId: tickJobId(r.id, expected) };
}

/** The schedulers of a backend, or a typed error saying why it keeps none. */
export function schedulerStoreOf(backend: QueueBackend): SchedulerStore {
  const store = backend.schedulers?.();
  if (!store) {
    throw new SchedulersUnsupportedError(
      backend.kind,
      backend.kind === 'rabbitmq'
        ? 'a tick is claimed and its job added in one atomic step, and a broker publish cannot join a Redis script (claim then publish loses the tick when the publish fails); run schedulers on a Redis queue'
        : 'this backend does not implement schedulers()',
    );
  }
  return store;
}

/** Runners of this process by queue object: an upsert here wakes them at once (others find it by polling). */
const runnersByQueue = new WeakMap<object, Set<SchedulerRunner>>();

/** Wakes this process's runners of `queue` (a scheduler was upserted: its first tick may be sooner). */
export function pokeRunners(queue: object): void {
  for (const r of runnersByQueue.get(queue) ?? []) r.poke();
}

const FAILURE_BACKOFF = backoffOptionsSchema.parse({ initialMs: 200, maxMs: 5_000, jitter: 'none' });

/**
 * Claims a queue's due ticks, in a worker: sleeps (on the queue's clock) until the earliest next tick, at most
 * `pollMs` (schedulers upserted by other processes are seen within it), claims each due one, and again.
 */
export class SchedulerRunner {
  readonly #queue: Queue<unknown>;
  readonly #store: SchedulerStore;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #report: (error: unknown) => void;
  readonly #ticks = new Map<string, { key: string; ticks: Ticks }>();
  readonly #stop = new AbortController();
  #wake: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(queue: Queue<unknown>, store: SchedulerStore, pollMs: number, report: (error: unknown) => void) {
    this.#queue = queue;
    this.#store = store;
    this.#clock = queue.clock;
    this.#pollMs = pollMs;
    this.#report = report;
  }

  start(): void {
    if (this.#loop) return;
    const set = runnersByQueue.get(this.#queue) ?? new Set<SchedulerRunner>();
    runnersByQueue.set(this.#queue, set);
    set.add(this);
    this.#loop = this.#run();
  }

  poke(): void {
    this.#wake?.abort();
  }

  async stop(): Promise<void> {
    runnersByQueue.get(this.#queue)?.delete(this);
    this.#stop.abort();
    this.#wake?.abort();
    await this.#loop;
  }

  #ticksOf(r: SchedulerRecord): Ticks {
    const key = `${r.every}|${r.anchor}|${r.pattern}|${r.tz}|${r.startDate}|${r.endDate}`;
    const c = this.#ticks.get(r.id);
    if (c && c.key === key) return c.ticks;
    const ticks = new Ticks(r);
    this.#ticks.set(r.id, { key, ticks });
    return ticks;
  }

  /** Claims every due tick once; returns the earliest next tick (null: no scheduler). */
  async runDue(): Promise<number | null> {
    for (;;) {
      const now = this.#clock.now();
      const { due, nextAt } = await this.#store.due(now, 100);
      if (due.length === 0) return nextAt;
      if (this.#stop.signal.aborted) return nextAt;
      // Claims are independent (each its own compare-and-set): sent together, one socket write on Redis.
      const won = await Promise.all(due.map((r) => this.#store.claim(planTick(r, this.#ticksOf(r), now), now)));
      const claimed = won.filter(Boolean).length;
      // Others claimed them all: what is due now is theirs to finish; look again after a short sleep.
      if (claimed === 0) return Math.min(nextAt ?? Number.POSITIVE_INFINITY, now + 1);
    }
  }

  async #run(): Promise<void> {
    const backoff: Backoff = backoffFromResolved(FAILURE_BACKOFF);
    while (!this.#stop.signal.aborted) {
      this.#wake = new AbortController();
      let wait: number;
      try {
        const nextAt = await this.runDue();
        backoff.reset();
        const now = this.#clock.now();
        // Due already (the clock moved while we asked): claim at once rather than sleep past it.
        if (nextAt !== null && nextAt <= now) continue;
        wait = nextAt === null ? this.#pollMs : Math.min(this.#pollMs, nextAt - now);
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        this.#report(error);
        wait = backoff.next();
      }
      if (this.#stop.signal.aborted) break;
      await sleep(this.#clock, wait, AbortSignal.any([this.#stop.signal, this.#wake.signal])).catch(() => {});
    }
  }
}

/** In-process schedulers (the memory backend): the claim is a check-and-set in one synchronous step. */
export class MemorySchedulerStore implements SchedulerStore {
  readonly #records = new Map<string, { record: SchedulerRecord; specKey: string }>();
  readonly #add: (jobs: NewJob[], now: number) => Promise<unknown>;

  constructor(add: (jobs: NewJob[], now: number) => Promise<unknown>) {
    this.#add = add;
  }

  async upsert(record: SchedulerRecord, specKey: string): Promise<void> {
    const old = this.#records.get(record.id);
    if (old && old.specKey === specKey) {
      this.#records.set(record.id, {
        record: { ...record, anchor: old.record.anchor, count: old.record.count, next: old.record.next },
        specKey,
      });
    } else {
      this.#records.set(record.id, { record: { ...record, count: old?.record.count ?? 0 }, specKey });
    }
  }

  async remove(id: string): Promise<boolean> {
    return this.#records.delete(id);
  }

  async get(id: string): Promise<SchedulerRecord | undefined> {
    const r = this.#records.get(id);
    return r ? { ...r.record } : undefined;
  }

  async list(): Promise<SchedulerRecord[]> {
    return [...this.#records.values()].map((r) => ({ ...r.record })).sort((a, b) => a.next - b.next);
  }

  async due(now: number, limit: number): Promise<{ due: SchedulerRecord[]; nextAt: number | null }> {
    const all = await this.list();
    const due = all.filter((r) => r.next <= now).slice(0, limit);
    const rest = all.find((r) => r.next > now);
    return { due, nextAt: rest ? rest.next : null };
  }

  async claim(c: TickClaim, now: number): Promise<boolean> {
    const entry = this.#records.get(c.id);
    if (!entry || entry.record.next !== c.expected) return false;
    const r = entry.record;
    if (c.job) r.count++;
    const done = c.newNext === null || (r.limit !== undefined && r.count >= r.limit);
    if (done) this.#records.delete(c.id);
    else r.next = c.newNext!;
    if (c.job) {
      await this.#add(
        [{ id: c.jobId, name: r.name, data: r.data, opts: r.opts, priority: r.priority, delayMs: 0 }],
        now,
      );
    }
    return true;
  }
}
