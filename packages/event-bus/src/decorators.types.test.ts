// Type-level tests, checked by `tsc --noEmit` of this package. Decorated classes are in
// test/decorator-types.check.ts (standard mode) and test/fixtures/decorators/fixture.ts (both modes).
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { OnEvent, type TypedOnEventDecorator, typedOnEvent } from './decorators';

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
