import { AsyncLocalStorage } from 'node:async_hooks';
import type { Job } from './job';

/** What a running handler can reach of its attempt, wherever it is in the call chain. */
export interface JobContext<D = unknown> {
  /** The job this attempt runs. */
  readonly job: Job<D>;
  /** Aborts on the attempt's `timeoutMs` and on a forced close (`drainTimeoutMs` passed): stop the work then. */
  readonly signal: AbortSignal;
}

const storage = new AsyncLocalStorage<JobContext>();

/**
 * The job (and its abort signal) of the handler attempt this code runs in, or `undefined` outside one. Made
 * for `@Task` methods, whose parameters are the call's arguments: `currentJob()?.signal` is their timeout
 * signal. Any handler may use it; plain handlers also get the signal as their second argument.
 *
 * @example
 * class Reports {
 *   @Task({ queue, timeoutMs: 60_000 })
 *   async build(reportId: string): Promise<void> {
 *     const signal = currentJob()?.signal ?? null;
 *     await fetch(`https://reports.internal/${reportId}`, { signal });
 *   }
 * }
 */
export function currentJob<D = unknown>(): JobContext<D> | undefined {
  return storage.getStore() as JobContext<D> | undefined;
}

/** @internal Runs `fn` with `ctx` as the current job. */
export function runInJob<R>(ctx: JobContext, fn: () => R): R {
  return storage.run(ctx, fn);
}
