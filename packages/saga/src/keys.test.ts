import { describe, expect, it } from 'vitest';
import { partitionKeys } from './keys';

describe('saga keys: core’s one prefix rule', () => {
  it("prefix 'x' and 'x:' both give x:saga:{partition}:… (never 'x::')", () => {
    for (const prefix of ['x', 'x:']) {
      const k = partitionKeys(prefix, 3);
      expect(k.saga('s-1')).toBe('x:saga:{3}:s-1');
      expect(k.sagaPrefix).toBe('x:saga:{3}:');
      expect(k.leasesOf('hd')).toBe('x:saga:{3}:~leases:hd');
      expect(k.dlq).toBe('x:saga:{3}:~saga.compensation.failed');
    }
  });
});
