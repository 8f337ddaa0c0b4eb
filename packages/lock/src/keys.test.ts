import { describe, expect, it } from 'vitest';
import { lockKeys } from './keys';

describe('lock keys: core’s one prefix rule', () => {
  it("prefix 'x' and 'x:' both give x:lock:{resource}:… (never 'x::')", () => {
    for (const prefix of ['x', 'x:']) {
      const k = lockKeys(prefix, 'order:42');
      expect([k.owners, k.expiry, k.fence, k.waiters, k.released]).toEqual([
        'x:lock:{order:42}:owners',
        'x:lock:{order:42}:expiry',
        'x:lock:{order:42}:fence',
        'x:lock:{order:42}:waiters',
        'x:lock:{order:42}:released',
      ]);
    }
  });
});
