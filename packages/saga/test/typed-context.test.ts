/** §7: class-form sagas get a typed context: inferred from the step methods, without `Record<string, unknown>`. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createOrchestrator, Saga, type SagaDefinition, Step, sagaOf } from '../src/index';

interface Booking {
  userId: string;
  bookingId?: string;
}

class BookTrip {
  async book(ctx: Readonly<Booking>) {
    return { bookingId: `b-${ctx.userId}` };
  }
  async cancel(_ctx: Readonly<Booking>) {}
}
// Applied by hand (legacy call shape): this file is not compiled with decorators.
Step({ compensate: 'cancel' })(
  BookTrip.prototype,
  'book',
  Object.getOwnPropertyDescriptor(BookTrip.prototype, 'book')!,
);
Saga('book-trip')(BookTrip);

class Untyped {
  async a() {}
}
Step()(Untyped.prototype, 'a', Object.getOwnPropertyDescriptor(Untyped.prototype, 'a')!);
Saga('untyped')(Untyped);

describe('sagaOf typed context', () => {
  it('infers the context from the step methods; run checks the input against it', async () => {
    const def = sagaOf(new BookTrip());
    expectTypeOf(def).toEqualTypeOf<SagaDefinition<Booking>>();
    expectTypeOf(sagaOf(new Untyped())).toEqualTypeOf<SagaDefinition<Record<string, unknown>>>();
    expectTypeOf(sagaOf<{ n: number }>(new Untyped())).toEqualTypeOf<SagaDefinition<{ n: number }>>();
    const orch = createOrchestrator({ sweepIntervalMs: 0 });
    // @ts-expect-error userId is required by the class's context
    await orch.run(def, { bookingId: 'x' }).catch(() => {});
    const out = await orch.run(def, { userId: 'u1' });
    expectTypeOf(out).toEqualTypeOf<Booking>();
    expect(out).toEqual({ userId: 'u1', bookingId: 'b-u1' });
    await orch.close();
  });
});
