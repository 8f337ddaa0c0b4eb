import { onEventMarks } from '@ballast/event-bus';
import { type Queue, type TaskData, type TaskMarkInfo, taskMark } from '@ballast/queue';
import { sagaMark } from '@ballast/saga';
import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { BallastNotConfiguredError } from './errors';
import { BallastResources } from './resources';

/** A subscription to make: an `@OnEvent` method of a provider or controller. */
export interface FoundHandler {
  where: string;
  type: string;
  options: import('@ballast/event-bus').SubscribeOptions;
  call(event: unknown, ctx: unknown): unknown;
}

/** A `@Task` method, its queue resolved among the module's queues. */
export interface FoundTask {
  where: string;
  queue: Queue;
  name: string;
  run(job: { data: TaskData }): unknown;
}

/** What the explorer found on every singleton provider and controller of the application. */
export interface Found {
  handlers: FoundHandler[];
  tasks: FoundTask[];
  sagas: { where: string; instance: object }[];
}

/**
 * Walks the application's providers and controllers (as `@nestjs/bullmq`'s `BullExplorer` does, with
 * `DiscoveryService` + `MetadataScanner`) and collects what Ballast's decorators marked: `@OnEvent` methods,
 * `@Task` methods, `@Saga` classes. Request-scoped and transient providers are skipped: they have no
 * instance to bind a consumer to.
 */
@Injectable()
export class BallastExplorer {
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(BallastResources) private readonly resources: BallastResources,
  ) {}

  explore(): Found {
    const found: Found = { handlers: [], tasks: [], sagas: [] };
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    const seen = new Set<object>();
    for (const wrapper of wrappers) {
      if (!wrapper.isDependencyTreeStatic()) {
        this.#warnIfMarked(wrapper.metatype);
        continue;
      }
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || seen.has(instance)) continue;
      seen.add(instance);
      this.#exploreInstance(instance, found);
    }
    return found;
  }

  #exploreInstance(instance: object, found: Found): void {
    const className = instance.constructor?.name ?? 'object';
    const proto = Object.getPrototypeOf(instance) as object | null;
    if (!proto) return;
    const saga = sagaMark(instance.constructor);
    if (saga) {
      if (!this.resources.saga) throw new BallastNotConfiguredError('saga', `@Saga('${saga.name}') ${className}`);
      found.sagas.push({ where: className, instance });
    }
    for (const key of this.scanner.getAllMethodNames(proto)) {
      const method = methodOf(proto, key);
      if (!method) continue;
      const where = `${className}.${key}`;
      for (const mark of onEventMarks(method)) {
        if (!this.resources.bus) throw new BallastNotConfiguredError('eventBus', `@OnEvent('${mark.type}') ${where}`);
        found.handlers.push({
          where,
          type: mark.type,
          options: mark.options,
          call: (event, ctx) => method.call(instance, event, ctx),
        });
      }
      const task = taskMark(method);
      if (task) {
        found.tasks.push({
          where,
          queue: this.#queueOf(task, where),
          name: task.name,
          run: (job) => task.run(instance, job.data.args),
        });
      }
    }
  }

  /** A request-scoped or transient class with Ballast marks: they are not wired, say so once. */
  #warnIfMarked(metatype: unknown): void {
    const proto = typeof metatype === 'function' ? (metatype.prototype as object | undefined) : undefined;
    if (!proto) return;
    const marked = this.scanner.getAllMethodNames(proto).filter((k) => {
      const m = methodOf(proto, k);
      return m !== undefined && (onEventMarks(m).length > 0 || taskMark(m) !== undefined);
    });
    if (marked.length > 0) {
      this.resources.logger.warn(
        { class: (metatype as { name?: string }).name, methods: marked },
        '@OnEvent/@Task methods of a request-scoped or transient provider are not wired (make it a singleton)',
      );
    }
  }

  /** The queue a `@Task` names: `ballastQueue('x')`, a queue instance, or a function returning one. */
  #queueOf(task: TaskMarkInfo, where: string): Queue {
    const q = task.queue as Queue | (() => Queue) | { [QUEUE_NAME]?: string };
    const name = (q as { [QUEUE_NAME]?: string })[QUEUE_NAME];
    if (name !== undefined) return this.resources.queue(name, `@Task ${where}`);
    const queue = typeof q === 'function' ? (q as () => Queue)() : (q as Queue);
    // A queue the module did not create still works: its worker is started and closed like ours.
    return queue;
  }
}

/** The property `ballastQueue(name)` tags its resolver with, so the explorer knows the queue by name. */
export const QUEUE_NAME = Symbol.for('@ballast/nestjs/queueName');

function methodOf(proto: object, key: string): ((...args: unknown[]) => unknown) | undefined {
  for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, key);
    if (d) return typeof d.value === 'function' ? (d.value as (...args: unknown[]) => unknown) : undefined;
  }
  return undefined;
}
