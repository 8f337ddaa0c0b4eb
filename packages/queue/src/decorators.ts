import { type AnyMethod, createMethodDecorator, type DecoratedMethod, type DualMethodDecorator } from '@ballast/core';
import { NoHandlerError } from './errors';
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

/**
 * Seed 002's `@async_task(queue=…, priority=…)`: calling the method enqueues a job with the call's arguments
 * and returns `Promise<AddedJob>` (declare the method's return type accordingly, e.g. `Promise<unknown>`);
 * `registerTasks(worker, instance)` makes a worker run the original method for those jobs. Works as a TS 5
 * standard and a legacy (NestJS) decorator.
 *
 * @example
 * class Scheduler {
 *   @Task({ queue: highPriority, priority: 'high' })
 *   async scheduleMedicalResource(userId: string, requirements: Requirements): Promise<unknown> { … }
 * }
 * await new Scheduler().scheduleMedicalResource('123', req); // enqueued
 * registerTasks(createWorker(highPriority, {}), new Scheduler()); // runs them
 */
export function Task(options: TaskOptions): DualMethodDecorator {
  const { queue, name, ...jobOptions } = options;
  return createMethodDecorator('Task', (method: AnyMethod, info: DecoratedMethod) => {
    const jobName = () => name ?? `${info.className ?? 'anonymous'}.${info.methodName}`;
    const enqueue: Marked = function (this: unknown, ...args: unknown[]): Promise<AddedJob> {
      const q = typeof queue === 'function' ? queue() : queue;
      return (q as Queue<TaskData>).add(jobName(), { args }, jobOptions);
    };
    enqueue[TASK] = { method, name: jobName, queue };
    return enqueue;
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
