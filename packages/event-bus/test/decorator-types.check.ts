// Type-level checks of the typed decorators under TS 5 standard decorators, by `tsc --noEmit` of this package
// (never run: vitest's transform has no standard decorators). An unused @ts-expect-error fails the typecheck.

import { z } from 'zod';
import { type EventEnvelope, type HandlerContext, typedOnEvent } from '../src/index';

const events = {
  'order.placed': z.object({ orderId: z.string(), cents: z.number().int() }),
  'order.cancelled': z.object({ orderId: z.string(), reason: z.string().optional() }),
};
const OnOrderEvent = typedOnEvent(events);

export class Orders {
  @OnOrderEvent('order.placed')
  placed(event: EventEnvelope<{ orderId: string; cents: number }, 'order.placed'>, ctx: HandlerContext) {
    return event.data.cents + ctx.deliveries;
  }

  @OnOrderEvent('order.cancelled')
  async cancelled(event: EventEnvelope<{ orderId: string }>, _ctx: HandlerContext, _signal?: AbortSignal) {
    return event.data.orderId;
  }

  // @ts-expect-error order.cancelled has no `cents`
  @OnOrderEvent('order.cancelled')
  wrong(event: EventEnvelope<{ cents: number }>) {
    return event.data.cents;
  }

  // @ts-expect-error not an event of the map
  @OnOrderEvent('order.shipped')
  unknown(_event: EventEnvelope) {}
}
