import {
  type AnyMethod,
  abortedError,
  createMethodDecorator,
  type DecoratedMethod,
  DecoratorTargetError,
} from '@ballast/core';
import { NoHandlerError, NotATaskError } from './errors';
import type { AddedJob } from './job';
import type { JobOptions } from './options';
import type { Queue } from './queue';
import type { Worker } from './worker';

const TASK = Symbol.for('@ballast/queue/Task');

export interface TaskOptions extends JobOptions {
  /** The queue calls are enqueued on: the queue, or a function returning it (resolved at each call). */
  queue: Queue | (() => Queue);
  /** Job name; default `<Class>.<method>`. */
  name?: string;
}

interface TaskMark {
  method: AnyMethod;
  name(): string;
  queue: TaskOptions['queue'];
}

type Marked = AnyMethod & { [TASK]?: TaskMark };

/** What a task job carries: the call's arguments (JSON-serialisable, checked at the call). */
export interface TaskData {
  args: unknown[];
}

// biome-ignore lint/suspicious/noExplicitAny: a method's parameters are arbitrary
type AsyncMethod = (...args: any[]) => PromiseLike<unknown>;

/**
 * `@Task`: decorates an async method, typed as the handler its author writes (its real parameters and result).
 */
export interface TaskDecorator {
  // biome-ignore lint/suspicious/noExplicitAny: a method's parameters are arbitrary
  <This, M extends (this: This, ...args: any[]) => PromiseLike<unknown>>(
    value: M,
    context: ClassMethodDecoratorContext<This, M>,
  ): M;
  <M extends AsyncMethod>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): TypedPropertyDescriptor<M>;
}

/**
 * Seed 002's `@async_task(queue=…, priority=…)`. The author writes the method as the job's handler, with its
 * real parameters and result; a worker runs it for each job (`registerTasks(worker, instance)`). Calling it
 * enqueues a job with the call's arguments instead of running it: `enqueue(instance).method(…)` is that call
 * typed as what it does — `Promise<AddedJob>`. Works as a TS 5 standard and a legacy (NestJS) decorator.
 *
 * @example
 * class Scheduler {
 *   @Task({ queue: highPriority, priority: 'high' })
 *   async scheduleMedicalResource(userId: string, requirements: Requirements): Promise<Booking> { … }
 * }
 * const added = await enqueue(new Scheduler()).scheduleMedicalResource('123', req); // AddedJob
 * registerTasks(createWorker(highPriority, {}), new Scheduler()); // runs them
 */
export function Task(options: TaskOptions): TaskDecorator {
  const { queue, name, ...jobOptions } = options;
  return createMethodDecorator('Task', (method: AnyMethod, info: DecoratedMethod) => {
    // Workers run the @Task methods of an instance (registerTasks): a static one's jobs would never run.
    if (info.isStatic) throw new DecoratorTargetError('Task', 'a static method (workers run an instance’s methods)');
    const jobName = () => name ?? `${info.className ?? 'anonymous'}.${info.methodName}`;
    const enqueue: Marked = function (this: unknown, ...args: unknown[]): Promise<AddedJob> {
      // A trailing AbortSignal (the caller's, or one a decorator above put there) cancels the call, and is
      // not job data: JSON would store it as `{}`.
      const signal = args[args.length - 1] instanceof AbortSignal ? (args.pop() as AbortSignal) : undefined;
      if (signal?.aborted) return Promise.reject(abortedError(signal));
      const q = typeof queue === 'function' ? queue() : queue;
      return (q as Queue<TaskData>).add(jobName(), { args }, jobOptions);
    };
    enqueue[TASK] = { method, name: jobName, queue };
    return enqueue;
  }) as TaskDecorator;
}

/** The async methods of `T`, each typed as the enqueue its call performs on a `@Task` method. */
export type TaskCalls<T> = {
  [K in keyof T as T[K] extends AsyncMethod ? K : never]: T[K] extends (...args: infer A) => PromiseLike<unknown>
    ? (...args: A) => Promise<AddedJob>
    : never;
};

/**
 * The `@Task` methods of `instance` as enqueue calls, typed by each method's parameters and resolving to the
 * `AddedJob`: `await enqueue(scheduler).scheduleMedicalResource('123', req)`. A method that is not a `@Task`
 * method rejects with `NotATaskError`.
 */
export function enqueue<T extends object>(instance: T): TaskCalls<T> {
  return new Proxy({} as TaskCalls<T>, {
    get(_target, key) {
      if (typeof key === 'symbol' || key === 'then') return undefined; // not a thenable, not an iterable
      const value: unknown = (instance as Record<string | symbol, unknown>)[key];
      if (typeof value === 'function' && (value as Marked)[TASK]) {
        return (...args: unknown[]) => (value as AnyMethod).apply(instance, args) as Promise<AddedJob>;
      }
      const where = `${instance.constructor?.name ?? 'object'}.${String(key)}`;
      return () => Promise.reject(new NotATaskError(where));
    },
  });
}

/** What `@Task` marked on a method (as found on a prototype), for registrars other than `registerTasks`. */
export interface TaskMarkInfo {
  /** The job name. */
  name: string;
  /** The queue option as given: a queue or a function returning it. */
  queue: TaskOptions['queue'];
  /** Runs the original (undecorated) method on `instance` with a job's arguments. */
  run(instance: object, args: readonly unknown[]): unknown;
}

/** The `@Task` mark of a method, or `undefined` when it is not a task (the NestJS explorer reads it). */
export function taskMark(method: unknown): TaskMarkInfo | undefined {
  const mark = typeof method === 'function' ? (method as Marked)[TASK] : undefined;
  if (!mark) return undefined;
  return {
    name: mark.name(),
    queue: mark.queue,
    run: (instance, args) => mark.method.apply(instance, args as unknown[]),
  };
}

/** The `@Task` methods of `instance` (its class and base classes) as handlers by job name, bound to it. */
export function taskHandlers(instance: object): Record<string, (job: { data: TaskData }) => unknown> {
  const handlers: Record<string, (job: { data: TaskData }) => unknown> = {};
  const seen = new Set<string | symbol>();
  for (let p = Object.getPrototypeOf(instance); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const key of Reflect.ownKeys(p)) {
      if (seen.has(key) || key === 'constructor') continue;
      seen.add(key);
      const mark = (Object.getOwnPropertyDescriptor(p, key)?.value as Marked | undefined)?.[TASK];
      if (mark) handlers[mark.name()] = (job) => mark.method.apply(instance, job.data.args);
    }
  }
  return handlers;
}

/** Registers the `@Task` methods of `instance` on a worker created with named handlers; returns the job names. */
export function registerTasks(worker: Worker, instance: object): string[] {
  const handlers = taskHandlers(instance);
  const names = Object.keys(handlers);
  if (names.length === 0) throw new NoHandlerError(`(no @Task methods on ${instance.constructor?.name ?? 'object'})`);
  worker.register(handlers as never);
  return names;
}
