import {
  type Backoff,
  backoffDelay,
  backoffFromResolved,
  backoffOptionsSchema,
  boundBackendCall,
  type Clock,
  EventEmitter,
  extractTraceContext,
  InvalidOptionsError,
  type OutageLog,
  outageLog,
  parseOptions,
  sleep,
  type TimeoutEntry,
  TimeoutQueue,
} from '@ballast/core';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FetchedJob, FetchLanes, Waiter } from './backend';
import { type JobContext, runInJob } from './context';
import { isJobTimeoutError, JobTimeoutError, NoHandlerError, QueueClosedError } from './errors';
import { applyOutbox } from './flows';
import { fetchGrouped } from './groups';
import { type Job, type JobErrorEntry, serialize } from './job';
import { FetchGate, isRateLimitedError, type RateLimitedError } from './limiter';
import { queueInstruments } from './metrics';
import type { ResolvedWorkerOptions, StoredJobOptions, WorkerOptions } from './options';
import { workerOptionsSchema } from './options';
import { HandlerJob } from './progress';
import type { Queue } from './queue';
import { sandboxed } from './sandbox';
import { SchedulerRunner } from './scheduler';

/** After a failed fetch or blocking wait: 200 ms, doubling to 5 s while the failures last. */
const FAILURE_BACKOFF = backoffOptionsSchema.parse({ initialMs: 200, maxMs: 5_000, jitter: 'none' });

/**
 * A job handler: gets the job and a signal that aborts on the job's timeout (and on a forced close). Every
 * handler gets the signal, whatever it declares (rest parameters, defaults, a wrapper of length 0); code it
 * calls reaches the same job and signal through `currentJob()`.
 */
export type Handler<D = unknown, R = unknown> = (job: Job<D>, signal: AbortSignal) => R | Promise<R>;
/**
 * Handlers by job name. On a typed queue (`createQueue<D>`) each handler's `job.data` is a `D`; a handler may
 * also declare a narrower job type of its own (`(job: Job<{ file: string }>) => …`): checked bivariantly.
 */
export type Handlers<D = never> = Record<
  string,
  { bivarianceHack(job: Job<D>, signal: AbortSignal): unknown }['bivarianceHack']
>;

let workerCount = 0;

/** A fetch's batch; `order`: its number among the worker's fetches as Redis ran them (with fetch lanes). */
interface FetchResult {
  jobs: FetchedJob[];
  nextDueAt: number | null;
  order?: number;
}

interface InFlight {
  job: FetchedJob;
  /** Set once the handler runs. */
  controller: AbortController | undefined;
  /** Fails the running attempt (timeout, forced close). */
  stop?: (error: unknown) => void;
}

/**
 * Processes a queue's jobs with up to `concurrency` handlers at once. Fetches as many jobs as it has free
 * slots in one step; idles on the backend's blocking wait (no polling), timed to the earliest delayed job.
 * Renews the leases of its active jobs; recovers jobs whose worker died (stalled).
 */
export class Worker<D = unknown> {
  readonly id: string;
  readonly options: ResolvedWorkerOptions;
  readonly #queue: Queue<D>;
  readonly #clock: Clock;
  readonly #handler: Handler<D> | undefined;
  readonly #handlers: Handlers | undefined;
  readonly #inflight = new Map<string, InFlight>();
  readonly #timeoutQueues = new Map<number, TimeoutQueue>();
  /** Jobs fetched ahead (leased, not started yet). */
  readonly #buffer: FetchedJob[] = [];
  readonly #waiter: Waiter;
  /** The fetch loop's two lanes (lane 1 on a connection of its own), closed with the worker. */
  #lanes: FetchLanes | undefined;
  readonly #errors = new EventEmitter<unknown>('error');
  readonly onError = this.#errors.event;
  readonly #m = queueInstruments();
  #fetchSeq = 0;
  /** Handlers running now (slots taken); `#inflight` also holds jobs whose ack is on its way. */
  #busy = 0;
  #running = false;
  #closing = false;
  #paused = false;
  #loop: Promise<void> | undefined;
  #slot: (() => void) | undefined;
  #resume: (() => void) | undefined;
  #renewTimer: ReturnType<Clock['setInterval']> | undefined;
  #stalledTimer: ReturnType<Clock['setInterval']> | undefined;
  #closed: Promise<void> | undefined;
  readonly #unregister: () => void;
  /** Aborted by close(): ends a back-off sleep at once. */
  readonly #stop = new AbortController();
  readonly #outage: OutageLog;
  #schedulers: SchedulerRunner | undefined;
  readonly #gate: FetchGate;
  #sandbox: ReturnType<typeof sandboxed> | undefined;

  constructor(queue: Queue<D>, handler: Handler<D> | Handlers<D> | URL | string, options: WorkerOptions = {}) {
    this.options = parseOptions(workerOptionsSchema, options, `createWorker("${queue.name}")`);
    this.#queue = queue;
    this.#clock = queue.clock;
    this.#outage = outageLog(queue.logger);
    if (handler instanceof URL || typeof handler === 'string') {
      // A processor module: run in worker threads or child processes (sandbox), one per slot.
      this.#sandbox = sandboxed(handler, { size: this.options.concurrency, kind: this.options.sandbox });
      this.#handler = this.#sandbox as Handler<D>;
    } else if (typeof handler === 'function') this.#handler = handler;
    else this.#handlers = { ...handler };
    this.id = `${queue.name}:${process.pid}:${++workerCount}:${Math.random().toString(36).slice(2, 8)}`;
    this.#waiter = queue.backend.createWaiter();
    const limits = queue.options.limiter;
    const store = limits ? queue.backend.limiter?.() : undefined;
    if (limits && !store) {
      this.#waiter.close();
      throw new InvalidOptionsError(`createWorker("${queue.name}")`, [
        {
          path: 'limiter',
          expected: 'a backend with a shared rate limiter (memory, redis)',
          received: queue.backend.kind,
          message: `the ${queue.backend.kind} backend keeps no rate limiter`,
        },
      ]);
    }
    this.#gate = new FetchGate(this.#clock, store, limits);
    if (queue.options.groups && !queue.backend.groups?.()) {
      this.#waiter.close();
      throw new InvalidOptionsError(`createWorker("${queue.name}")`, [
        {
          path: 'groups',
          expected: 'a backend with job groups (memory, redis)',
          received: queue.backend.kind,
          message: `the ${queue.backend.kind} backend has no job groups`,
        },
      ]);
    }
    this.#unregister = queue.registerCloser(() => this.close());
    if (this.options.onError) this.#errors.event(this.options.onError);
    if (this.options.autorun) this.run();
  }

  /** Adds handlers by job name (the `@Task` decorator registers a class's task methods this way). */
  register(handlers: Handlers): void {
    if (!this.#handlers) throw new NoHandlerError('(a worker created with one handler takes no named handlers)');
    Object.assign(this.#handlers, handlers);
  }

  get running(): boolean {
    return this.#running;
  }

  /** Jobs being handled now. */
  get active(): number {
    return this.#busy;
  }

  /** Starts fetching (when created with `autorun: false`). */
  run(): void {
    if (this.#running || this.#closing) return;
    if (this.#queue.closed) throw new QueueClosedError(this.#queue.name, 'createWorker');
    this.#running = true;
    const renewMs = this.options.renewIntervalMs ?? Math.max(1, Math.floor(this.options.lockMs / 2));
    this.#renewTimer = this.#clock.setInterval(() => void this.#renew(), renewMs);
    this.#renewTimer.unref();
    this.#stalledTimer = this.#clock.setInterval(() => void this.#checkStalled(), this.options.stalledIntervalMs);
    this.#stalledTimer.unref();
    void this.#checkStalled();
    const store = this.options.schedulers ? this.#queue.backend.schedulers?.() : undefined;
    if (store) {
      this.#schedulers = new SchedulerRunner(this.#queue as Queue<unknown>, store, this.options.blockMs, (e) =>
        this.#report(e),
      );
      this.#schedulers.start();
    }
    // What the broker may hand this worker: its slots, plus what it fetches ahead only when asked to (messages a
    // worker holds do not yield to a higher priority published later).
    const holds = this.options.concurrency + (this.options.prefetch ?? 0);
    const consuming = this.#queue.backend.startConsuming?.(holds, this.options.maxStalledCount);
    this.#loop = (consuming ?? Promise.resolve()).then(
      () => this.#fetchLoop(),
      (error: unknown) => this.#report(error),
    );
  }

  /** Stops taking new jobs (this worker only); in-flight jobs continue. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const r = this.#resume;
    this.#resume = undefined;
    r?.();
  }

  #report(error: unknown): void {
    if (this.#errors.size > 0) this.#errors.emit(error);
    // Redis down: one warning per outage, not one per retry.
    else this.#outage.failed(error, 'queue worker background error', { worker: this.id });
  }

  /** Reports a background failure and sleeps (on the worker's clock) before the loop tries again. */
  async #backOff(error: unknown, backoff: Backoff): Promise<void> {
    this.#report(error);
    await sleep(this.#clock, backoff.next(), this.#stop.signal).catch(() => {});
  }

  async #fetchLoop(): Promise<void> {
    const { concurrency, lockMs, blockMs } = this.options;
    const prefetch = this.options.prefetch ?? concurrency;
    const holds = concurrency + prefetch;
    // Fetch when at least this many jobs are wanted (or nothing is buffered): no trickle of one-job fetches.
    const minFetch = Math.max(1, Math.ceil(holds / 4));
    // On Redis, two fetches may be out at once, each for at most half of what the worker holds: Redis runs one
    // (and the acks sent with it) while this process runs the jobs of the other. One at a time, the two took
    // turns — the process idle while Redis ran the fetch, Redis idle while the process ran its jobs.
    // (Each on a connection of its own: on one, Redis answers both in one write and they stay in step.) Redis
    // may run the later-sent of two fetches first: the batches are taken in the order Redis ran them (their
    // `order`), so jobs start in priority order as with one fetch at a time.
    const lanes =
      !this.#queue.options.groups && holds >= 8 && this.#queue.backend.createFetchLanes
        ? this.#queue.backend.createFetchLanes(this.id)
        : undefined;
    this.#lanes = lanes;
    const most = lanes ? 2 : 1;
    const maxFetch = Math.ceil(holds / most);
    /** Whether lane 1 (its own connection) has a fetch out. */
    let second = false;
    /** Lane 1 failed: the worker fetches on lane 0 alone until then (its own backoff sequence). */
    let secondOffUntil = 0;
    const secondBackoff = backoffFromResolved(FAILURE_BACKOFF);
    // Separate sequences: a fetch that works does not mean the blocking wait does, and vice versa.
    const fetchBackoff = backoffFromResolved(FAILURE_BACKOFF);
    const waitBackoff = backoffFromResolved(FAILURE_BACKOFF);
    /** Fetches out now. */
    const out = new Set<Promise<void>>();
    /** Jobs those fetches asked for (leased to this worker when they return). */
    let asked = 0;
    /** The error of a fetch that failed, for the loop to back off on once no fetch is out. */
    let failed: { error: unknown } | undefined;
    /** The last fetch to return came back empty: when the next delayed job is due (null: none). */
    let empty: { nextDueAt: number | null } | undefined;
    /** A fetch returned since the loop last waited (its jobs start at once, not a tick later). */
    let returned = false;
    /** Batches that came back before one Redis ran earlier (by `order`): taken in when that one is in. */
    const parked: FetchResult[] = [];
    /** Jobs of the parked batches (leased to this worker, not in the buffer yet). */
    let parkedJobs = 0;
    /** `order` of the last batch taken in (undefined: none yet). */
    let lastOrder: number | undefined;
    const takeIn = (res: FetchResult) => {
      if (res.order) lastOrder = res.order;
      parkedJobs -= res.jobs.length;
      for (const job of res.jobs) {
        this.#buffer.push(job);
        this.#queue.publish({ event: 'active', jobId: job.id, attempt: job.attemptsMade + 1 });
      }
      empty = res.jobs.length === 0 ? { nextDueAt: res.nextDueAt } : undefined;
    };
    /** Takes in the parked batches that are next in Redis's order — all of them once no fetch is out. */
    const drain = () => {
      parked.sort((x, y) => (x.order ?? 0) - (y.order ?? 0));
      while (
        parked.length > 0 &&
        (out.size === 0 || !parked[0]!.order || (lastOrder !== undefined && parked[0]!.order === lastOrder + 1))
      ) {
        takeIn(parked.shift()!);
      }
    };
    const wake = () =>
      new Promise<void>((r) => {
        this.#slot = r;
      });
    for (;;) {
      while (this.#busy < concurrency && this.#buffer.length > 0) this.#start(this.#buffer.shift()!);
      if (this.#closing) break;
      if (this.#paused) {
        await new Promise<void>((r) => {
          this.#resume = r;
        });
        continue;
      }
      if (failed) {
        // Wait for the other fetch out (it may bring jobs), then back off once.
        if (out.size > 0) {
          await wake();
          continue;
        }
        const { error } = failed;
        failed = undefined;
        await this.#backOff(error, fetchBackoff);
        continue;
      }
      const want = holds - this.#busy - this.#buffer.length - parkedJobs - asked;
      if (empty && out.size === 0 && this.#buffer.length > 0) {
        // Jobs fetched ahead wait for a slot (every one is busy): wait for that, not for new work — a blocking
        // wait would leave them leased and idle for up to blockMs after the slots freed. Then fetch again.
        if (!returned) await wake();
        returned = false;
        empty = undefined;
        continue;
      }
      if (empty && out.size === 0 && want > 0) {
        // The last fetch found nothing to take: block until new work (or the next delayed job) is due.
        const now = this.#clock.now();
        const due = empty.nextDueAt;
        empty = undefined;
        const wait = due === null ? blockMs : Math.max(1, Math.min(blockMs, due - now));
        try {
          await this.#waiter.wait(wait);
          waitBackoff.reset();
        } catch (error) {
          // The blocking wait failed (refused by an ACL, wrong key type, connection lost): back off like a failed
          // fetch — fetching again at once would spin while the failure lasts.
          if (this.#closing) break;
          await this.#backOff(error, waitBackoff);
        }
        continue;
      }
      if (
        want <= 0 ||
        out.size >= most ||
        // A batch waits for one Redis ran before it: no new fetch until that is in — once no fetch is out, every
        // parked batch is taken in (the worker's counter reset or skipped: a restarted Redis, a lost reply).
        parked.length > 0 ||
        (empty && out.size > 0) ||
        (want < minFetch && (this.#buffer.length > 0 || out.size > 0))
      ) {
        // Wait for a slot to free or a fetch to return. Jobs fetched ahead that wait for a slot wait for that, not
        // for new work — a blocking wait would leave them leased and idle for up to blockMs after slots freed.
        if (!returned) await wake();
        // Let jobs finishing in the same tick free their slots too: one fetch for all of them.
        if (!returned) await new Promise<void>((r) => setImmediate(r));
        returned = false;
        continue;
      }
      let granted: number;
      try {
        // The queue's rate limit (and a block from rateLimit / RateLimitedError): how many we may take now.
        const gate = await this.#gate.take(Math.min(want, maxFetch));
        if (this.#closing) {
          await this.#gate.refund(gate.granted).catch(() => {});
          break;
        }
        if (gate.granted === 0) {
          await sleep(this.#clock, gate.waitMs, this.#stop.signal).catch(() => {});
          continue;
        }
        granted = gate.granted;
      } catch (error) {
        if (this.#closing) break;
        await this.#backOff(error, fetchBackoff);
        continue;
      }
      asked += granted;
      const lane: 0 | 1 =
        lanes && !second && out.size > 0 && lanes.ready && this.#clock.now() >= secondOffUntil ? 1 : 0;
      if (lane === 1) second = true;
      const fetching: Promise<void> = this.#fetchOnce(granted, lockMs, lanes, lane)
        .then(
          (res) => {
            asked -= granted;
            if (lane === 1) {
              second = false;
              secondBackoff.reset();
            }
            out.delete(fetching);
            // Leased to this worker from now on: renewed while buffered (parked too), awaited by close.
            for (const job of res.jobs) this.#inflight.set(job.id, { job, controller: undefined });
            parked.push(res);
            parkedJobs += res.jobs.length;
            drain();
            fetchBackoff.reset();
            this.#outage.succeeded('queue worker fetching again', { worker: this.id });
            returned = true;
            this.#notify();
          },
          (error: unknown) => {
            asked -= granted;
            out.delete(fetching);
            if (lane === 1) {
              // Lane 1's own connection failed: fetch on lane 0 alone for a while (lane 0 backs off on its own
              // failures, and the blocking wait on its own).
              second = false;
              secondOffUntil = this.#clock.now() + secondBackoff.next();
              this.#report(error);
            } else failed = { error };
            drain();
            returned = true;
            this.#notify();
          },
        )
        .catch((error: unknown) => this.#report(error));
      out.add(fetching);
    }
    // Closing: jobs fetched ahead are ours (leased); run them rather than leave them to stalled recovery — also
    // those of fetches still out.
    await Promise.all(out);
    for (const job of this.#buffer.splice(0)) this.#start(job);
  }

  /** One fetch of up to `count` jobs; what the rate limit granted and the fetch did not fill is given back. */
  async #fetchOnce(count: number, lockMs: number, lanes: FetchLanes | undefined, lane: 0 | 1): Promise<FetchResult> {
    const token = `${this.id}:${++this.#fetchSeq}`;
    const groups = this.#queue.options.groups;
    const res: FetchResult = lanes
      ? await lanes.fetch(lane, this.#clock.now(), count, token, lockMs)
      : groups
        ? await fetchGrouped(
            this.#queue.backend,
            groups === true ? undefined : groups.limiter,
            this.#clock.now(),
            count,
            token,
            lockMs,
          )
        : await this.#queue.backend.fetch(this.#clock.now(), count, token, lockMs);
    if (res.jobs.length < count) {
      this.#gate.refund(count - res.jobs.length).catch((error: unknown) => this.#report(error));
    }
    return res;
  }

  #notify(): void {
    const s = this.#slot;
    this.#slot = undefined;
    s?.();
  }

  /**
   * Runs a job. Its slot frees as soon as the handler settles, while the ack is still on its way: the next
   * fetch then goes out in the same socket write as the acks of the jobs that just finished (one round trip for
   * both). The job stays in `#inflight` (leased, renewed, awaited by `close`) until its ack is done.
   */
  #start(job: FetchedJob): void {
    const entry: InFlight = { job, controller: undefined };
    this.#inflight.set(job.id, entry);
    this.#busy++;
    let freed = false;
    const free = () => {
      if (freed) return;
      freed = true;
      this.#busy--;
      this.#notify();
    };
    void this.#process(job, entry, free).finally(() => {
      free();
      // Not another run of the same job (a copy of its message redelivered after a reconnection) started since.
      if (this.#inflight.get(job.id) === entry) this.#inflight.delete(job.id);
      this.#notify();
    });
  }

  /**
   * The job timeouts of one length: they expire in the order they started, so one timer serves every job
   * running with that `timeoutMs` (core's `TimeoutQueue`), not a setTimeout + clearTimeout per job.
   */
  #timeouts(ms: number): TimeoutQueue {
    let q = this.#timeoutQueues.get(ms);
    if (!q) {
      q = new TimeoutQueue(this.#clock);
      this.#timeoutQueues.set(ms, q);
    }
    return q;
  }

  #handlerFor(name: string): Handler<D> {
    const h = this.#handler ?? (this.#handlers?.[name] as Handler<D> | undefined);
    if (!h) throw new NoHandlerError(name);
    return h;
  }

  async #process(fetched: FetchedJob, entry: InFlight, free: () => void): Promise<void> {
    const backend = this.#queue.backend;
    const opts = JSON.parse(fetched.opts) as StoredJobOptions;
    const attempt = fetched.attemptsMade + 1;
    const job: Job<D> = new HandlerJob(
      this.#queue,
      fetched.token,
      fetched.id,
      fetched.name,
      JSON.parse(fetched.data) as D,
      fetched.priority,
      attempt,
      opts.attempts,
      fetched.createdAt,
    );
    const ref = { id: job.id, name: job.name, priority: job.priority };
    const attrs = { queue: this.#queue.name, name: job.name };
    const started = this.#clock.monotonic();
    // The producer's span (carried in the job from `add`) is the parent: one trace from enqueue to handling.
    const parent = opts.trace ? extractTraceContext(opts.trace, ROOT_CONTEXT) : context.active();
    const span = this.#m.tracer.startSpan(
      `queue.process ${job.name}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: { 'ballast.queue': this.#queue.name, 'ballast.job.id': job.id, 'ballast.job.attempt': attempt },
      },
      parent,
    );
    let timer: { q: TimeoutQueue; entry: TimeoutEntry } | undefined;
    try {
      let result: unknown;
      try {
        const handler = this.#handlerFor(job.name);
        // Every handler gets a signal of its own, whatever its declared arity: `handler.length` says nothing
        // of rest parameters, defaults or a wrapper, and a handler that misses its abort keeps running after
        // its attempt failed (the retry then repeats its side effects beside it).
        const controller = new AbortController();
        entry.controller = controller;
        let stop: ((error: unknown) => void) | undefined;
        if (opts.timeoutMs > 0) {
          const q = this.#timeouts(opts.timeoutMs);
          const entry = q.add(opts.timeoutMs, () => {
            const error = new JobTimeoutError(job.id, opts.timeoutMs);
            controller.abort(error);
            stop?.(error);
          });
          timer = { q, entry };
        }
        const ctx: JobContext = { job, signal: controller.signal };
        const ran = context.with(trace.setSpan(parent, span), () =>
          runInJob(ctx, () => handler(job, controller.signal)),
        );
        result =
          ran instanceof Promise
            ? await new Promise((resolve, reject) => {
                stop = reject;
                entry.stop = reject;
                ran.then(resolve, reject);
              })
            : ran;
        if (timer) timer.q.finish(timer.entry);
        free();
        const text = serialize(result, 'result');
        const durationMs = this.#clock.monotonic() - started;
        const ok = await backend.complete(job.id, fetched.token, this.#clock.now(), text, opts.keepComplete);
        this.#m.duration.record(durationMs, { ...attrs, status: 'completed' });
        if (!ok) {
          this.#report(new Error(`job "${job.id}" completed after its lease was lost; it was recovered as stalled`));
          return;
        }
        this.#m.completed.add(1, attrs);
        if (opts.parent) await this.#toParent(job.id);
        this.#queue.publish({ event: 'completed', jobId: job.id, result });
        const event = { job: ref, result, durationMs };
        this.#queue.emitters.completed.emit(event);
      } catch (error) {
        if (timer) timer.q.finish(timer.entry);
        free();
        if (isRateLimitedError(error) && backend.release) await this.#rateLimited(fetched, error);
        else await this.#failed(fetched, job, opts, error, started, span);
      }
    } catch (error) {
      this.#report(error);
    } finally {
      span.end();
    }
  }

  async #failed(
    fetched: FetchedJob,
    job: Job<D>,
    opts: StoredJobOptions,
    error: unknown,
    started: number,
    span: { recordException(e: Error | string): void; setStatus(s: { code: SpanStatusCode; message?: string }): void },
  ): Promise<void> {
    const attrs = { queue: this.#queue.name, name: job.name };
    const ref = { id: job.id, name: job.name, priority: job.priority };
    const now = this.#clock.now();
    const timeout = isJobTimeoutError(error);
    const err = error instanceof Error ? error : new Error(String(error));
    span.recordException(err);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    const entry: JobErrorEntry = { attempt: job.attempt, name: err.name, message: err.message, at: now };
    const code = (error as { code?: unknown })?.code;
    if (typeof code === 'string') entry.code = code;
    if (timeout) entry.timeout = true;
    this.#m.duration.record(this.#clock.monotonic() - started, { ...attrs, status: timeout ? 'timeout' : 'failed' });
    this.#m.failed.add(1, attrs);
    if (timeout) this.#m.timeouts.add(1, attrs);
    const willRetry = job.attempt < opts.attempts;
    const backend = this.#queue.backend;
    if (willRetry) {
      const delayMs = backoffDelay(opts.backoff, job.attempt - 1);
      const ok = await backend.fail(job.id, fetched.token, now, JSON.stringify(entry), { kind: 'retry', delayMs });
      if (!ok) return;
      this.#queue.publish({ event: 'failed', jobId: job.id, error: entry, willRetry });
      this.#queue.publish(
        delayMs > 0
          ? { event: 'delayed', jobId: job.id, delayUntil: now + delayMs }
          : { event: 'waiting', jobId: job.id },
      );
      this.#m.retries.add(1, attrs);
      this.#queue.emitters.failed.emit({ job: ref, error, attempt: job.attempt, willRetry });
      this.#queue.emitters.retrying.emit({ job: ref, error, attempt: job.attempt, delayMs });
      return;
    }
    const dead = this.#queue.options.deadLetter;
    const ok = await backend.fail(
      job.id,
      fetched.token,
      now,
      JSON.stringify(entry),
      dead ? { kind: 'dead', keep: this.#queue.keepDead } : { kind: 'failed', keep: opts.keepFail },
    );
    if (!ok) return;
    if (opts.parent) await this.#toParent(job.id);
    this.#queue.publish({ event: 'failed', jobId: job.id, error: entry, willRetry });
    if (dead) this.#queue.publish({ event: 'dead', jobId: job.id, error: entry });
    this.#queue.emitters.failed.emit({ job: ref, error, attempt: job.attempt, willRetry });
    if (dead) {
      this.#m.deadLettered.add(1, attrs);
      this.#queue.emitters.dead.emit({ jobId: job.id, error });
    }
  }

  /**
   * Blocks fetching for `ms`: every worker of the queue in every process when the queue has a `limiter` (the
   * block lives beside its tokens), this worker alone otherwise. Jobs running go on.
   */
  rateLimit(ms: number): Promise<void> {
    return this.#gate.block(ms);
  }

  /** The handler's upstream said 429: the job goes back (no attempt spent) and fetching pauses as long. */
  async #rateLimited(fetched: FetchedJob, error: RateLimitedError): Promise<void> {
    await this.#gate.block(error.retryAfterMs);
    await this.#queue.backend.release!(fetched.id, fetched.token, this.#clock.now(), error.retryAfterMs);
  }

  /**
   * The second step of a flow child's completion or final failure: its outbox entry (written by the first) is
   * applied to its parent. A failure here is reported and left to the sweep (`#checkStalled`).
   */
  async #toParent(childId: string): Promise<void> {
    const store = this.#queue.backend.flows?.();
    if (!store) return;
    try {
      await applyOutbox(store, this.#clock.now(), childId);
    } catch (error) {
      this.#report(error);
    }
  }

  /**
   * The flow sweep: outbox entries whose second step never ran (a process died between the two, or it failed),
   * and those of children that died as stalled (whose notification only the sweep applies).
   */
  async #sweepFlows(): Promise<void> {
    const flows = this.#queue.backend.flows?.();
    if (!flows) return;
    try {
      await applyOutbox(flows, this.#clock.now());
    } catch (error) {
      if (!this.#closing) this.#report(error);
    }
  }

  async #renew(): Promise<void> {
    if (this.#inflight.size === 0) return;
    const held = [...this.#inflight.values()].map((f) => [f.job.id, f.job.token] as const);
    try {
      await this.#queue.backend.renew(held, this.options.lockMs, this.#clock.now());
    } catch (error) {
      this.#report(error);
    }
  }

  async #checkStalled(): Promise<void> {
    try {
      const stalled = await this.#queue.backend.recoverStalled(
        this.#clock.now(),
        this.options.maxStalledCount,
        this.#queue.keepDead,
      );
      // Before the events: a stalled child that died has told its parent by the time `dead` is emitted.
      await this.#sweepFlows();
      for (const s of stalled) {
        this.#m.stalled.add(1, { queue: this.#queue.name });
        this.#queue.emitters.stalled.emit({ jobId: s.id, outcome: s.outcome });
        this.#queue.publish({ event: 'stalled', jobId: s.id, outcome: s.outcome });
        if (s.outcome === 'dead') {
          this.#m.deadLettered.add(1, { queue: this.#queue.name });
          const info = await this.#queue.backend.getJob(s.id);
          this.#queue.publish({ event: 'dead', jobId: s.id, ...(info?.error ? { error: info.error } : {}) });
          this.#queue.emitters.dead.emit({ jobId: s.id, error: info?.error });
        }
      }
    } catch (error) {
      if (!this.#closing) this.#report(error);
    }
  }

  /**
   * Graceful close: stops fetching, lets in-flight jobs finish (up to `drainTimeoutMs`; then their signals
   * abort and they are left to stalled recovery if they still do not settle), stops timers.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    // All of close() ends within drainTimeoutMs, also when Redis is down and the loop's fetch waits for its
    // command timeout: jobs left unacked then are recovered as stalled.
    const deadline = this.#clock.monotonic() + this.options.drainTimeoutMs;
    const left = () => Math.max(0, deadline - this.#clock.monotonic());
    this.#closing = true;
    this.#stop.abort();
    const schedulers = this.#schedulers?.stop();
    this.#unregister();
    this.#waiter.close();
    this.#resume?.();
    this.#slot?.();
    const loop = this.#loop ?? Promise.resolve();
    await boundBackendCall(loop, { backend: 'queue', operation: 'close', timeoutMs: left(), clock: this.#clock }).catch(
      () => {},
    );
    // (Its fetches are done, or the loop ran out of time: they are cut, their jobs recovered as stalled.)
    this.#lanes?.close();
    if (this.#inflight.size > 0) {
      let timer: ReturnType<Clock['setTimeout']> | undefined;
      const timedOut = new Promise<'timeout'>((r) => {
        timer = this.#clock.setTimeout(() => r('timeout'), left());
      });
      const first = await Promise.race([this.#drained(), timedOut]);
      if (timer) this.#clock.clearTimeout(timer);
      if (first === 'timeout') {
        for (const f of this.#inflight.values()) {
          const error = new QueueClosedError(this.#queue.name, 'job');
          f.controller?.abort(error);
          f.stop?.(error);
        }
        await Promise.race([this.#drained(), new Promise((r) => setImmediate(r))]);
      }
    }
    if (this.#renewTimer) this.#clock.clearInterval(this.#renewTimer);
    if (this.#stalledTimer) this.#clock.clearInterval(this.#stalledTimer);
    await schedulers;
    await this.#sandbox?.close();
    this.#running = false;
  }

  #drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if (this.#inflight.size === 0) return resolve();
        this.#slot = check;
      };
      check();
    });
  }
}

/**
 * Creates a worker for a queue.
 *
 * @example
 * createWorker(queue, async (job, signal) => handle(job.data, { signal }), { concurrency: 4 });
 */
export function createWorker<D = unknown>(
  queue: Queue<D>,
  handler: Handler<D> | Handlers<D> | URL | string,
  options: WorkerOptions = {},
): Worker<D> {
  return new Worker<D>(queue, handler, options);
}
