import { type AnyMethod, createMethodDecorator, DecoratorTargetError, type DualMethodDecorator } from '@ballast/core';
import type { z } from 'zod';
import type { EventBus, EventSchemas } from './bus';
import type { EventEnvelope } from './envelope';
import type { HandlerContext } from './handler';
import type { SubscribeOptions } from './options';
import type { Subscription } from './subscription';

const ON_EVENT = Symbol.for('@ballast/event-bus/OnEvent');

interface Registration {
  type: string;
  options: SubscribeOptions;
}

type Marked = AnyMethod & { [ON_EVENT]?: Registration[] };

/**
 * Marks a method as the handler of an event type; `bus.registerHandlers(instance)` (or
 * `registerHandlers(bus, instance)`) subscribes it. Works as a TS 5 standard and a legacy (NestJS) decorator.
 *
 * @example
 * class Welcome {
 *   @OnEvent('user.registered', { group: 'welcome-mails' })
 *   async send(event: EventEnvelope<{ email: string }>) { … }
 * }
 * await registerHandlers(bus, new Welcome());
 */
export function OnEvent(type: string, options: SubscribeOptions = {}): DualMethodDecorator {
  return createMethodDecorator('OnEvent', (method: Marked, info) => {
    // registerHandlers subscribes the methods of an instance: a static handler would never be subscribed.
    if (info.isStatic) {
      throw new DecoratorTargetError('OnEvent', 'a static method (registerHandlers subscribes an instance’s methods)');
    }
    const marked: Marked = function (this: unknown, ...args: unknown[]) {
      return method.apply(this, args);
    };
    marked[ON_EVENT] = [...(method[ON_EVENT] ?? []), { type, options }];
    return marked;
  });
}

/**
 * `@OnEvent` typed by an event map: the method must accept the envelope of that event's data (checked by the
 * compiler in both decorator modes). Returned by `typedOnEvent`.
 */
export interface TypedOnEventDecorator<T, K extends string> {
  <This, M extends (this: This, event: EventEnvelope<T, K>, context: HandlerContext) => unknown>(
    value: M,
    context: ClassMethodDecoratorContext<This, M>,
  ): M;
  <M extends (event: EventEnvelope<T, K>, context: HandlerContext) => unknown>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): TypedPropertyDescriptor<M>;
}

/** The schemas of an event map, or of the bus made with it. */
type SchemasOf<S> = S extends EventBus<infer E> ? E : S extends EventSchemas ? S : never;

/**
 * The envelope a handler of event `K` receives, from the bus (or its schemas): `data` is the schema's output, so
 * a handler never restates it. `EventOf<typeof bus, 'order.placed'>`.
 */
export type EventOf<
  S extends EventSchemas | EventBus<EventSchemas>,
  K extends keyof SchemasOf<S> & string,
> = EventEnvelope<z.output<SchemasOf<S>[K]>, K>;

/**
 * `OnEvent` bound to a bus's event schemas, for the compiler only (the same decorator at run time): the event
 * type must be one of the map's, and the method must take that event's envelope. Pass the bus, or the schemas
 * object it is created with, or name its type; `EventOf` names the envelope a method takes.
 *
 * @example
 * const OnHealthEvent = typedOnEvent(bus); // or typedOnEvent(healthPlatformEvents), typedOnEvent<typeof healthPlatformEvents>()
 * class Welcome {
 *   @OnHealthEvent('user.registered')
 *   async send(event: EventOf<typeof bus, 'user.registered'>) { … } // event.data: { email, username, … }
 * }
 */
export function typedOnEvent<S extends EventSchemas | EventBus<EventSchemas>>(
  _schemasOrBus?: S,
): <K extends keyof SchemasOf<S> & string>(
  type: K,
  options?: SubscribeOptions,
) => TypedOnEventDecorator<z.output<SchemasOf<S>[K]>, K> {
  return (type, options) => OnEvent(type, options) as never;
}

/**
 * The `@OnEvent` marks of a method (as found on a prototype), for registrars other than `registerHandlers`
 * (the NestJS explorer): the event types and subscribe options; empty when it is not a handler.
 */
export function onEventMarks(method: unknown): readonly { type: string; options: SubscribeOptions }[] {
  return typeof method === 'function' ? ((method as Marked)[ON_EVENT] ?? []) : [];
}

/** Subscribes every `@OnEvent` method of `instance` (its class and base classes), bound to it. */
export async function registerHandlers<E extends EventSchemas>(
  bus: EventBus<E>,
  instance: object,
): Promise<Subscription[]> {
  const subs: Subscription[] = [];
  const seen = new Set<string | symbol>();
  for (
    let proto = Object.getPrototypeOf(instance);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Reflect.ownKeys(proto)) {
      if (seen.has(key) || key === 'constructor') continue;
      seen.add(key);
      const value = Object.getOwnPropertyDescriptor(proto, key)?.value as Marked | undefined;
      for (const r of value?.[ON_EVENT] ?? []) {
        subs.push(
          await bus.subscribe(r.type as keyof E & string, (event, ctx) => value!.call(instance, event, ctx), r.options),
        );
      }
    }
  }
  return subs;
}
