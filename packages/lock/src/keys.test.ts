import { hashSlot } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { lockKeys, slotTag } from './keys';

describe('lock keys: core’s one prefix rule', () => {
  it("prefix 'x' and 'x:' both give x:lock:{resource}:… (never 'x::')", () => {
    for (const prefix of ['x', 'x:']) {
      const k = lockKeys(prefix, 'order:42');
      expect([k.owners, k.expiry, k.fence, k.queue, k.queueInfo, k.waiters, k.released, k.counter]).toEqual([
        'x:lock:{order:42}:owners',
        'x:lock:{order:42}:expiry',
        'x:lock:{order:42}:fence',
        'x:lock:{order:42}:queue',
        'x:lock:{order:42}:queue-info',
        'x:lock:{order:42}:waiters',
        'x:lock:{order:42}:released',
        'x:lock:fences',
      ]);
    }
  });

  it('per slot (Cluster), the fencing counter shares the resource’s slot: one counter per slot, not per key', () => {
    for (const resource of ['a', 'order:42', 'user:7', 'é']) {
      const k = lockKeys('x', resource, { perSlot: true });
      expect(hashSlot(k.counter)).toBe(hashSlot(k.owners));
      expect(k.counter).toBe(`x:lock:fences:{${slotTag(hashSlot(k.owners))}}`);
    }
  });
});
