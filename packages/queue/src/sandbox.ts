import { type ChildProcess, spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { BallastError, type BallastErrorOptions, errorGuard } from '@ballast/core';
import type { Job } from './job';

/**
 * Sandboxed processors (§7): a handler module run in `worker_threads` or child processes, one job per thread or
 * process at a time, a pool as large as the worker's concurrency. The worker's own event loop stays free, so a
 * CPU-bound handler cannot stall lease renewals; a handler that crashes its thread or process fails its attempt
 * (the thread or process is replaced), not the worker. The job's signal is forwarded (a handler that ignores it
 * is terminated after `abortGraceMs`), and `job.updateProgress(value)` in the sandbox reaches the worker's side.
 */

/** Where a sandboxed handler runs. */
export type SandboxKind = 'thread' | 'process';

/** The thread or process running a sandboxed handler died (uncaught error, `process.exit`, a kill, OOM). */
export class SandboxCrashedError extends BallastError {
  static readonly code = 'SANDBOX_CRASHED';
  /** What crashed: a worker thread or a child process. */
  readonly sandbox: SandboxKind;
  constructor(
    readonly jobId: string,
    reason: string,
    options: BallastErrorOptions & { sandbox?: SandboxKind } = {},
  ) {
    const sandbox = options.sandbox ?? 'thread';
    super(new.target.code, `Sandboxed handler of job "${jobId}" crashed its ${sandbox}: ${reason}`, options);
    this.sandbox = sandbox;
  }
}
export const isSandboxCrashedError = errorGuard<SandboxCrashedError>(SandboxCrashedError.code);

/** A sandboxed job as the processor module's default export receives it. */
export interface SandboxedJob<T = unknown> extends Job<T> {
  /** Sends progress to the worker's side (structured-cloneable values). */
  updateProgress(progress: unknown): Promise<void>;
}

export interface SandboxOptions {
  /** Threads or processes (jobs at once); the worker passes its concurrency. */
  size: number;
  /** `thread` (default): `worker_threads`; `process`: child processes of this Node (`node -e`, IPC). */
  kind?: SandboxKind;
  /** After the job's signal aborts, how long the handler gets to settle before its thread/process is killed. */
  abortGraceMs?: number;
  /** Progress a handler reported (besides `job.updateProgress` of the worker-side job, when it has one). */
  onProgress?: (jobId: string, progress: unknown) => void;
}

// The sandbox's side: loads the module once, runs one job at a time, posts the outcome. Evaluated as a script
// (no file of its own to ship or resolve), the module loaded with dynamic import. `URL`, `post` and `listen` are
// defined by the prologue of each kind.
const BODY = `
const loaded = import(URL_).then((m) => {
  const fn = typeof m.default === 'function' ? m.default : m.default && typeof m.default.default === 'function' ? m.default.default : m.process;
  if (typeof fn !== 'function') throw new TypeError('processor module ' + URL_ + ' has no default export function');
  return fn;
});
const running = new Map();
const plain = (e) => {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const out = {};
  for (const k of Object.keys(e)) { try { structuredClone(e[k]); out[k] = e[k]; } catch {} }
  return Object.assign(out, { name: e.name, message: e.message, stack: e.stack, code: e.code });
};
listen(async (msg) => {
  if (msg.type === 'abort') { running.get(msg.id)?.abort(Object.assign(new Error(msg.message), { name: msg.name, code: msg.code })); return; }
  const ac = new AbortController();
  running.set(msg.job.id, ac);
  const job = Object.assign({}, msg.job, {
    updateProgress: async (progress) => post({ type: 'progress', id: msg.job.id, progress }),
  });
  try {
    const fn = await loaded;
    const result = await fn(job, ac.signal);
    post({ type: 'done', id: msg.job.id, result: result === undefined ? null : result });
  } catch (e) {
    post({ type: 'fail', id: msg.job.id, error: plain(e) });
  } finally {
    running.delete(msg.job.id);
  }
});
`;

const THREAD_BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
const URL_ = workerData.url;
const post = (m) => parentPort.postMessage(m);
const listen = (f) => parentPort.on('message', f);
${BODY}`;

// A child process: the module URL is its one argument; it exits when the parent goes (the IPC channel closes),
// so a worker killed outright leaves no orphans. A send after that is dropped.
const PROCESS_BOOTSTRAP = `
const URL_ = process.argv[1];
const post = (m) => { if (process.connected) process.send(m, () => {}); };
const listen = (f) => process.on('message', f);
process.on('disconnect', () => process.exit(0));
${BODY}`;

/**
 * One thread or child process as the pool sees it: messages both ways, its death, whether it keeps this process
 * alive, and killing it.
 */
interface Channel {
  send(message: unknown): void;
  onMessage(fn: (message: Msg) => void): () => void;
  /** Called once when it dies, with why; returns the unsubscribe. */
  onDeath(fn: (reason: string, cause?: Error) => void): () => void;
  ref(): void;
  unref(): void;
  kill(): Promise<void>;
}

interface Msg {
  type: string;
  id: string;
  result?: unknown;
  error?: Record<string, unknown>;
  progress?: unknown;
}

function threadChannel(url: string): Channel {
  const thread = new Thread(THREAD_BOOTSTRAP, { eval: true, workerData: { url } });
  return {
    send: (message) => thread.postMessage(message),
    onMessage(fn) {
      thread.on('message', fn);
      return () => thread.off('message', fn);
    },
    onDeath(fn) {
      const onError = (error: Error) => fn(error.message, error);
      const onExit = (code: number) => fn(`thread exited with code ${code}`);
      thread.on('error', onError);
      thread.on('exit', onExit);
      return () => {
        thread.off('error', onError);
        thread.off('exit', onExit);
      };
    },
    ref: () => thread.ref(),
    unref: () => thread.unref(),
    kill: async () => {
      await thread.terminate();
    },
  };
}

/**
 * The parent's flags the child gets too (loaders such as `--import tsx`, `--conditions`), as a thread inherits
 * them — but not an `-e`/`-p` script of the parent's own, nor `--inspect` (its port is taken).
 */
function childExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') {
      i++;
      continue;
    }
    if (/^--(eval|print)=/.test(a) || /^--inspect/.test(a) || /^--debug/.test(a)) continue;
    out.push(a);
  }
  return out;
}

function processChannel(url: string): Channel {
  // `advanced` serialization: messages are structured-cloned, as with threads (no serializer of our own).
  const child: ChildProcess = spawn(process.execPath, [...childExecArgv(), '-e', PROCESS_BOOTSTRAP, url], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  let dead: [string, Error?] | undefined;
  const deaths = new Set<(reason: string, cause?: Error) => void>();
  const die = (reason: string, cause?: Error) => {
    if (dead) return;
    dead = [reason, cause];
    for (const fn of [...deaths]) fn(reason, cause);
  };
  child.on('exit', (code, signal) =>
    die(signal ? `process killed by ${signal}` : `process exited with code ${code ?? 'unknown'}`),
  );
  // Failed to spawn, or to send/kill: the process is no use any more.
  child.on('error', (error) => {
    die(error.message, error);
    child.kill('SIGKILL');
  });
  return {
    send(message) {
      if (dead || !child.connected) throw new Error('the sandbox process is gone');
      child.send(message as never, (error) => {
        if (error) die(error.message, error);
      });
    },
    onMessage(fn) {
      const listener = (m: unknown) => fn(m as Msg);
      child.on('message', listener);
      return () => child.off('message', listener);
    },
    onDeath(fn) {
      if (dead) {
        const [reason, cause] = dead;
        queueMicrotask(() => fn(reason, cause));
        return () => {};
      }
      deaths.add(fn);
      return () => deaths.delete(fn);
    },
    // Both the process handle and its IPC channel keep the event loop alive.
    ref() {
      child.ref();
      child.channel?.ref();
    },
    unref() {
      child.unref();
      child.channel?.unref();
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

interface Slot {
  channel: Channel;
  busy: boolean;
  dead: boolean;
}

/** An error from the sandbox, rebuilt: name, message, code and cloneable own fields (a guard by `code` works). */
function rebuild(e: Record<string, unknown>): Error {
  const error = new Error(String(e.message ?? 'sandboxed handler failed'));
  Object.assign(error, e);
  error.name = String(e.name ?? 'Error');
  return error;
}

/** A pool of threads or child processes running one processor module. */
export class SandboxPool {
  readonly #url: string;
  readonly #size: number;
  readonly #kind: SandboxKind;
  readonly #grace: number;
  readonly #onProgress: SandboxOptions['onProgress'];
  readonly #slots: Slot[] = [];
  readonly #queue: (() => void)[] = [];
  #closed = false;

  constructor(processor: URL | string, options: SandboxOptions) {
    this.#url = (typeof processor === 'string' ? pathToFileURL(processor) : processor).href;
    this.#size = options.size;
    this.#kind = options.kind ?? 'thread';
    this.#grace = options.abortGraceMs ?? 1_000;
    this.#onProgress = options.onProgress;
  }

  #spawn(): Slot {
    const channel = this.#kind === 'process' ? processChannel(this.#url) : threadChannel(this.#url);
    channel.unref();
    const slot: Slot = { channel, busy: false, dead: false };
    // One that dies while idle (killed from outside) leaves the pool; the next job gets a fresh one.
    channel.onDeath(() => {
      slot.dead = true;
      if (!slot.busy) this.#remove(slot);
    });
    this.#slots.push(slot);
    return slot;
  }

  #remove(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
  }

  async #acquire(): Promise<Slot | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      // Taken here, synchronously: two jobs started in one tick must not both find the same idle slot.
      const slot =
        this.#slots.find((s) => !s.busy && !s.dead) ?? (this.#slots.length < this.#size ? this.#spawn() : undefined);
      if (slot) {
        slot.busy = true;
        return slot;
      }
      await new Promise<void>((r) => this.#queue.push(r));
    }
  }

  #release(slot: Slot, dead: boolean): void {
    slot.busy = false;
    if (dead || slot.dead) {
      slot.dead = true;
      this.#remove(slot);
      void slot.channel.kill().catch(() => {});
    }
    this.#queue.shift()?.();
  }

  /** Runs one job in a thread or process; settles with its result or its (rebuilt) error. */
  async run(job: Job, signal: AbortSignal): Promise<unknown> {
    const sandbox = this.#kind;
    const slot = await this.#acquire();
    if (!slot) throw new SandboxCrashedError(job.id, 'the sandbox is closed', { sandbox });
    const { channel } = slot;
    return new Promise<unknown>((resolve, reject) => {
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      let offMessage = () => {};
      let offDeath = () => {};
      let settled = false;
      const done = (dead: boolean) => {
        settled = true;
        offMessage();
        offDeath();
        signal.removeEventListener('abort', onAbort);
        if (graceTimer) clearTimeout(graceTimer);
        channel.unref();
        this.#release(slot, dead);
      };
      const onMessage = (msg: Msg) => {
        if (settled || msg.id !== job.id) return;
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
      const onDeath = (reason: string, cause?: Error) => {
        if (settled) return;
        done(true);
        reject(new SandboxCrashedError(job.id, reason, { cause, sandbox }));
      };
      const onAbort = () => {
        const r = signal.reason as { name?: string; message?: string; code?: string } | undefined;
        try {
          channel.send({ type: 'abort', id: job.id, name: r?.name, message: r?.message ?? 'aborted', code: r?.code });
        } catch {
          // Gone already: its death settles the job.
        }
        // A handler deaf to its signal (a busy loop) must not keep its thread/process: killed after the grace.
        graceTimer = setTimeout(() => {
          if (settled) return;
          done(true);
          reject(signal.reason);
        }, this.#grace);
        graceTimer.unref?.();
      };
      offMessage = channel.onMessage(onMessage);
      offDeath = channel.onDeath(onDeath);
      // Referenced while it runs a job (the process stays up for it), unreferenced when idle.
      channel.ref();
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      const { id, name, data, priority, attempt, maxAttempts, createdAt } = job;
      try {
        channel.send({ type: 'run', job: { id, name, data, priority, attempt, maxAttempts, createdAt } });
      } catch (error) {
        if (settled) return;
        done(true);
        reject(new SandboxCrashedError(job.id, (error as Error).message, { cause: error, sandbox }));
      }
    });
  }

  /** Kills every thread or process (jobs still running in them fail as crashed). */
  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => s.channel.kill().catch(() => {})));
    for (const r of this.#queue.splice(0)) r();
  }
}

/**
 * A handler that runs `processor` (a module whose default export is `(job, signal) => result`) in a pool of
 * `size` threads (`kind: 'thread'`, the default) or child processes (`kind: 'process'`); `close()` ends them.
 * `createWorker(queue, url, { sandbox })` uses it.
 */
export function sandboxed(
  processor: URL | string,
  options: SandboxOptions,
): ((job: Job, signal: AbortSignal) => Promise<unknown>) & { close(): Promise<void> } {
  const pool = new SandboxPool(processor, options);
  return Object.assign((job: Job, signal: AbortSignal) => pool.run(job, signal), { close: () => pool.close() });
}
