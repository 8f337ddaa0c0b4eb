import { createMethodDecorator, type DualMethodDecorator } from '@ballast/core';
import {
  defineSaga,
  type ParallelGroup,
  parallel,
  type RecoveryPolicy,
  type SagaDefinition,
  type SagaUnit,
  type StepDefinition,
  type StepRetry,
} from './definition';
import { InvalidSagaError } from './errors';

const SAGA = Symbol.for('@ballast/saga/Saga');
const STEP = Symbol.for('@ballast/saga/Step');

export interface SagaClassOptions {
  recovery?: RecoveryPolicy;
  /** The definition version (see `defineSaga`); default 1. */
  version?: number;
}

export interface StepOptions {
  /** Step name (default: the method's name). */
  name?: string;
  /** Name of the method of the same class that undoes this step. */
  compensate?: string;
  timeoutMs?: number;
  retry?: StepRetry;
  /** Consecutive steps with the same `parallel` label form one parallel group of that name. */
  parallel?: string;
}

interface StepTag {
  method: string;
  options: StepOptions;
}

/**
 * Marks a class as a saga named `name`; its `@Step` methods, in declaration order, are the steps. Turn an
 * instance into a definition with `sagaOf(instance)`. Works as a TS 5 standard and a legacy decorator.
 */
export function Saga(name: string, options: SagaClassOptions = {}) {
  // biome-ignore lint/suspicious/noExplicitAny: decorates any class
  return function sagaDecorator<T extends abstract new (...args: any[]) => object>(target: T, _context?: unknown): T {
    if (typeof target !== 'function') throw new InvalidSagaError(name, '@Saga decorates classes only');
    Object.defineProperty(target, SAGA, { value: { name, options }, configurable: true });
    return target;
  };
}

/** The `@Saga` mark of a class (name and options), or `undefined`; the NestJS explorer reads it. */
export function sagaMark(target: unknown): { name: string; options: SagaClassOptions } | undefined {
  return typeof target === 'function'
    ? (target as { [SAGA]?: { name: string; options: SagaClassOptions } })[SAGA]
    : undefined;
}

/**
 * Marks a method as a saga step; `compensate` names the method that undoes it.
 *
 * @example
 * @Saga('health-data')
 * class HealthData {
 *   @Step({ compensate: 'deleteHealthData' })
 *   async saveHealthData(ctx: Ctx) { return { recordId: await api.save(ctx) }; }
 *   async deleteHealthData(ctx: Ctx) { await api.delete(ctx.recordId); }
 * }
 * await orchestrator.run(sagaOf(new HealthData()), input);
 */
export function Step(options: StepOptions = {}): DualMethodDecorator {
  return createMethodDecorator('Step', (method, info) => {
    if (info.isStatic) throw new InvalidSagaError(info.methodName, '@Step decorates instance methods only');
    const tag: StepTag = { method: info.methodName, options };
    Object.defineProperty(method, STEP, { value: tag, configurable: true });
    return method;
  });
}

const cache = new WeakMap<object, SagaDefinition<unknown>>();

type UnionToIntersection<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void ? I : never;
/** First parameter of each method of `I` that takes one (typed: `unknown` ones are left out). */
type MethodContexts<I> = {
  // biome-ignore lint/suspicious/noExplicitAny: any method shape
  [K in keyof I]: I[K] extends (ctx: infer X, ...rest: any[]) => unknown ? (unknown extends X ? never : X) : never;
}[keyof I];

/**
 * The context type of a `@Saga` class, inferred from its methods' first parameter (the steps' and
 * compensations' `ctx`); `Record<string, unknown>` when none is typed. Give it explicitly with `sagaOf<Ctx>(…)`
 * when the class has methods of other shapes.
 */
export type SagaContextOf<I> = [MethodContexts<I>] extends [never]
  ? Record<string, unknown>
  : UnionToIntersection<MethodContexts<I>> extends Readonly<infer C>
    ? C
    : never;

/**
 * The saga definition of an instance of a `@Saga` class (built once per instance, bound to it), typed with the
 * context its step methods take (`SagaContextOf`), or `C` when given.
 */
export function sagaOf<C = never, I extends object = object>(
  instance: I,
): SagaDefinition<[C] extends [never] ? SagaContextOf<I> : C>;
export function sagaOf<C>(instance: object): SagaDefinition<C> {
  const cached = cache.get(instance);
  if (cached) return cached as SagaDefinition<C>;
  const ctor = (instance as { constructor?: unknown }).constructor as
    | { [SAGA]?: { name: string; options: SagaClassOptions }; name?: string }
    | undefined;
  const meta = ctor?.[SAGA];
  if (!meta) throw new InvalidSagaError(String(ctor?.name), 'class is not decorated with @Saga');
  const protos: object[] = [];
  for (let p = Object.getPrototypeOf(instance); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    protos.unshift(p);
  }
  const target = instance as Record<string, (...args: unknown[]) => unknown>;
  const units: SagaUnit<C>[] = [];
  let group: { name: string; steps: StepDefinition<C>[] } | undefined;
  const flush = () => {
    if (group) units.push(parallel(group.steps, { name: group.name }) as ParallelGroup<C>);
    group = undefined;
  };
  const seen = new Set<string>();
  for (const proto of protos) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const fn: unknown = Object.getOwnPropertyDescriptor(proto, key)?.value;
      const tag = typeof fn === 'function' ? (fn as { [STEP]?: StepTag })[STEP] : undefined;
      if (!tag || seen.has(key)) continue;
      seen.add(key);
      const o = tag.options;
      const undo = o.compensate;
      if (undo !== undefined && typeof target[undo] !== 'function') {
        throw new InvalidSagaError(meta.name, `@Step ${key}: compensate method "${undo}" does not exist`);
      }
      const step: StepDefinition<C> = {
        name: o.name ?? key,
        run: (c, i) => target[key]!.call(instance, c, i) as Partial<C>,
        ...(undo !== undefined ? { compensate: (c, i) => target[undo]!.call(instance, c, i) } : {}),
        ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
        ...(o.retry !== undefined ? { retry: o.retry } : {}),
      };
      if (o.parallel !== undefined) {
        if (group?.name !== o.parallel) flush();
        group ??= { name: o.parallel, steps: [] };
        group.steps.push(step);
      } else {
        flush();
        units.push(step);
      }
    }
  }
  flush();
  const def = defineSaga<C>(
    { name: meta.name, version: meta.options.version ?? 1 },
    {
      steps: units,
      ...(meta.options.recovery ? { recovery: meta.options.recovery } : {}),
    },
  );
  cache.set(instance, def as SagaDefinition<unknown>);
  return def;
}
