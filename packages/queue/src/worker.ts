import { backoffDelay, type Clock, EventEmitter, parseOptions, sleep } from '@ballast/core';
import { SpanStatusCode } from '@opentelemetry/api';
import type { FetchedJob, Waiter } from './backend';
import { isJobTimeoutError, JobTimeoutError, NoHandlerError, QueueClosedError } from './errors';
import { type Job, type JobErrorEntry, serialize } from './job';
import { queueInstruments } from './metrics';
import type { ResolvedWorkerOptions, StoredJobOptions, WorkerOptions } from './options';
import { workerOptionsSchema } from './options';
import type { Queue } from './queue';

/** A job handler: gets the job and a signal that aborts on the job's timeout (and on a forced close). */
export type Handler<D = unknown, R = unknown> = (job: Job<D>, signal: AbortSignal) => R | Promise<R>;
/** Handlers by job name. */
export type Handlers = Record<string, Handler<never>>;

let workerCount = 0;

interface InFlight {
  job: FetchedJob;
  controller: AbortController;
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
  readonly #waiter: Waiter;
  readonly #errors = new EventEmitter<unknown>('error');
  readonly onError = this.#errors.event;
  readonly #m = queueInstruments();
  #fetchSeq = 0;
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

  constructor(queue: Queue<D>, handler: Handler<D> | Handlers, options: WorkerOptions = {}) {
    this.options = parseOptions(workerOptionsSchema, options, `createWorker("${queue.name}")`);
    this.#queue = queue;
    this.#clock = queue.clock;
    if (typeof handler === 'function') this.#handler = handler;
    else this.#handlers = { ...handler };
    this.id = `${queue.name}:${process.pid}:${++workerCount}:${Math.random().toString(36).slice(2, 8)}`;
    this.#waiter = queue.backend.createWaiter();
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
    return this.#inflight.size;
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
    this.#loop = this.#fetchLoop();
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
    else this.#queue.logger.error({ err: error, worker: this.id }, 'queue worker background error');
  }

  async #fetchLoop(): Promise<void> {
    const { concurrency, lockMs, blockMs } = this.options;
    let failures = 0;
    while (!this.#closing) {
      if (this.#paused) {
        await new Promise<void>((r) => {
          this.#resume = r;
        });
        continue;
      }
      const free = concurrency - this.#inflight.size;
      if (free <= 0) {
        await new Promise<void>((r) => {
          this.#slot = r;
        });
        // Let jobs finishing in the same tick free their slots too: one fetch for all of them.
        await new Promise<void>((r) => setImmediate(r));
        continue;
      }
      let res: Awaited<ReturnType<Queue['backend']['fetch']>>;
      try {
        const token = `${this.id}:${++this.#fetchSeq}`;
        res = await this.#queue.backend.fetch(this.#clock.now(), free, token, lockMs);
        failures = 0;
      } catch (error) {
        if (this.#closing) break;
        this.#report(error);
        failures++;
        await sleep(this.#clock, Math.min(5_000, 100 * 2 ** Math.min(failures, 6))).catch(() => {});
        continue;
      }
      if (this.#closing) {
        // Fetched while closing: these jobs are ours now; run them (close waits for them).
        for (const job of res.jobs) this.#start(job);
        break;
      }
      if (res.jobs.length > 0) {
        for (const job of res.jobs) this.#start(job);
        continue;
      }
      const now = this.#clock.now();
      const wait = res.nextDueAt === null ? blockMs : Math.max(1, Math.min(blockMs, res.nextDueAt - now));
      await this.#waiter.wait(wait);
    }
  }

  #start(job: FetchedJob): void {
    const controller = new AbortController();
    this.#inflight.set(job.id, { job, controller });
    void this.#process(job, controller).finally(() => {
      this.#inflight.delete(job.id);
      const s = this.#slot;
      this.#slot = undefined;
      s?.();
    });
  }

  #handlerFor(name: string): Handler<D> {
    const h = this.#handler ?? (this.#handlers?.[name] as Handler<D> | undefined);
    if (!h) throw new NoHandlerError(name);
    return h;
  }

  async #process(fetched: FetchedJob, controller: AbortController): Promise<void> {
    const backend = this.#queue.backend;
    const opts = JSON.parse(fetched.opts) as StoredJobOptions;
    const attempt = fetched.attemptsMade + 1;
    const job: Job<D> = {
      id: fetched.id,
      name: fetched.name,
      data: JSON.parse(fetched.data) as D,
      priority: fetched.priority,
      attempt,
      maxAttempts: opts.attempts,
      createdAt: fetched.createdAt,
    };
    const ref = { id: job.id, name: job.name, priority: job.priority };
    const attrs = { queue: this.#queue.name, name: job.name };
    const started = this.#clock.monotonic();
    const span = this.#m.tracer.startSpan(`queue.process ${job.name}`, {
      attributes: { 'ballast.queue': this.#queue.name, 'ballast.job.id': job.id, 'ballast.job.attempt': attempt },
    });
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    try {
      let result: unknown;
      try {
        const handler = this.#handlerFor(job.name);
        if (opts.timeoutMs > 0) {
          timer = this.#clock.setTimeout(
            () => controller.abort(new JobTimeoutError(job.id, opts.timeoutMs)),
            opts.timeoutMs,
          );
        }
        result = await raceAbort(handler(job, controller.signal), controller.signal);
        if (timer) this.#clock.clearTimeout(timer);
        const text = serialize(result, 'result');
        const durationMs = this.#clock.monotonic() - started;
        const ok = await backend.complete(job.id, fetched.token, this.#clock.now(), text, opts.keepComplete);
        this.#m.duration.record(durationMs, { ...attrs, status: 'completed' });
        if (!ok) {
          this.#report(new Error(`job "${job.id}" completed after its lease was lost; it was recovered as stalled`));
          return;
        }
        this.#m.completed.add(1, attrs);
        const event = { job: ref, result, durationMs };
        this.#queue.emitters.completed.emit(event);
      } catch (error) {
        if (timer) this.#clock.clearTimeout(timer);
        await this.#failed(fetched, job, opts, error, started, span);
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
      dead ? { kind: 'dead' } : { kind: 'failed', keep: opts.keepFail },
    );
    if (!ok) return;
    this.#queue.emitters.failed.emit({ job: ref, error, attempt: job.attempt, willRetry });
    if (dead) {
      this.#m.deadLettered.add(1, attrs);
      this.#queue.emitters.dead.emit({ jobId: job.id, error });
    }
  }

  async #renew(): Promise<void> {
    if (this.#inflight.size === 0) return;
    const held = [...this.#inflight.values()].map((f) => [f.job.id, f.job.token] as const);
    try {
      await this.#queue.backend.renew(held, this.#clock.now() + this.options.lockMs);
    } catch (error) {
      this.#report(error);
    }
  }

  async #checkStalled(): Promise<void> {
    try {
      const stalled = await this.#queue.backend.recoverStalled(this.#clock.now(), this.options.maxStalledCount);
      for (const s of stalled) {
        this.#m.stalled.add(1, { queue: this.#queue.name });
        this.#queue.emitters.stalled.emit({ jobId: s.id, outcome: s.outcome });
        if (s.outcome === 'dead') {
          this.#m.deadLettered.add(1, { queue: this.#queue.name });
          const info = await this.#queue.backend.getJob(s.id);
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
    this.#closing = true;
    this.#unregister();
    this.#waiter.close();
    this.#resume?.();
    this.#slot?.();
    await this.#loop;
    if (this.#inflight.size > 0) {
      let timer: ReturnType<Clock['setTimeout']> | undefined;
      const timedOut = new Promise<'timeout'>((r) => {
        timer = this.#clock.setTimeout(() => r('timeout'), this.options.drainTimeoutMs);
      });
      const first = await Promise.race([this.#drained(), timedOut]);
      if (timer) this.#clock.clearTimeout(timer);
      if (first === 'timeout') {
        for (const f of this.#inflight.values()) f.controller.abort(new QueueClosedError(this.#queue.name, 'job'));
        await Promise.race([this.#drained(), new Promise((r) => setImmediate(r))]);
      }
    }
    if (this.#renewTimer) this.#clock.clearInterval(this.#renewTimer);
    if (this.#stalledTimer) this.#clock.clearInterval(this.#stalledTimer);
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

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts (the handler may ignore it). */
function raceAbort<T>(value: T | Promise<T>, signal: AbortSignal): Promise<T> {
  if (!(value instanceof Promise)) return Promise.resolve(value);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    value.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Creates a worker for a queue.
 *
 * @example
 * createWorker(queue, async (job, signal) => handle(job.data, { signal }), { concurrency: 4 });
 */
export function createWorker<D = unknown>(
  queue: Queue<D>,
  handler: Handler<D> | Handlers,
  options: WorkerOptions = {},
): Worker<D> {
  return new Worker<D>(queue, handler, options);
}
