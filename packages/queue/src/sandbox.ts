import { pathToFileURL } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { BallastError, type BallastErrorOptions, errorGuard } from '@ballast/core';
import type { Job } from './job';

/**
 * Sandboxed processors (§7): a handler module run in `worker_threads`, one job per thread at a time, a pool as
 * large as the worker's concurrency. The worker's own event loop stays free, so a CPU-bound handler cannot
 * stall lease renewals; a handler that crashes its thread fails its attempt (the thread is replaced), not the
 * worker. The job's signal is forwarded (a handler that ignores it is terminated after `abortGraceMs`), and
 * `job.updateProgress(value)` in the thread reaches the worker's side.
 */

/** The thread running a sandboxed handler died (uncaught error, `process.exit`, out of memory). */
export class SandboxCrashedError extends BallastError {
  static readonly code = 'SANDBOX_CRASHED';
  constructor(
    readonly jobId: string,
    reason: string,
    options: BallastErrorOptions = {},
  ) {
    super(new.target.code, `Sandboxed handler of job "${jobId}" crashed its thread: ${reason}`, options);
  }
}
export const isSandboxCrashedError = errorGuard<SandboxCrashedError>(SandboxCrashedError.code);

/** A sandboxed job as the processor module's default export receives it. */
export interface SandboxedJob<T = unknown> extends Job<T> {
  /** Sends progress to the worker's side (structured-cloneable values). */
  updateProgress(progress: unknown): Promise<void>;
}

export interface SandboxOptions {
  /** Threads (jobs at once); the worker passes its concurrency. */
  size: number;
  /** After the job's signal aborts, how long the handler gets to settle before its thread is terminated. */
  abortGraceMs?: number;
  /** Progress a handler reported (besides `job.updateProgress` of the worker-side job, when it has one). */
  onProgress?: (jobId: string, progress: unknown) => void;
}

// The thread's side: loads the module once, runs one job at a time, posts the outcome. Evaluated as a script
// (no file of its own to ship or resolve), the module loaded with dynamic import.
const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
const loaded = import(workerData.url).then((m) => {
  const fn = typeof m.default === 'function' ? m.default : m.default && typeof m.default.default === 'function' ? m.default.default : m.process;
  if (typeof fn !== 'function') throw new TypeError('processor module ' + workerData.url + ' has no default export function');
  return fn;
});
const running = new Map();
const plain = (e) => {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const out = {};
  for (const k of Object.keys(e)) { try { structuredClone(e[k]); out[k] = e[k]; } catch {} }
  return Object.assign(out, { name: e.name, message: e.message, stack: e.stack, code: e.code });
};
parentPort.on('message', async (msg) => {
  if (msg.type === 'abort') { running.get(msg.id)?.abort(Object.assign(new Error(msg.message), { name: msg.name, code: msg.code })); return; }
  const ac = new AbortController();
  running.set(msg.job.id, ac);
  const job = Object.assign({}, msg.job, {
    updateProgress: async (progress) => parentPort.postMessage({ type: 'progress', id: msg.job.id, progress }),
  });
  try {
    const fn = await loaded;
    const result = await fn(job, ac.signal);
    parentPort.postMessage({ type: 'done', id: msg.job.id, result: result === undefined ? null : result });
  } catch (e) {
    parentPort.postMessage({ type: 'fail', id: msg.job.id, error: plain(e) });
  } finally {
    running.delete(msg.job.id);
  }
});
`;

interface Slot {
  thread: Thread;
  busy: boolean;
}

/** An error from the thread, rebuilt: name, message, code and cloneable own fields (a guard by `code` works). */
function rebuild(e: Record<string, unknown>): Error {
  const error = new Error(String(e.message ?? 'sandboxed handler failed'));
  Object.assign(error, e);
  error.name = String(e.name ?? 'Error');
  return error;
}

/** A pool of threads running one processor module. */
export class ThreadPool {
  readonly #url: string;
  readonly #size: number;
  readonly #grace: number;
  readonly #onProgress: SandboxOptions['onProgress'];
  readonly #slots: Slot[] = [];
  readonly #queue: (() => void)[] = [];
  #closed = false;

  constructor(processor: URL | string, options: SandboxOptions) {
    this.#url = (typeof processor === 'string' ? pathToFileURL(processor) : processor).href;
    this.#size = options.size;
    this.#grace = options.abortGraceMs ?? 1_000;
    this.#onProgress = options.onProgress;
  }

  #spawn(): Slot {
    const thread = new Thread(BOOTSTRAP, { eval: true, workerData: { url: this.#url } });
    thread.unref();
    const slot = { thread, busy: false };
    this.#slots.push(slot);
    return slot;
  }

  async #acquire(): Promise<Slot> {
    for (;;) {
      const idle = this.#slots.find((s) => !s.busy);
      if (idle) return idle;
      if (this.#slots.length < this.#size) return this.#spawn();
      await new Promise<void>((r) => this.#queue.push(r));
    }
  }

  #release(slot: Slot, dead: boolean): void {
    slot.busy = false;
    if (dead) {
      const i = this.#slots.indexOf(slot);
      if (i >= 0) this.#slots.splice(i, 1);
      void slot.thread.terminate();
    }
    this.#queue.shift()?.();
  }

  /** Runs one job in a thread; settles with its result or its (rebuilt) error. */
  async run(job: Job, signal: AbortSignal): Promise<unknown> {
    if (this.#closed) throw new SandboxCrashedError(job.id, 'the sandbox is closed');
    const slot = await this.#acquire();
    slot.busy = true;
    const { thread } = slot;
    return new Promise<unknown>((resolve, reject) => {
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const done = (dead: boolean) => {
        thread.off('message', onMessage);
        thread.off('error', onError);
        thread.off('exit', onExit);
        signal.removeEventListener('abort', onAbort);
        if (graceTimer) clearTimeout(graceTimer);
        thread.unref();
        this.#release(slot, dead);
      };
      const onMessage = (
        msg: { type: string; id: string; result?: unknown; error?: Record<string, unknown> } & {
          progress?: unknown;
        },
      ) => {
        if (msg.id !== job.id) return;
        if (msg.type === 'progress') {
          this.#onProgress?.(job.id, msg.progress);
          const update = (job as { updateProgress?: (p: unknown) => unknown }).updateProgress;
          if (typeof update === 'function') Promise.resolve(update.call(job, msg.progress)).catch(() => {});
          return;
        }
        done(false);
        if (msg.type === 'done') resolve(msg.result);
        else reject(rebuild(msg.error ?? {}));
      };
      const onError = (error: Error) => {
        done(true);
        reject(new SandboxCrashedError(job.id, error.message, { cause: error }));
      };
      const onExit = (code: number) => {
        done(true);
        reject(new SandboxCrashedError(job.id, `thread exited with code ${code}`));
      };
      const onAbort = () => {
        const r = signal.reason as { name?: string; message?: string; code?: string } | undefined;
        thread.postMessage({
          type: 'abort',
          id: job.id,
          name: r?.name,
          message: r?.message ?? 'aborted',
          code: r?.code,
        });
        // A handler deaf to its signal (a busy loop) must not keep the thread: terminated after the grace.
        graceTimer = setTimeout(() => {
          done(true);
          reject(signal.reason);
        }, this.#grace);
        graceTimer.unref?.();
      };
      thread.on('message', onMessage);
      thread.on('error', onError);
      thread.on('exit', onExit);
      // Referenced while it runs a job (the process stays up for it), unreferenced when idle.
      thread.ref();
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      const { id, name, data, priority, attempt, maxAttempts, createdAt } = job;
      try {
        thread.postMessage({ type: 'run', job: { id, name, data, priority, attempt, maxAttempts, createdAt } });
      } catch (error) {
        done(false);
        reject(error);
      }
    });
  }

  /** Terminates every thread (jobs still running in them fail as crashed). */
  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => s.thread.terminate()));
    for (const r of this.#queue.splice(0)) r();
  }
}

/**
 * A handler that runs `processor` (a module whose default export is `(job, signal) => result`) in a pool of
 * `size` threads; `close()` ends them. `createWorker(queue, url, { sandbox: 'thread' })` uses it.
 */
export function sandboxed(
  processor: URL | string,
  options: SandboxOptions,
): ((job: Job, signal: AbortSignal) => Promise<unknown>) & { close(): Promise<void> } {
  const pool = new ThreadPool(processor, options);
  return Object.assign((job: Job, signal: AbortSignal) => pool.run(job, signal), { close: () => pool.close() });
}
