import { DecoratorTargetError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { OnEvent } from './decorators';

type Legacy = (target: object, key: string, d: PropertyDescriptor) => PropertyDescriptor;

describe('@OnEvent on a static method', () => {
  it('is refused where it is written: registerHandlers subscribes an instance’s methods, so it would never run', () => {
    class Handlers {
      static async onPlaced(): Promise<void> {}
      run(): void {}
    }
    const d = Object.getOwnPropertyDescriptor(Handlers, 'onPlaced')!;
    const apply = () => (OnEvent('order.placed') as unknown as Legacy)(Handlers, 'onPlaced', d);
    expect(apply).toThrow(DecoratorTargetError);
    expect(apply).toThrow(/static method/);
  });

  it('an instance method is still marked', () => {
    class Handlers {
      async onPlaced(): Promise<void> {}
    }
    const d = Object.getOwnPropertyDescriptor(Handlers.prototype, 'onPlaced')!;
    const out = (OnEvent('order.placed') as unknown as Legacy)(Handlers.prototype, 'onPlaced', d);
    expect((out.value as Record<symbol, unknown>)[Symbol.for('@ballast/event-bus/OnEvent')]).toHaveLength(1);
  });
});
