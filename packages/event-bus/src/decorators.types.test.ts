// Type-level tests, checked by `tsc --noEmit` of this package. Decorated classes are in
// test/decorator-types.check.ts (standard mode) and test/fixtures/decorators/fixture.ts (both modes).
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from './bus';
import { type EventOf, OnEvent, type TypedOnEventDecorator, typedOnEvent } from './decorators';
import type { EventEnvelope } from './envelope';

const events = {
  'order.placed': z.object({ orderId: z.string(), cents: z.number().int() }),
  'order.cancelled': z.object({ orderId: z.string(), reason: z.string().optional() }),
};

describe('typedOnEvent', () => {
  it('types the decorator by the event map: the type names an event, the data is its schema’s output', () => {
    const OnOrderEvent = typedOnEvent<typeof events>();
    expectTypeOf(OnOrderEvent<'order.placed'>)
      .parameter(0)
      .toEqualTypeOf<'order.placed'>();
    expectTypeOf(OnOrderEvent('order.placed')).toEqualTypeOf<
      TypedOnEventDecorator<{ orderId: string; cents: number }, 'order.placed'>
    >();
    // @ts-expect-error not an event of the map
    OnOrderEvent('order.shipped');

    // Decorated classes: test/decorator-types.check.ts (vitest's transform has no standard decorators).
  });

  it('types the decorator by a bus: typedOnEvent(bus) is typedOnEvent of its schemas', () => {
    const bus = createEventBus({ source: 's', events });
    const OnBusEvent = typedOnEvent(bus);
    expectTypeOf(OnBusEvent('order.cancelled')).toEqualTypeOf<
      TypedOnEventDecorator<{ orderId: string; reason?: string | undefined }, 'order.cancelled'>
    >();
    // @ts-expect-error not an event of the bus
    OnBusEvent('order.shipped');
    void bus.close();
  });

  it('EventOf infers a handler’s envelope (data from the schema) from the bus or its schemas', () => {
    const bus = createEventBus({ source: 's', events });
    expectTypeOf<EventOf<typeof bus, 'order.placed'>>().toEqualTypeOf<
      EventEnvelope<{ orderId: string; cents: number }, 'order.placed'>
    >();
    expectTypeOf<EventOf<typeof events, 'order.placed'>['data']>().toEqualTypeOf<{ orderId: string; cents: number }>();
    // @ts-expect-error not an event of the bus
    expectTypeOf<EventOf<typeof bus, 'order.shipped'>>();
    void bus.close();
  });

  it('is OnEvent at run time', () => {
    const marker = Symbol.for('@ballast/event-bus/OnEvent');
    const f = function handler() {};
    const typed = typedOnEvent(events)('order.placed') as unknown as (v: unknown, c: unknown) => unknown;
    const plain = OnEvent('order.placed') as unknown as (v: unknown, c: unknown) => unknown;
    const context = { kind: 'method', name: 'handler', static: false, addInitializer() {} };
    expect((typed(f, context) as Record<symbol, unknown>)[marker]).toEqual(
      (plain(f, context) as Record<symbol, unknown>)[marker],
    );
  });
});
