/**
 * `@Task(name)`: marks a method as the handler of queue jobs named `name` (seed 002's `@async_task`).
 * @ballast/queue had no decorator when this example was written, so this is the smallest honest sugar over
 * its plain API: the marked methods become a `Handlers` map for `createWorker(queue, handlers)`; the job's
 * data is the method's first argument (so `@WithLock('user:{userId}')` beneath it reads `data.userId`).
 * Built on core's createMethodDecorator, so it works with standard and legacy decorators alike.
 */
import { createMethodDecorator } from '@ballast/core';
import type { Handlers, Job } from '@ballast/queue';

const TASK = Symbol('ballast.task');
type Marked = ((...args: unknown[]) => unknown) & { [TASK]?: string };

export function Task(name: string) {
  return createMethodDecorator('Task', (method) => {
    const marked: Marked = function (this: unknown, ...args: unknown[]) {
      return method.apply(this, args);
    };
    marked[TASK] = name;
    return marked;
  });
}

/** The `@Task` methods of `instance` (its class and base classes) as worker handlers, bound to it. */
export function taskHandlers(instance: object, onStart?: (job: Job<unknown>) => void): Handlers {
  const handlers: Handlers = {};
  for (
    let proto = Object.getPrototypeOf(instance);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const fn = Object.getOwnPropertyDescriptor(proto, key)?.value as Marked | undefined;
      const name = typeof fn === 'function' ? fn[TASK] : undefined;
      if (!name || handlers[name]) continue;
      handlers[name] = ((job: Job<unknown>, signal: AbortSignal) => {
        onStart?.(job);
        return fn!.call(instance, job.data, { job, signal });
      }) as Handlers[string];
    }
  }
  return handlers;
}
